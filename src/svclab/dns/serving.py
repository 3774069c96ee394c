"""A DNS server skeleton: UDP and TCP on one port, an asyncio loop in a background thread,
a query log and counters. Subclasses say how to answer one packet.

It starts and stops cleanly from a script, a test or a notebook (whose own event loop is
left alone), and a packet that makes the answering code fail is counted, never fatal.

>>> class Echo(LoopbackServer):
...     def respond(self, data, tcp, client):
...         return data[:2] + bytes([0x81, 0x85]) + bytes(8)  # REFUSED, no sections
>>> import dns.message, dns.query
>>> with Echo() as srv:
...     reply = dns.query.udp(dns.message.make_query("x.", "A"), srv.host, port=srv.port, timeout=2)
>>> dns.rcode.to_text(reply.rcode()), srv.host
('REFUSED', '127.0.0.1')
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, NamedTuple, Self, TypeVar

import dns.rcode
import dns.rdatatype

from svclab.aio import LoopThread
from svclab.dns import wire
from svclab.errors import SvclabError

T = TypeVar("T")

UDP_RECEIVE_BUFFER = 4 << 20
"""Room for bursts (dnsperf keeps 100 queries in flight) so the kernel drops none."""


MALFORMED = "<malformed>"
"""The name counted for queries answered FORMERR or NOTIMP before a question was read."""


class LoggedQuery(NamedTuple):
    """One line of a server's query log."""

    time: float
    client: str
    transport: str
    name: str
    type: str
    rcode: str
    truncated: bool


@dataclass
class Counters:
    """A snapshot of what a server has answered."""

    queries: int
    by_name: dict[str, int]
    by_type: dict[str, int]
    by_client: dict[str, int]
    by_rcode: dict[str, int]
    by_transport: dict[str, int]
    truncated: int
    dropped: int
    errors: int

    def summary(self) -> str:
        """One line for humans (the CLI prints it on exit)."""
        rcodes = ", ".join(f"{k} {v}" for k, v in sorted(self.by_rcode.items()))
        transports = ", ".join(f"{k} {v}" for k, v in sorted(self.by_transport.items()))
        return (
            f"{self.queries} queries ({transports or 'none'}); {rcodes or 'no answers'}; "
            f"{self.truncated} truncated, {self.dropped} dropped, {self.errors} errors"
        )


class LoopbackServer:
    """Serve DNS on `host`:`port` (UDP and TCP, port 0 picks a free one) until stopped."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        use_uvloop: bool = False,
        log_size: int = 10_000,
        tcp_idle_timeout: float = 10.0,
    ) -> None:
        try:
            self._family = (
                socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
            )
        except ValueError:
            raise SvclabError(f"--listen: not an IP address: {host!r}") from None
        if not 0 <= port <= 65535:
            raise SvclabError(f"--listen: port must be 0-65535, got {port}")
        self.host, self.port = host, port
        self.use_uvloop = use_uvloop
        self.tcp_idle_timeout = tcp_idle_timeout
        self._loop_thread: LoopThread | None = None
        self._closers: list[Callable[[], None]] = []
        self._tcp_transports: set[asyncio.Transport] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._log: collections.deque[tuple] = collections.deque(maxlen=log_size)
        self._reset_counters()

    # -- subclass interface -------------------------------------------------------------
    def respond(
        self, data: bytes, tcp: bool, client: tuple
    ) -> bytes | Awaitable[bytes | None] | None:
        """The response to one packet, None to drop it, or an awaitable of either."""
        raise NotImplementedError

    def parse(
        self, data: bytes, tcp: bool, client: tuple
    ) -> tuple[wire.Query | None, bytes | None]:
        """The query in `data`; or no query and what to answer (an error reply, or None to drop)."""
        try:
            return wire.parse_query(data), None
        except wire.Dropped:
            self.dropped += 1
            return None, None
        except wire.Rejected as rejected:
            self.note(MALFORMED, 0, rejected.rcode, client, tcp, False)
            return None, wire.error_response(data, rejected.rcode)

    def note(self, name: str, qtype: int, rcode: int, client: tuple, tcp: bool, tc: bool) -> None:
        """Count one answered query and log it (called by `respond` implementations)."""
        self.queries += 1
        self._by_name[name] = self._by_name.get(name, 0) + 1
        self._by_type[qtype] = self._by_type.get(qtype, 0) + 1
        self._by_client[client[0]] = self._by_client.get(client[0], 0) + 1
        self._by_rcode[rcode] = self._by_rcode.get(rcode, 0) + 1
        if tcp:
            self.tcp_queries += 1
        if tc:
            self.truncated += 1
        self._log.append((time.time(), client, tcp, name, qtype, rcode, tc))

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound."""
        return self.host, self.port

    def start(self) -> Self:
        """Bind UDP and TCP and serve from a background thread; return once bound."""
        if self._loop_thread is not None:
            raise SvclabError("the server is already running")
        loop_thread = LoopThread(f"{type(self).__name__}-{self.host}", use_uvloop=self.use_uvloop)
        loop_thread.start()
        try:
            loop_thread.run(self._bind())
        except BaseException as exc:
            loop_thread.stop()
            if isinstance(exc, SvclabError):
                raise
            raise SvclabError(f"cannot listen on {self.host}:{self.port}: {exc}") from None
        self._loop_thread = loop_thread
        return self

    def stop(self) -> None:
        """Close every socket, stop the loop and join its thread (idempotent)."""
        loop_thread, self._loop_thread = self._loop_thread, None
        if loop_thread is None:
            return
        loop_thread.run(self._shutdown())
        loop_thread.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop thread (so it never races a packet); return its result."""
        return fn() if self._loop_thread is None else self._loop_thread.call(fn)

    # -- observations -------------------------------------------------------------------
    def counters(self) -> Counters:
        """What has been answered so far, per name, type, client, rcode and transport."""

        def snapshot() -> Counters:
            return Counters(
                queries=self.queries,
                by_name=dict(self._by_name),
                by_type={dns.rdatatype.to_text(t): n for t, n in self._by_type.items()},
                by_client=dict(self._by_client),
                by_rcode={
                    dns.rcode.to_text(dns.rcode.Rcode(r)): n for r, n in self._by_rcode.items()
                },
                by_transport={"udp": self.queries - self.tcp_queries, "tcp": self.tcp_queries},
                truncated=self.truncated,
                dropped=self.dropped,
                errors=self.errors,
            )

        return self.call(snapshot)

    def query_log(self) -> list[LoggedQuery]:
        """The most recent queries, oldest first."""
        return [
            LoggedQuery(
                t,
                f"{c[0]}:{c[1]}",
                "tcp" if tcp else "udp",
                name,
                dns.rdatatype.to_text(qtype),
                dns.rcode.to_text(dns.rcode.Rcode(rcode)),
                tc,
            )
            for t, c, tcp, name, qtype, rcode, tc in self.call(lambda: list(self._log))
        ]

    def reset_counters(self) -> None:
        """Forget counts and the log (between experiments)."""
        self.call(self._reset_counters)

    def _reset_counters(self) -> None:
        self.queries = self.tcp_queries = self.truncated = self.dropped = self.errors = 0
        self._by_name: dict[str, int] = {}
        self._by_type: dict[int, int] = {}
        self._by_client: dict[str, int] = {}
        self._by_rcode: dict[int, int] = {}
        self._log.clear()
        self.last_error: BaseException | None = None

    # -- internals ----------------------------------------------------------------------
    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):
            sock = socket.socket(self._family, socket.SOCK_DGRAM)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
                sock.bind((self.host, self.port))
            except OSError:
                sock.close()
                raise
            udp, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=sock)
            port = udp.get_extra_info("sockname")[1]
            try:
                tcp = await loop.create_server(
                    lambda: _Tcp(self), self.host, port, reuse_address=True
                )
            except OSError:
                udp.close()
                if self.port:
                    raise
                continue  # the free UDP port is taken for TCP: pick another one
            self.port = port
            self._closers = [udp.close, tcp.close]
            return
        raise SvclabError(f"no port free for both UDP and TCP on {self.host}")

    async def _shutdown(self) -> None:
        for close in self._closers:
            close()
        for transport in list(self._tcp_transports):
            transport.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _safe_respond(self, data: bytes, tcp: bool, client: tuple) -> Any:
        try:
            return self.respond(data, tcp, client)
        except Exception as exc:  # a bad packet must never stop the server: count it, go on
            self.errors += 1
            self.last_error = exc
            return None

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run a reply that must wait (for an upstream) as a task the server holds on to."""
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, pending: Awaitable[bytes | None]) -> bytes | None:
        try:
            return await pending
        except Exception as exc:  # e.g. an upstream that never answers
            self.errors += 1
            self.last_error = exc
            return None


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        out = self.server._safe_respond(data, False, addr)
        if out is None:
            return
        if isinstance(out, bytes):
            self.transport.sendto(out, addr)  # type: ignore[union-attr]
        else:
            self.server._spawn(self._send_later(out, addr))

    async def _send_later(self, pending: Awaitable[bytes | None], addr: tuple) -> None:
        out = await self.server._finish(pending)
        if out is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(out, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a client that went away: nothing to do.
        pass


class _Tcp(asyncio.Protocol):
    """DNS over TCP: 2-byte length-prefixed messages, pipelined, closed when idle."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.peer: tuple = ("?", 0)
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peer = transport.get_extra_info("peername") or ("?", 0)
        self.server._tcp_transports.add(self.transport)  # type: ignore[arg-type]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._tcp_transports.discard(self.transport)  # type: ignore[arg-type]
        if self.idle:
            self.idle.cancel()

    def _arm(self) -> None:
        if self.idle:
            self.idle.cancel()
        loop = asyncio.get_running_loop()
        self.idle = loop.call_later(self.server.tcp_idle_timeout, self.transport.close)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._arm()
        while len(self.buffer) >= 2:
            size = int.from_bytes(self.buffer[:2], "big")
            if len(self.buffer) < 2 + size:
                return
            message = bytes(self.buffer[2 : 2 + size])
            del self.buffer[: 2 + size]
            out = self.server._safe_respond(message, True, self.peer)
            if isinstance(out, bytes):
                self._write(out)
            elif out is not None:
                self.server._spawn(self._write_later(out))

    def _write(self, out: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(len(out).to_bytes(2, "big") + out)

    async def _write_later(self, pending: Awaitable[bytes | None]) -> None:
        out = await self.server._finish(pending)
        if out is not None:
            self._write(out)
