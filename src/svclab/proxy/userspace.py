"""kube-proxy's historical userspace mode, rebuilt as a real asyncio TCP proxy on loopback.

Kubernetes removed this mode in v1.26 ("The 'userspace' proxy mode (deprecated for over a
year) is no longer supported on either Linux or Windows", PR #112133, CHANGELOG-1.26). In it,
iptables redirected a Service's ClusterIP:port to a socket kube-proxy listened on, and kube-proxy
itself copied every byte to a backend. What this module keeps from the removed Go code
(kubernetes/kubernetes `pkg/proxy/userspace/`, last at commit 16bee65c):

- `roundrobin.go` `LoadBalancerRR.NextEndpoint`: each new connection takes the next endpoint;
  with ClientIP affinity a client IP keeps its endpoint until the affinity timeout passes;
  an endpoint update that changes the set resets the index and drops affinity to removed
  endpoints (`removeStaleAffinity`). (Upstream also shuffled the list on update; here the
  given order is kept so that tests and lessons are reproducible.)
- `proxysocket.go` `tryConnect`: a refused or slow dial moves on to the next endpoint, at most
  four attempts with dial timeouts 250 ms, 500 ms, 1 s, 2 s (`endpointDialTimeout`), and a
  failed attempt bypasses affinity (`sessionAffinityReset`).

One deliberate difference: upstream's `copyBytes` closed both sockets when either direction
ended; this proxy forwards a half-close (`shutdown(SHUT_WR)`) and keeps the other direction
open, as a TCP proxy should. Instead of the VIP redirect, the proxy listens directly on a
loopback "VIP" such as 127.0.0.2 (any 127/8 address is local on Linux).

Speed comes from asyncio Protocols: each side's transport writes straight into its peer's
transport, and a full write buffer pauses reading on the other side (flow control).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, replace

from svclab.aio import LoopThread

Address = tuple[str, int]
"""A backend or listening address: (IPv4 address, port)."""

DIAL_TIMEOUTS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
"""Seconds allowed per dial; one attempt per entry (upstream `endpointDialTimeout`)."""

DEFAULT_AFFINITY_SECONDS = 10800
"""`v1.DefaultClientIPServiceAffinitySeconds` (3 hours), used when affinity has no timeout."""


def parse_address(value: str | Address) -> Address:
    """An ``"ip:port"`` string or an ``(ip, port)`` pair as an ``(ip, port)`` tuple.

    >>> parse_address("127.0.0.1:8080"), parse_address(("127.0.0.1", "81"))
    (('127.0.0.1', 8080), ('127.0.0.1', 81))
    """
    if isinstance(value, str):
        host, _, port = value.rpartition(":")
        return host, int(port)
    host, port = value
    return host, int(port)


class LoadBalancerRR:
    """Choose a backend per new connection in turn, optionally sticky per client IP (as the
    removed userspace mode's ``LoadBalancerRR`` did, whose name it keeps).

    >>> rr = LoadBalancerRR(["10.0.0.1:80", "10.0.0.2:80"])
    >>> [rr.next("192.0.2.9")[0] for _ in range(3)]
    ['10.0.0.1', '10.0.0.2', '10.0.0.1']
    >>> sticky = LoadBalancerRR(["10.0.0.1:80", "10.0.0.2:80"], affinity_seconds=60)
    >>> [sticky.next(ip)[0] for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.1")]
    ['10.0.0.1', '10.0.0.2', '10.0.0.1']
    >>> LoadBalancerRR([]).next("192.0.2.1") is None
    True
    """

    def __init__(
        self,
        backends: Iterable[str | Address] = (),
        affinity_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.affinity_seconds = affinity_seconds
        self._clock = clock
        self._lock = threading.Lock()  # updates come from a notebook thread, picks from the loop
        self._backends: list[Address] = []
        self._index = 0
        self._affinity: dict[str, tuple[Address, float]] = {}
        self.update(backends)

    @property
    def backends(self) -> list[Address]:
        """The current backends, in round-robin order."""
        return list(self._backends)

    def update(self, backends: Iterable[str | Address]) -> None:
        """Replace the backends; as upstream, an unchanged set keeps the index and affinity."""
        new = [parse_address(b) for b in backends]
        with self._lock:
            if sorted(new) == sorted(self._backends):
                return
            kept = set(new)
            self._affinity = {ip: e for ip, e in self._affinity.items() if e[0] in kept}
            self._backends = new
            self._index = 0

    def next(
        self, client_ip: str, reset_affinity: bool = False, exclude: Collection[Address] = ()
    ) -> Address | None:
        """The backend for a new connection from ``client_ip``; None when there are none.

        ``reset_affinity`` (set after a failed dial) skips the sticky choice, as upstream's
        ``sessionAffinityReset`` does. Backends in ``exclude`` (those that already failed for
        this connection) are passed over while another is left.

        >>> LoadBalancerRR(["10.0.0.1:80", "10.0.0.2:80"]).next("c", exclude=[("10.0.0.1", 80)])
        ('10.0.0.2', 80)
        """
        with self._lock:
            if not self._backends:
                return None
            now = self._clock()
            if self.affinity_seconds is not None and not reset_affinity:
                sticky = self._affinity.get(client_ip)
                if sticky and now - sticky[1] < (self.affinity_seconds or DEFAULT_AFFINITY_SECONDS):
                    self._affinity[client_ip] = (sticky[0], now)
                    return sticky[0]
            for _ in self._backends:  # at most one full turn
                backend = self._backends[self._index % len(self._backends)]
                self._index = (self._index + 1) % len(self._backends)
                if backend not in exclude:
                    break
            if self.affinity_seconds is not None:
                self._affinity[client_ip] = (backend, now)
            return backend


@dataclass
class BackendStats:
    """What the proxy did with one backend.

    >>> BackendStats(connections=2, bytes_sent=10)
    BackendStats(connections=2, failures=0, bytes_sent=10, bytes_received=0)
    """

    connections: int = 0
    """Client connections proxied to this backend."""
    failures: int = 0
    """Dial attempts that were refused or timed out."""
    bytes_sent: int = 0
    """Bytes copied from clients to this backend."""
    bytes_received: int = 0
    """Bytes copied from this backend to clients."""


class _Side(asyncio.Protocol):
    """One socket of a proxied pair: what it reads, the peer's transport writes."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.stats: BackendStats | None = None
        self.eof = False

    def eof_received(self) -> bool:
        # Forward the half-close; the transport stays open for the other direction until
        # that one ends too (then returning False lets asyncio close this socket).
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.transport.is_closing():
            return False
        peer.transport.write_eof()
        if peer.eof:
            peer.transport.close()
            return False
        return True

    def pause_writing(self) -> None:
        # Our outgoing buffer is full: stop reading from the socket that fills it.
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.close()


class _ClientSide(_Side):
    """The accepted client connection; what it sends before a backend answers is held."""

    def __init__(self, proxy: UserspaceProxy) -> None:
        super().__init__()
        self.proxy = proxy
        self.held: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.proxy._accepted(self)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None:
            # uvloop may deliver data before a pause requested in connection_made takes
            # effect, so hold what came and pause until the backend is connected.
            self.held.append(data)
            self.transport.pause_reading()  # type: ignore[union-attr]
            return
        peer.transport.write(data)  # type: ignore[union-attr]
        self.stats.bytes_sent += len(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool:
        if self.peer is None:
            self.eof = True  # forwarded once the backend is connected
            return True
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.proxy._active.discard(self)


class _BackendSide(_Side):
    """The proxy's connection to the chosen backend; pairs itself with the client on connect."""

    def __init__(self, client: _ClientSide, stats: BackendStats) -> None:
        super().__init__()
        self.client, self.stats = client, stats

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Pair here, not after create_connection returns: the backend may speak first, and
        # data_received can run before the dialing coroutine resumes.
        self.transport = transport  # type: ignore[assignment]
        client = self.client
        if client.transport.is_closing():  # type: ignore[union-attr]
            transport.close()
            return
        self.peer, client.peer, client.stats = client, self, self.stats
        self.stats.connections += 1  # now, before the first byte can flow
        for data in client.held:
            transport.write(data)  # type: ignore[attr-defined]
            self.stats.bytes_sent += len(data)  # type: ignore[union-attr]
        client.held.clear()
        if client.eof:
            transport.write_eof()  # type: ignore[attr-defined]
        else:
            client.transport.resume_reading()  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.peer.transport.write(data)  # type: ignore[union-attr]
        self.stats.bytes_received += len(data)  # type: ignore[union-attr]


class UserspaceProxy:
    """A TCP proxy for one Service port: listen on a loopback VIP, round-robin over backends.

    From asyncio code, ``async with UserspaceProxy(...)``; from a notebook or plain script,
    ``with UserspaceProxy(...)`` runs the proxy on its own event loop in a thread.

    >>> import socket, socketserver, threading
    >>> class Echo(socketserver.StreamRequestHandler):
    ...     def handle(self):
    ...         self.wfile.write(self.rfile.readline().upper())
    >>> backend = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    >>> threading.Thread(target=backend.serve_forever, daemon=True).start()
    >>> with UserspaceProxy([backend.server_address], vip="127.0.0.2") as proxy:
    ...     with socket.create_connection(proxy.address) as conn:
    ...         conn.sendall(b"hello\\n")
    ...         reply = conn.makefile("rb").readline()
    >>> reply, proxy.stats[backend.server_address].connections
    (b'HELLO\\n', 1)
    >>> backend.shutdown(); backend.server_close()
    """

    def __init__(
        self,
        backends: Iterable[str | Address],
        vip: str = "127.0.0.2",
        port: int = 0,
        *,
        affinity_seconds: float | None = None,
        dial_timeouts: Iterable[float] = DIAL_TIMEOUTS,
        use_uvloop: bool = False,
    ) -> None:
        self.balancer = LoadBalancerRR(backends, affinity_seconds)
        self.vip, self.port = vip, port
        self.dial_timeouts = tuple(dial_timeouts)
        self.use_uvloop = use_uvloop
        self.accepted = 0
        """Client connections accepted."""
        self.failed = 0
        """Client connections closed because no backend could be reached."""
        self._stats: dict[Address, BackendStats] = {}
        self._active: set[_ClientSide] = set()
        self._dials: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: LoopThread | None = None

    # -- what a user sees -------------------------------------------------------------------

    @property
    def address(self) -> Address:
        """Where clients connect: (VIP, port), the port known once started."""
        return self.vip, self.port

    @property
    def stats(self) -> dict[Address, BackendStats]:
        """A snapshot of the per-backend counters (backends ever used, including removed ones)."""
        items = list(self._stats.items())  # one C-level copy: safe while the loop thread adds
        return {address: replace(s) for address, s in items}

    @property
    def active(self) -> int:
        """Client connections open right now."""
        return len(self._active)

    def set_backends(self, backends: Iterable[str | Address]) -> None:
        """Replace the backends while running; open connections keep theirs."""
        self.balancer.update(backends)

    # -- asyncio lifecycle ------------------------------------------------------------------

    async def start(self) -> UserspaceProxy:
        """Start listening on the running loop."""
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(
            lambda: _ClientSide(self), self.vip, self.port, reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening, abort pending dials and open connections."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._dials):
            task.cancel()
        for client in list(self._active):
            for side in (client, client.peer):
                if side is not None and side.transport is not None:
                    side.transport.abort()
        await asyncio.sleep(0)  # let connection_lost callbacks run before the loop may close

    async def __aenter__(self) -> UserspaceProxy:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- thread lifecycle (notebooks, scripts) ---------------------------------------------

    def start_in_thread(self, timeout: float = 10.0) -> UserspaceProxy:
        """Run the proxy on its own event loop (uvloop's with `use_uvloop`) in a daemon thread."""
        if self._loop_thread is not None:
            raise RuntimeError("proxy already running in a thread")
        loop_thread = LoopThread("svclab-userspace-proxy", use_uvloop=self.use_uvloop).start()
        try:
            loop_thread.run(self.start(), timeout)
        except BaseException:
            loop_thread.stop(timeout)
            raise
        self._loop_thread = loop_thread
        return self

    def stop_in_thread(self, timeout: float = 10.0) -> None:
        """Stop the proxy and its thread; connections still open are aborted."""
        loop_thread, self._loop_thread = self._loop_thread, None
        if loop_thread is None:
            return
        loop_thread.run(self.stop(), timeout)
        loop_thread.stop(timeout)
        self._loop = None

    def __enter__(self) -> UserspaceProxy:
        return self.start_in_thread()

    def __exit__(self, *exc_info: object) -> None:
        self.stop_in_thread()

    # -- connection handling ----------------------------------------------------------------

    def _stats_for(self, address: Address) -> BackendStats:
        stats = self._stats.get(address)
        if stats is None:
            stats = self._stats[address] = BackendStats()
        return stats

    def _accepted(self, client: _ClientSide) -> None:
        self.accepted += 1
        self._active.add(client)
        task = self._loop.create_task(self._dial(client))  # type: ignore[union-attr]
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)

    async def _dial(self, client: _ClientSide) -> None:
        """Connect the client to a backend, moving on when one refuses (upstream `tryConnect`)."""
        loop = asyncio.get_running_loop()
        client_ip = client.transport.get_extra_info("peername")[0]  # type: ignore[union-attr]
        reset_affinity = False
        failed: set[Address] = set()
        for timeout in self.dial_timeouts:
            address = self.balancer.next(client_ip, reset_affinity, exclude=failed)
            if address is None:
                break
            stats = self._stats_for(address)
            backend = _BackendSide(client, stats)
            try:
                async with asyncio.timeout(timeout):
                    await loop.create_connection(lambda b=backend: b, *address)
            except (OSError, TimeoutError):
                if client.peer is backend:
                    return  # timed out just after connecting: closing it closes the client
                stats.failures += 1
                failed.add(address)
                reset_affinity = True
                continue
            return
        self.failed += 1
        client.transport.close()  # type: ignore[union-attr]
