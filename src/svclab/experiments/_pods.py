"""Real HTTP Pods on loopback for the experiments' real runs, and a small HTTP client.

Each Pod is an asyncio server on its own 127.x address (every 127/8 address is local on
Linux), all on one port, in one event loop on a background thread. A Pod answers every
HTTP/1.1 request with its number, keeps connections alive, and can be started and stopped
while clients run: stopping closes the listener and aborts open connections, as a Pod's
process exiting does.

>>> with PodServers() as pods:
...     pods.start(0, "127.77.0.10")
...     with HttpClient() as client:
...         first = client.get("127.77.0.10", pods.port)
...         again = client.get("127.77.0.10", pods.port)  # same kept connection
...     pods.stop(0)
...     gone = HttpClient().get("127.77.0.10", pods.port)
Traceback (most recent call last):
...
ConnectionRefusedError: [Errno 111] Connection refused
>>> first, again
(0, 0)
"""

from __future__ import annotations

import asyncio
import socket

from svclab.aio import LoopThread

TIMEOUT = 2.0
"""Seconds a client waits for a connection or a reply (loopback answers in microseconds)."""

_REQUEST = b"GET / HTTP/1.1\r\nHost: web\r\n\r\n"


class _Pod(asyncio.Protocol):
    """Answers each request on a connection with the Pod's number."""

    def __init__(self, server: PodServers, number: int) -> None:
        self.server, self.number = server, number
        body = str(number).encode()
        self.reply = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.server.open.setdefault(self.number, set()).add(transport)
        self.buffer = b""

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.open.get(self.number, set()).discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.transport.write(self.reply * count)  # type: ignore[attr-defined]
            self.buffer = self.buffer[self.buffer.rindex(b"\r\n\r\n") + 4 :]


class PodServers:
    """Pods numbered 0, 1, … each listening on ``ip:port`` (one port for all, found free)."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.open: dict[int, set[asyncio.BaseTransport]] = {}
        self._servers: dict[int, asyncio.Server] = {}
        self._loop_thread = LoopThread("svclab-pods")

    def __enter__(self) -> PodServers:
        self._loop_thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for number in list(self._servers):
            self.stop(number)
        self._loop_thread.stop(TIMEOUT)

    def start(self, number: int, ip: str) -> None:
        """Pod `number` starts answering on `ip` (the first start picks the shared port)."""

        async def listen() -> asyncio.Server:
            return await asyncio.get_running_loop().create_server(
                lambda: _Pod(self, number), ip, self.port, reuse_address=True, backlog=512
            )

        server = self._loop_thread.run(listen(), TIMEOUT)
        self.port = server.sockets[0].getsockname()[1]
        self._servers[number] = server

    def stop(self, number: int) -> None:
        """Pod `number` exits: its listener closes and its open connections are reset."""
        server = self._servers.pop(number)

        async def close() -> None:
            server.close()
            for transport in list(self.open.pop(number, ())):
                transport.abort()  # type: ignore[attr-defined]
            await server.wait_closed()

        self._loop_thread.run(close(), TIMEOUT)


class HttpClient:
    """One client's HTTP/1.1 connection, kept between requests until it breaks or is closed."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.peer: tuple[str, int] | None = None

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the kept connection, if any."""
        if self.sock is not None:
            self.sock.close()
        self.sock = self.peer = None

    def connect(self, ip: str, port: int) -> None:
        """Open a new connection (closing any kept one); refused or timed out raises OSError."""
        self.close()
        sock = socket.create_connection((ip, port), timeout=TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.peer = sock, (ip, port)

    def request(self) -> int:
        """Send one request on the kept connection; the number of the Pod that answered.

        A reset or closed connection raises OSError and is dropped.
        """
        if self.sock is None:
            raise ConnectionError("not connected")
        try:
            self.sock.sendall(_REQUEST)
            return _read_reply(self.sock)
        except OSError:
            self.close()
            raise

    def get(self, ip: str, port: int) -> int:
        """A request to ``ip:port``, reusing the kept connection when it goes there."""
        if self.peer != (ip, port):
            self.connect(ip, port)
        return self.request()


def _read_reply(sock: socket.socket) -> int:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionResetError("connection closed before the reply")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionResetError("connection closed inside the reply")
        body += chunk
    return int(body[:length])
