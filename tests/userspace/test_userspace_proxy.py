"""Real-socket tests of the userspace proxy: real HTTP servers behind it, on loopback.

Round-robin and affinity expectations follow the removed upstream tests in
kubernetes/kubernetes `pkg/proxy/userspace/roundrobin_test.go` (named per test below);
trying the next backend follows `tryConnect` in `pkg/proxy/userspace/proxysocket.go`.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svclab.proxy.userspace import DIAL_TIMEOUTS, LoadBalancerRR, UserspaceProxy


class _NameHandler(BaseHTTPRequestHandler):
    """Answers every GET with the server's name, so a client sees which backend served it."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_backends() -> Iterator[list[ThreadingHTTPServer]]:
    """Three real HTTP servers named a, b, c on 127.0.0.1."""
    servers = []
    for name in "abc":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _NameHandler)
        server.daemon_threads = True
        server.name = name  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


def _addr(server: ThreadingHTTPServer) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


def _get(address: tuple[str, int], source_ip: str | None = None) -> str:
    """One HTTP GET on a new connection (optionally from a chosen loopback source IP)."""
    conn = http.client.HTTPConnection(
        *address, timeout=5, source_address=(source_ip, 0) if source_ip else None
    )
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def _closed_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_round_robin_over_real_http_servers(http_backends: list[ThreadingHTTPServer]) -> None:
    """Each new connection takes the next backend (TestLoadBalanceWorksWithMultipleEndpoints)."""
    with UserspaceProxy([_addr(s) for s in http_backends], vip="127.0.0.2") as proxy:
        assert proxy.address[0] == "127.0.0.2"
        answers = [_get(proxy.address) for _ in range(6)]
    assert answers == list("abcabc")
    stats = proxy.stats
    assert [stats[_addr(s)].connections for s in http_backends] == [2, 2, 2]
    assert all(
        stats[_addr(s)].bytes_received > stats[_addr(s)].bytes_sent > 0 for s in http_backends
    )
    assert proxy.accepted == 6 and proxy.failed == 0


def test_keep_alive_requests_stay_on_one_backend(http_backends: list[ThreadingHTTPServer]) -> None:
    """Balancing is per connection: requests on one kept-alive connection reach one backend."""
    with UserspaceProxy([_addr(s) for s in http_backends]) as proxy:
        conn = http.client.HTTPConnection(*proxy.address, timeout=5)
        answers = []
        for _ in range(4):
            conn.request("GET", "/")
            answers.append(conn.getresponse().read().decode())
        conn.close()
        assert _get(proxy.address) == "b"
    assert answers == ["a"] * 4


def test_refusing_backend_is_skipped(http_backends: list[ThreadingHTTPServer]) -> None:
    """A refused dial moves on to the next backend, as upstream's `tryConnect` loop did."""
    dead = ("127.0.0.1", _closed_port())
    with UserspaceProxy([dead, _addr(http_backends[0])]) as proxy:
        answers = [_get(proxy.address) for _ in range(4)]
    assert answers == ["a"] * 4
    assert proxy.stats[dead].connections == 0
    # Each connection first draws the dead one (the retry advanced the index past it), then a.
    assert proxy.stats[dead].failures == 4
    assert proxy.failed == 0


def test_backend_that_does_not_answer_times_out_and_is_skipped(
    http_backends: list[ThreadingHTTPServer],
) -> None:
    """A dial that hangs (the backend's accept queue is full, so the kernel drops the SYN) gives
    up after its timeout and moves on (upstream `tryConnect` with `endpointDialTimeout`)."""
    stuck = socket.create_server(("127.0.0.1", 0), backlog=0)
    filling = []
    for _ in range(4):  # never accepted: they fill the queue
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(stuck.getsockname())
        filling.append(sock)
    dead = stuck.getsockname()
    try:
        with UserspaceProxy([dead, _addr(http_backends[0])], dial_timeouts=(0.2, 0.2)) as proxy:
            assert _get(proxy.address) == "a"
        assert proxy.stats[dead].failures == 1 and proxy.stats[dead].connections == 0
    finally:
        for sock in filling:
            sock.close()
        stuck.close()


def test_all_backends_refusing_closes_the_client_after_bounded_attempts() -> None:
    """With no reachable backend the client sees a closed connection after len(timeouts) tries."""
    dead = [("127.0.0.1", _closed_port()), ("127.0.0.1", _closed_port())]
    with UserspaceProxy(dead) as proxy, socket.create_connection(proxy.address, timeout=5) as conn:
        assert conn.recv(1) == b""
    assert proxy.failed == 1
    assert sum(s.failures for s in proxy.stats.values()) == len(DIAL_TIMEOUTS)


def test_no_backends_closes_the_client() -> None:
    """A Service without endpoints: the connection is accepted, then closed (no attempt made)."""
    with UserspaceProxy([]) as proxy, socket.create_connection(proxy.address, timeout=5) as conn:
        assert conn.recv(1) == b""
    assert proxy.failed == 1 and proxy.stats == {}


def _half_close_backend() -> tuple[socket.socket, dict[str, bytes], threading.Thread]:
    """A backend that greets, shuts its sending side, then records all it reads until EOF."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: dict[str, bytes] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"greeting")
            conn.shutdown(socket.SHUT_WR)
            chunks = []
            while data := conn.recv(65536):
                chunks.append(data)
            seen["received"] = b"".join(chunks)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, seen, thread


def test_half_close_from_backend_keeps_client_direction_open() -> None:
    """The backend's EOF reaches the client while the client can still send."""
    listener, seen, thread = _half_close_backend()
    with listener, UserspaceProxy([listener.getsockname()]) as proxy:
        with socket.create_connection(proxy.address, timeout=5) as conn:
            reader = conn.makefile("rb")
            assert reader.read() == b"greeting"  # read() returns at the forwarded EOF
            conn.sendall(b"sent after the backend's EOF")
            conn.shutdown(socket.SHUT_WR)
            thread.join(5)
        assert seen["received"] == b"sent after the backend's EOF"


def test_half_close_from_client_keeps_backend_direction_open() -> None:
    """The client's EOF (request done) reaches the backend, whose reply still comes back."""
    listener = socket.create_server(("127.0.0.1", 0))

    def count_then_reply() -> None:
        conn, _ = listener.accept()
        with conn:
            total = 0
            while data := conn.recv(65536):
                total += len(data)
            conn.sendall(f"got {total} bytes".encode())

    thread = threading.Thread(target=count_then_reply, daemon=True)
    thread.start()
    backend = listener.getsockname()
    with listener, UserspaceProxy([backend]) as proxy:
        with socket.create_connection(proxy.address, timeout=5) as conn:
            conn.sendall(b"x" * 100_000)
            conn.shutdown(socket.SHUT_WR)
            reply = conn.makefile("rb").read()
        thread.join(5)
    assert reply == b"got 100000 bytes"
    assert proxy.stats[backend].bytes_sent == 100_000


def test_flow_control_pauses_the_backend_while_the_client_is_not_reading() -> None:
    """64 MiB to a client that reads nothing at first: the proxy stops reading the backend
    (pause_reading) instead of buffering it all, then the data arrives intact and counted."""
    payload = bytes(range(256)) * (256 * 1024)
    listener = socket.create_server(("127.0.0.1", 0))
    backend = listener.getsockname()
    done = threading.Event()

    def send_payload() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(payload)
        done.set()

    thread = threading.Thread(target=send_payload, daemon=True)
    thread.start()
    digest = hashlib.sha256()
    with listener, UserspaceProxy([backend]) as proxy:
        with socket.socket() as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # before connect
            conn.settimeout(10)
            conn.connect(proxy.address)
            assert not done.wait(0.5)  # the backend is blocked: nobody drains the pipe
            assert proxy.stats[backend].bytes_received < len(payload) // 2
            while data := conn.recv(1 << 20):
                digest.update(data)
        thread.join(5)
    assert digest.digest() == hashlib.sha256(payload).digest()
    assert proxy.stats[backend].bytes_received == len(payload)


def test_backends_updated_live(http_backends: list[ThreadingHTTPServer]) -> None:
    """A changed endpoint set restarts round-robin from its first entry
    (TestLoadBalanceWorksWithMultipleEndpointsAndUpdates)."""
    a, b, c = (_addr(s) for s in http_backends)
    with UserspaceProxy([a, b]) as proxy:
        assert _get(proxy.address) == "a"
        proxy.set_backends([c, b])
        assert [_get(proxy.address) for _ in range(3)] == ["c", "b", "c"]
        proxy.set_backends([])
        with socket.create_connection(proxy.address, timeout=5) as conn:
            assert conn.recv(1) == b""


def test_client_ip_affinity_with_real_source_addresses(
    http_backends: list[ThreadingHTTPServer],
) -> None:
    """Each client IP keeps its backend (TestStickyLoadBalanceWorksWithMultipleEndpoints);
    clients are distinct loopback source addresses."""
    with UserspaceProxy([_addr(s) for s in http_backends], affinity_seconds=60) as proxy:
        first = {ip: _get(proxy.address, ip) for ip in ("127.0.0.11", "127.0.0.12", "127.0.0.13")}
        again = {ip: _get(proxy.address, ip) for ip in reversed(first)}
    assert sorted(first.values()) == ["a", "b", "c"]
    assert again == first


def test_stop_aborts_open_connections_and_frees_the_port(
    http_backends: list[ThreadingHTTPServer],
) -> None:
    """Leaving the `with` block closes the listener and the connections still open."""
    with UserspaceProxy([_addr(http_backends[0])]) as proxy:
        conn = http.client.HTTPConnection(*proxy.address, timeout=5)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"a"
        assert proxy.active == 1
    assert conn.sock.recv(1) == b""  # kept-alive, then closed by stop
    conn.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(proxy.address, timeout=5).close()


def test_runs_inside_asyncio_code() -> None:
    """`async with` on the caller's loop, an asyncio backend, asyncio stream clients."""

    async def scenario() -> list[bytes]:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write((await reader.read()).upper())  # read() ends at the client's EOF
            await writer.drain()
            writer.close()

        backend = await asyncio.start_server(echo, "127.0.0.1", 0)
        replies = []
        async with backend, UserspaceProxy([backend.sockets[0].getsockname()]) as proxy:
            for word in (b"one", b"two"):
                reader, writer = await asyncio.open_connection(*proxy.address)
                writer.write(word)
                writer.write_eof()
                replies.append(await asyncio.wait_for(reader.read(), 5))
                writer.close()
                await writer.wait_closed()
        return replies

    assert asyncio.run(scenario()) == [b"ONE", b"TWO"]


# -- the balancer alone (no sockets) -------------------------------------------------------


class _Clock:
    """A settable clock, so affinity expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_affinity_expires_after_its_timeout() -> None:
    """TestStickyLoadBalanceWorksWithMultipleEndpointsStickyNone-style expiry: after the
    timeout the client takes the next endpoint in turn."""
    clock = _Clock()
    rr = LoadBalancerRR(["10.0.0.1:80", "10.0.0.2:80"], affinity_seconds=10, clock=clock)
    assert rr.next("192.0.2.1") == ("10.0.0.1", 80)
    clock.now += 9.9
    assert rr.next("192.0.2.1") == ("10.0.0.1", 80)  # use refreshes the timestamp
    clock.now += 9.9
    assert rr.next("192.0.2.1") == ("10.0.0.1", 80)
    clock.now += 10
    assert rr.next("192.0.2.1") == ("10.0.0.2", 80)


def test_affinity_reset_and_stale_affinity_removal() -> None:
    """A failed dial bypasses affinity; removing an endpoint forgets clients stuck to it
    (TestStickyLoadBalanceWorksWithEndpointFails, removeStaleAffinity)."""
    rr = LoadBalancerRR(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"], affinity_seconds=60)
    assert rr.next("192.0.2.1") == ("10.0.0.1", 80)
    assert rr.next("192.0.2.1", reset_affinity=True) == ("10.0.0.2", 80)
    assert rr.next("192.0.2.1") == ("10.0.0.2", 80)
    rr.update(["10.0.0.1:80", "10.0.0.3:80"])
    assert rr.next("192.0.2.1") == ("10.0.0.1", 80)


def test_unchanged_endpoint_set_keeps_the_index() -> None:
    """Upstream only resets when the set differs (`slicesEquiv`), whatever the order."""
    rr = LoadBalancerRR(["10.0.0.1:80", "10.0.0.2:80"])
    rr.next("192.0.2.1")
    rr.update(["10.0.0.2:80", "10.0.0.1:80"])
    assert rr.next("192.0.2.1") == ("10.0.0.2", 80)


@given(n=st.integers(1, 20), rounds=st.integers(1, 5), clients=st.lists(st.integers(0, 255)))
def test_round_robin_is_exactly_even(n: int, rounds: int, clients: list[int]) -> None:
    """Without affinity, n*rounds connections give each backend exactly `rounds`, whoever asks."""
    rr = LoadBalancerRR([f"10.0.0.{i}:80" for i in range(n)])
    picks = [
        rr.next(f"192.0.2.{clients[i % len(clients)] if clients else 1}") for i in range(n * rounds)
    ]
    assert all(picks.count(b) == rounds for b in rr.backends)
