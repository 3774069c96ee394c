"""A real HTTP server on loopback that routes by the ``Host`` header, as virtual hosts and
ingress controllers do, and the one request a page needs to show it.

>>> with VirtualHosts({"api.payments.example": "payments API"}) as server:
...     print(get(server.address, "api.payments.example"))
...     print(get(server.address, "payments.default.svc.cluster.local"))
200 payments API
404 no virtual host payments.default.svc.cluster.local
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class VirtualHosts:
    """Serve `sites` (host name → body) on ``127.0.0.1`` and an ephemeral port; 404 for any
    other ``Host``. Use as a context manager; `address` is (host, port)."""

    def __init__(self, sites: Mapping[str, str], host: str = "127.0.0.1") -> None:
        sites = {name.lower(): body for name, body in sites.items()}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                found = name in sites
                body = (sites[name] if found else f"no virtual host {name}").encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self.address: tuple[str, int] = self._server.server_address[:2]  # type: ignore[assignment]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> VirtualHosts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def get(address: tuple[str, int], host: str, path: str = "/") -> str:
    """GET `path` from `address` with ``Host: host``, as a client that resolved `host` to
    `address` sends it; returns ``"<status> <body>"``."""
    connection = http.client.HTTPConnection(*address, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return f"{response.status} {response.read().decode()}"
    finally:
        connection.close()
