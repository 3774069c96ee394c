"""The sandbox's HTTP server: the Kubernetes API on loopback, with the cluster's clock running.

Requests are read with a timeout and a body limit, answered by `svclab.sandbox.api.Api`, and
watches are streamed as chunked JSON lines. A background thread advances the cluster's virtual
clock with real time (times a speed factor), so rollouts progress while a client watches.

>>> import http.client, json
>>> with Sandbox(speed=0) as box:
...     connection = http.client.HTTPConnection("127.0.0.1", box.port)
...     connection.request("GET", "/api/v1/namespaces/default/services")
...     names = [s["metadata"]["name"] for s in json.load(connection.getresponse())["items"]]
...     connection.close()
>>> names
['kubernetes']
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import kubernetes.client

from svclab.cluster import Cluster
from svclab.sandbox import status
from svclab.sandbox.api import Api, Request, Response, bootstrap_namespaces
from svclab.sandbox.kubeconfig import write_kubeconfig
from svclab.sandbox.status import ApiError
from svclab.sandbox.store import DEFAULT_HISTORY, Store

log = logging.getLogger("svclab.sandbox")

MAX_BODY_BYTES = 3 * 1024 * 1024
"""The API server's default ``--max-request-body-bytes`` limit for JSON bodies (3 MiB)."""


class _HttpServer(ThreadingHTTPServer):
    """One thread per connection, at most `max_connections` at once; stop() closes them all."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        api: Api,
        *,
        read_timeout: float,
        max_body: int,
        max_connections: int,
    ) -> None:
        self.api, self.read_timeout, self.max_body = api, read_timeout, max_body
        self.max_connections = max_connections
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            full = len(self._open) >= self.max_connections
            if not full:
                self._open.add(request)
        if full:
            _refuse(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection that broke (client reset, server stopping) is routine: no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            log.debug("connection from %s ended: %s", client_address, error)
        else:
            log.error("error serving %s", client_address, exc_info=error)

    def close_connections(self) -> None:
        """Unblock every connection thread (reads and writes fail at once)."""
        with self._open_lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _refuse(sock: socket.socket) -> None:
    body = json.dumps(
        ApiError(429, "TooManyRequests", "too many open connections to the sandbox").status()
    ).encode()
    head = f"HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with contextlib.suppress(OSError):
        sock.sendall(head.encode() + body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer

    def setup(self) -> None:
        self.timeout = self.server.read_timeout  # a slow or silent client is dropped
        super().setup()
        # Headers and body go out as separate writes; without TCP_NODELAY (Go's default) the
        # client's delayed ACK stalls every response by 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = self._read_body(headers)
        except ApiError as error:
            self.close_connection = True  # the unread body makes the connection unusable
            self._send(Response(error.code, error.status()))
            return
        response = self.server.api.handle(
            Request(self.command, unquote(url.path), query, headers, body)
        )
        if response.events is None:
            self._send(response)
        else:
            self._stream(response, response.events)

    def _read_body(self, headers: dict[str, str]) -> bytes:
        limit = self.server.max_body
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(limit)
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise status.bad_request("invalid Content-Length") from None
        if length < 0:
            raise status.bad_request("invalid Content-Length")
        if length > limit:
            raise status.entity_too_large(limit)
        return self.rfile.read(length)

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise status.bad_request("malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return bytes(body)
            if len(body) + size > limit:
                raise status.entity_too_large(limit)
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def _send(self, response: Response) -> None:
        data = json.dumps(response.body).encode() if response.body is not None else b""
        self.send_response(response.code)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in response.headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, response: Response, events: Iterator[dict[str, Any] | None]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        try:
            for event in events:
                if event is None:
                    if self._client_gone():
                        break
                    continue
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
            else:
                self.wfile.write(b"0\r\n\r\n")
                return
        except OSError:  # the client went away or stopped reading (write timeout)
            pass
        finally:
            if hasattr(events, "close"):
                events.close()
        self.close_connection = True

    def _client_gone(self) -> bool:
        """A watch client has nothing to send; readable means it closed the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
        except OSError:
            return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (bad request line, headers too long, unknown method) as Status."""
        if code == 501:  # an HTTP method no handler exists for
            error = status.method_not_allowed_here()
        else:
            reasons = {408: "Timeout", 414: "RequestURITooLong", 431: "RequestHeaderFieldsTooLarge"}
            error = ApiError(code, reasons.get(code, "BadRequest"), message or "bad request")
        self.close_connection = True
        self.request_version = "HTTP/1.1"  # answer garbage with a status line too (not HTTP/0.9)
        with contextlib.suppress(OSError):
            self._send(Response(error.code, error.status()))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class Sandbox:
    """A `Cluster` served over the Kubernetes REST API on a loopback port, its clock running.

    `speed` is virtual seconds per real second (0 stops the clock; `advance` still works).
    """

    def __init__(
        self,
        cluster: Cluster | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        tick: float = 0.1,
        history: int = DEFAULT_HISTORY,
        read_timeout: float = 30.0,
        max_body: int = MAX_BODY_BYTES,
        max_connections: int = 128,
        max_watch_seconds: float = 1800.0,
        bookmark_interval: float = 60.0,
    ) -> None:
        self.store = Store(cluster or Cluster(), history=history)
        self.stopping = threading.Event()
        self.api = Api(
            self.store,
            stopping=self.stopping,
            max_watch_seconds=max_watch_seconds,
            bookmark_interval=bookmark_interval,
        )
        self.host, self.requested_port, self.speed, self.tick = host, port, speed, tick
        self._limits = {
            "read_timeout": read_timeout,
            "max_body": max_body,
            "max_connections": max_connections,
        }
        self._http: _HttpServer | None = None
        self._threads: list[threading.Thread] = []

    @property
    def cluster(self) -> Cluster:
        """The cluster being served (hold `store.lock` while touching it from another thread)."""
        return self.store.cluster

    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._http is None:
            raise RuntimeError("the sandbox is not running")
        return int(self._http.server_address[1])

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Sandbox:
        """Bind, create the bootstrap namespaces, start serving and the clock; return self."""
        bootstrap_namespaces(self.store)
        self._http = _HttpServer((self.host, self.requested_port), self.api, **self._limits)
        self.api.server_address = self.url.removeprefix("http://")
        self._threads = [
            threading.Thread(
                target=self._http.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="svclab-sandbox-http",
                daemon=True,
            ),
            threading.Thread(target=self._run_clock, name="svclab-sandbox-clock", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _run_clock(self) -> None:
        last = time.monotonic()
        while not self.stopping.wait(self.tick):
            now = time.monotonic()
            if self.speed > 0:
                self.store.advance((now - last) * self.speed)
            last = now

    def advance(self, seconds: float) -> None:
        """Move the virtual clock by hand (whatever `speed` is)."""
        self.store.advance(seconds)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving: end watches, close connections, join the threads (bounded)."""
        if self._http is None:
            return
        self.stopping.set()
        self.store.wake()
        self._http.shutdown()
        self._http.close_connections()
        self._http.server_close()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._http = None

    def wait(self) -> None:
        """Block until `stop` is called (from a signal handler, say)."""
        while not self.stopping.wait(0.5):
            pass

    def write_kubeconfig(self, path: str | Path) -> Path:
        """Write a kubeconfig for this server; see `svclab.sandbox.kubeconfig`."""
        return write_kubeconfig(path, self.url)

    def api_client(self) -> kubernetes.client.ApiClient:
        """A `kubernetes.client.ApiClient` configured for this server."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        return kubernetes.client.ApiClient(configuration)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def sandbox(
    manifests: Iterable[str | Path] = (), *, seed: int = 0, **options: Any
) -> Iterator[kubernetes.client.ApiClient]:
    """Serve a cluster made from `manifests` and yield a configured ``ApiClient`` (for notebooks).

    `options` go to `Sandbox` (``speed``, ``port``, ``host`` …). The sandbox itself is the
    client's ``sandbox`` attribute.

    >>> from kubernetes import client
    >>> with sandbox(speed=0) as api:
    ...     [n.metadata.name for n in client.CoreV1Api(api).list_node().items]
    ['node-1']
    """
    cluster = Cluster.from_manifests(list(manifests), seed=seed)
    with Sandbox(cluster, **options) as box, box.api_client() as api:
        api.sandbox = box  # type: ignore[attr-defined]
        yield api
