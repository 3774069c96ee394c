"""The sandbox API server's request rate and watch latency, against the bare HTTP stack.

Rows: requests per second for ``GET`` of a Service list (keep-alive, one client) against the
same bytes served by a handler that does nothing else on the same ``http.server`` stack; and
the delay from a Service create to its watch event against the create's own round trip.

>>> rows = run(quick=True)
>>> [row["measure"] for row in rows]
['list services (req/s)', 'watch event after create (ms, median)']
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from svclab.cluster import Cluster
from svclab.sandbox import Sandbox

LIST = "/api/v1/namespaces/default/services"


def _static_server(body: bytes) -> ThreadingHTTPServer:
    class Static(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the sandbox

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Static)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def _rate(port: int, requests: int) -> float:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    start = time.perf_counter()
    for _ in range(requests):
        connection.request("GET", LIST)
        connection.getresponse().read()
    elapsed = time.perf_counter() - start
    connection.close()
    return requests / elapsed


def _watch_delays(box: Sandbox, creates: int) -> tuple[list[float], list[float]]:
    """(create round trips, create-to-event delays) in milliseconds."""
    watcher = http.client.HTTPConnection("127.0.0.1", box.port, timeout=10)
    rv = json.loads(_get(box.port, LIST))["metadata"]["resourceVersion"]
    watcher.request("GET", f"{LIST}?watch=true&resourceVersion={rv}")
    stream = watcher.getresponse()
    writer = http.client.HTTPConnection("127.0.0.1", box.port, timeout=10)
    trips, delays = [], []
    for i in range(creates):
        body = json.dumps({"metadata": {"name": f"bench-{i}"}, "spec": {"ports": [{"port": 80}]}})
        start = time.perf_counter()
        writer.request("POST", LIST, body, {"Content-Type": "application/json"})
        writer.getresponse().read()
        trips.append((time.perf_counter() - start) * 1000)
        while json.loads(stream.readline())["object"]["metadata"]["name"] != f"bench-{i}":
            pass
        delays.append((time.perf_counter() - start) * 1000)
    writer.close()
    watcher.close()
    return trips, delays


def _get(port: int, path: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    data = connection.getresponse().read()
    connection.close()
    return data


def run(quick: bool = False) -> list[dict]:
    """Measure on a sandbox with 50 Services (clock stopped)."""
    requests, creates = (50, 10) if quick else (2000, 200)
    cluster = Cluster(seed=0)
    for i in range(50):
        cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"s{i}"},
                "spec": {"selector": {"app": f"s{i}"}, "ports": [{"port": 80}]},
            }
        )
    with Sandbox(cluster, speed=0) as box:
        static = _static_server(_get(box.port, LIST))
        try:
            sandbox_rate, static_rate = (
                _rate(box.port, requests),
                _rate(static.server_address[1], requests),
            )
        finally:
            static.shutdown()
            static.server_close()
        trips, delays = _watch_delays(box, creates)
    return [
        {
            "measure": "list services (req/s)",
            "sandbox": round(sandbox_rate),
            "baseline": round(static_rate),
            "baseline is": "same bytes, empty handler",
            "ratio": round(sandbox_rate / static_rate, 3),
        },
        {
            "measure": "watch event after create (ms, median)",
            "sandbox": round(statistics.median(delays), 2),
            "baseline": round(statistics.median(trips), 2),
            "baseline is": "the create's round trip",
            "ratio": round(statistics.median(delays) / statistics.median(trips), 3),
        },
    ]


def main() -> None:
    """Print the table (``--quick`` for a short run)."""
    from svclab.report.tables import format_table

    print(format_table(run(quick="--quick" in sys.argv[1:])))


if __name__ == "__main__":
    main()
