"""The DNS server on loopback, over real UDP and TCP sockets: truncation and TCP fallback,
EDNS payload sizes, malformed packets, live updates, counters and the query log."""

from __future__ import annotations

import importlib.util
import random
import socket
import struct

import dns.edns
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from conftest import require
from dns_golden import cluster

from svclab.dns.server import DnsServer
from svclab.errors import SvclabError

WEB = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80}]}
"""


def big_headless(count: int) -> str:
    """A headless Service with `count` ready endpoints in one slice."""
    endpoints = "".join(f"- addresses: [10.244.{i // 250}.{i % 250 + 1}]\n" for i in range(count))
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: db, namespace: shop}}
spec: {{clusterIP: None, ports: [{{name: pg, port: 5432}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: db-1, namespace: shop, labels: {{kubernetes.io/service-name: db}}}}
addressType: IPv4
ports: [{{name: pg, port: 5432, protocol: TCP}}]
endpoints:
{endpoints}"""


@pytest.fixture(scope="module")
def server():
    with DnsServer(cluster(WEB + "---" + big_headless(100))) as srv:
        yield srv


def ask(srv, name, rdtype="A", **kw):
    return dns.query.udp(
        dns.message.make_query(name, rdtype, **kw), srv.host, port=srv.port, timeout=3
    )


def raw_udp(srv, payload: bytes, timeout: float = 0.3) -> bytes | None:
    """Send raw bytes; the reply, or None if the server sent nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(payload, srv.address)
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def test_binds_loopback_and_reports_the_ephemeral_port(server):
    assert server.host == "127.0.0.1"
    assert server.port > 0
    assert server.address == ("127.0.0.1", server.port)


def test_udp_and_tcp_give_the_same_answer(server):
    query = dns.message.make_query("web.shop.svc.cluster.local.", "A")
    udp = dns.query.udp(query, server.host, port=server.port, timeout=3)
    tcp = dns.query.tcp(query, server.host, port=server.port, timeout=3)
    assert udp.answer == tcp.answer
    assert [rd.address for rd in udp.answer[0]] == ["10.96.0.10"]


def test_answer_echoes_the_query_letter_case(server):
    reply = ask(server, "WEB.Shop.svc.cluster.local.")
    assert reply.answer[0].name.to_text() == "WEB.Shop.svc.cluster.local."
    assert reply.question[0].name.to_text() == "WEB.Shop.svc.cluster.local."


def test_repeated_queries_get_their_own_ids(server):
    ids = [4242, 17, 65000]
    for qid in ids:
        reply = ask(server, "web.shop.svc.cluster.local.", id=qid)
        assert reply.id == qid
        assert reply.answer


def test_big_headless_answer_is_truncated_over_udp_without_edns(server):
    """100 A records (1.6 kB) do not fit in 512 bytes: TC set, the client retries on TCP."""
    query = dns.message.make_query("db.shop.svc.cluster.local.", "A", use_edns=False)
    reply = dns.query.udp(query, server.host, port=server.port, timeout=3)
    assert reply.flags & dns.flags.TC
    assert len(reply.to_wire()) <= 512
    full, used_tcp = dns.query.udp_with_fallback(query, server.host, port=server.port, timeout=3)
    assert used_tcp
    assert not full.flags & dns.flags.TC
    assert len(full.answer[0]) == 100


@pytest.mark.parametrize(("payload", "fits"), [(1232, False), (4096, True)])
def test_edns_payload_size_is_honoured(server, payload, fits):
    reply = ask(server, "db.shop.svc.cluster.local.", use_edns=0, payload=payload)
    assert bool(reply.flags & dns.flags.TC) is not fits
    assert len(reply.to_wire()) <= payload
    if fits:
        assert len(reply.answer[0]) == 100
    assert reply.edns == 0 and reply.payload == 1232  # what the server advertises


def test_srv_over_the_big_headless_service_falls_back_to_tcp(server):
    query = dns.message.make_query("_pg._tcp.db.shop.svc.cluster.local.", "SRV")
    reply, used_tcp = dns.query.udp_with_fallback(query, server.host, port=server.port, timeout=3)
    assert used_tcp
    assert len(reply.answer[0]) == 100
    assert {rd.weight for rd in reply.answer[0]} == {1}  # CoreDNS: max(1, floor(100 / 100))


def test_edns_version_1_gets_badvers(server):
    reply = ask(server, "web.shop.svc.cluster.local.", use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS


def test_foreign_names_are_refused_without_an_upstream(server):
    reply = ask(server, "example.com.")
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.flags & dns.flags.AA


def test_zone_transfer_is_refused(server):
    reply = dns.query.tcp(
        dns.message.make_query("cluster.local.", "AXFR"), server.host, port=server.port, timeout=3
    )
    assert reply.rcode() == dns.rcode.REFUSED


def good_query(srv) -> None:
    reply = ask(srv, "web.shop.svc.cluster.local.")
    assert [rd.address for rd in reply.answer[0]] == ["10.96.0.10"]


def header(qid=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0) -> bytes:
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


QUESTION = b"\x03web\x04shop\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01"


@pytest.mark.parametrize(
    ("packet", "rcode"),
    [
        pytest.param(header(qd=2) + QUESTION, dns.rcode.FORMERR, id="qdcount 2"),
        pytest.param(header(qd=0), dns.rcode.FORMERR, id="qdcount 0"),
        pytest.param(header() + QUESTION[:10], dns.rcode.FORMERR, id="question cut short"),
        pytest.param(
            header() + QUESTION + b"junk", dns.rcode.FORMERR, id="bytes after the question"
        ),
        pytest.param(
            header() + b"\x40abc\x00\x00\x01\x00\x01", dns.rcode.FORMERR, id="bad label type"
        ),
        pytest.param(header() + b"\xc0\x0c\x00\x01\x00\x01", dns.rcode.FORMERR, id="pointer loop"),
        pytest.param(
            header(ar=1) + QUESTION + b"\x00\x00\x29", dns.rcode.FORMERR, id="cut OPT record"
        ),
        pytest.param(header(an=1) + QUESTION, dns.rcode.FORMERR, id="ancount without answer"),
        pytest.param(header(flags=0x2800) + QUESTION, dns.rcode.NOTIMP, id="UPDATE opcode"),
    ],
)
def test_malformed_query_gets_an_error_and_the_server_goes_on(server, packet, rcode):
    reply = raw_udp(server, packet)
    assert reply is not None
    assert reply[:2] == packet[:2]  # same ID
    assert reply[2] & 0x80  # QR
    assert reply[3] & 0x0F == rcode
    good_query(server)


@pytest.mark.parametrize(
    "packet",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x12\x34\x01", id="truncated header"),
        pytest.param(header(flags=0x8180) + QUESTION, id="a response"),
    ],
)
def test_packets_without_a_usable_header_are_dropped(server, packet):
    before = server.counters().dropped
    assert raw_udp(server, packet) is None
    assert server.counters().dropped == before + 1
    good_query(server)


def test_random_bytes_never_kill_the_server(server):
    rng = random.Random(1234)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(300):
            sock.sendto(rng.randbytes(rng.randint(0, 80)), server.address)
    good_query(server)
    assert server.counters().errors == 0  # every packet was classified, none crashed a handler


def test_tcp_pipelining_and_garbage_on_one_connection(server):
    q1 = dns.message.make_query("web.shop.svc.cluster.local.", "A", id=1).to_wire()
    q2 = dns.message.make_query("nope.shop.svc.cluster.local.", "A", id=2).to_wire()
    garbage = b"\x00\x07\x00"
    stream = b"".join(len(m).to_bytes(2, "big") + m for m in (q1, garbage, q2))
    with socket.create_connection(server.address, timeout=3) as conn:
        conn.sendall(stream)
        replies = [_read_tcp(conn), _read_tcp(conn)]
    assert [dns.message.from_wire(r).id for r in replies] == [1, 2]
    assert dns.message.from_wire(replies[1]).rcode() == dns.rcode.NXDOMAIN


def _read_tcp(conn) -> bytes:
    size = int.from_bytes(_read_exactly(conn, 2), "big")
    return _read_exactly(conn, size)


def _read_exactly(conn, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data


def test_counters_and_query_log():
    with DnsServer(cluster(WEB)) as srv:
        for _ in range(3):
            good_query(srv)
        ask(srv, "web.shop.svc.cluster.local.", "SRV")
        ask(srv, "gone.shop.svc.cluster.local.")
        counters = srv.counters()
        log = srv.query_log()
    assert counters.queries == 5
    assert counters.by_name == {"web.shop.svc.cluster.local.": 4, "gone.shop.svc.cluster.local.": 1}
    assert counters.by_type == {"A": 4, "SRV": 1}
    assert counters.by_client == {"127.0.0.1": 5}
    assert counters.by_rcode == {"NOERROR": 4, "NXDOMAIN": 1}
    assert counters.by_transport == {"udp": 5, "tcp": 0}
    assert [(e.name, e.type, e.rcode, e.transport) for e in log][-2:] == [
        ("web.shop.svc.cluster.local.", "SRV", "NOERROR", "udp"),
        ("gone.shop.svc.cluster.local.", "A", "NXDOMAIN", "udp"),
    ]
    assert "5 queries" in counters.summary()


def test_update_swaps_records_live():
    with DnsServer(cluster(WEB)) as srv:
        good_query(srv)
        srv.update(cluster(WEB.replace("10.96.0.10", "10.96.0.99")))
        reply = ask(srv, "web.shop.svc.cluster.local.")
        assert [rd.address for rd in reply.answer[0]] == ["10.96.0.99"]
        srv.update(cluster(""))
        assert ask(srv, "web.shop.svc.cluster.local.").rcode() == dns.rcode.NXDOMAIN


def test_stop_frees_the_port_and_a_busy_port_is_an_error():
    srv = DnsServer(cluster(WEB)).start()
    port = srv.port
    with pytest.raises(SvclabError, match="cannot listen"):
        DnsServer(cluster(WEB), port=port).start()
    srv.stop()
    with DnsServer(cluster(WEB), port=port) as again:  # the port is free again
        good_query(again)


def test_uvloop_serves_the_same_answers():
    require(
        importlib.util.find_spec("uvloop") is not None, "uvloop (svclab[fast]) is not installed"
    )
    with DnsServer(cluster(WEB), use_uvloop=True) as srv:
        good_query(srv)
        reply = dns.query.tcp(
            dns.message.make_query("web.shop.svc.cluster.local.", "A"),
            srv.host,
            port=srv.port,
            timeout=3,
        )
        assert reply.answer


def test_forwards_foreign_names_to_an_upstream():
    """Another svclab server plays the upstream: the first relays what the second answers."""
    outside = cluster(WEB)
    with (
        DnsServer(outside, zone="example.test") as upstream,
        DnsServer(cluster(""), upstream=upstream.address) as srv,
    ):
        reply = ask(srv, "web.shop.svc.example.test.")
        assert [rd.address for rd in reply.answer[0]] == ["10.96.0.10"]
        assert not reply.flags & dns.flags.AA
        assert upstream.counters().by_name == {"web.shop.svc.example.test.": 1}


def test_an_upstream_that_never_answers_gives_servfail():
    """A bound UDP socket that reads nothing stands for a dead upstream."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
        dead.bind(("127.0.0.1", 0))
        with DnsServer(cluster(WEB), upstream=dead.getsockname()) as srv:
            reply = dns.query.udp(
                dns.message.make_query("example.com.", "A"), srv.host, port=srv.port, timeout=5
            )
    assert reply.rcode() == dns.rcode.SERVFAIL


def test_malformed_queries_are_counted_apart(server):
    before = server.counters().by_name.get("<malformed>", 0)
    raw_udp(server, header(qd=0))
    assert server.counters().by_name["<malformed>"] == before + 1
