"""The cluster DNS server: the spec's records over UDP and TCP on loopback, swapped live.

Answers are rendered once per distinct query and then served from a cache keyed by the query
bytes after its ID: a repeated query costs a dictionary lookup and a 2-byte ID patch.

>>> import dns.message, dns.query
>>> from svclab.api.manifests import load_text
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web, namespace: shop}
... spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
... '''))
>>> with DnsServer(state) as srv:
...     q = dns.message.make_query("web.shop.svc.cluster.local", "A")
...     reply = dns.query.udp(q, srv.host, port=srv.port, timeout=2)
...     print(reply.answer[0])
...     srv.counters().by_name
web.shop.svc.cluster.local. 5 IN A 10.96.0.10
{'web.shop.svc.cluster.local.': 1}
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import NamedTuple

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from svclab.api.state import ClusterState
from svclab.dns import wire
from svclab.dns.records import (
    DEFAULT_REVERSE_ZONES,
    DEFAULT_TTL,
    DEFAULT_ZONE,
    Answer,
    RecordTable,
    build_records,
)
from svclab.dns.serving import LoopbackServer
from svclab.errors import SvclabError

UPSTREAM_TIMEOUT = 2.0
CACHE_LIMIT = 100_000
"""Distinct queries remembered; beyond, the cache starts afresh (random names cannot fill it)."""

_REFUSED_TYPES = {dns.rdatatype.AXFR, dns.rdatatype.IXFR}


class _Cached(NamedTuple):
    tail: bytes  # the response without its first two bytes (the ID)
    name: str
    qtype: int
    rcode: int
    truncated: bool


class DnsServer(LoopbackServer):
    """Serve `state`'s records for `zone` (and the reverse zones) on loopback.

    `upstream` (host, port), when given, answers names outside the zones and completes
    ExternalName CNAMEs, as CoreDNS's ``forward`` plugin does; without it such names are
    REFUSED and an ExternalName answer is its CNAME alone.
    """

    def __init__(
        self,
        state: ClusterState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        zone: str = DEFAULT_ZONE,
        ttl: int = DEFAULT_TTL,
        reverse_zones: Sequence[str] = DEFAULT_REVERSE_ZONES,
        upstream: tuple[str, int] | None = None,
        use_uvloop: bool = False,
        log_size: int = 10_000,
    ) -> None:
        super().__init__(host, port, use_uvloop=use_uvloop, log_size=log_size)
        self.zone, self.ttl, self.reverse_zones = zone, ttl, tuple(reverse_zones)
        self.upstream = upstream
        self.table: RecordTable = build_records(state or ClusterState(), zone, ttl, reverse_zones)
        self._udp_cache: dict[bytes, _Cached] = {}
        self._tcp_cache: dict[bytes, _Cached] = {}

    def update(self, state: ClusterState) -> RecordTable:
        """Rebuild the records from `state` and serve them from the next query on."""
        table = build_records(state, self.zone, self.ttl, self.reverse_zones)

        def swap() -> None:
            self.table, self._udp_cache, self._tcp_cache = table, {}, {}

        self.call(swap)
        return table

    def respond(
        self, data: bytes, tcp: bool, client: tuple
    ) -> bytes | Awaitable[bytes | None] | None:
        """Answer one packet: from the cache, else parse the question and render."""
        hit = (self._tcp_cache if tcp else self._udp_cache).get(data[2:])
        if hit is not None:
            self.note(hit.name, hit.qtype, hit.rcode, client, tcp, hit.truncated)
            return data[:2] + hit.tail
        query, reply = self.parse(data, tcp, client)
        if query is None:
            return reply
        answer = self._answer(query)
        limit = wire.TCP_LIMIT if tcp else query.udp_limit()
        if self.upstream and (answer.chase or answer.rcode == dns.rcode.REFUSED):
            return self._ask_upstream(query, answer, limit, client, tcp)
        out = wire.render(query, answer, limit)
        self._remember(data, out, query, tcp)
        self.note(
            query.name.to_text().lower(),
            query.qtype,
            answer.rcode,
            client,
            tcp,
            wire.truncated(out),
        )
        return out

    def _answer(self, query: wire.Query) -> Answer:
        if query.edns > 0:
            return Answer(dns.rcode.BADVERS, authoritative=False)
        if query.qclass != dns.rdataclass.IN or query.qtype in _REFUSED_TYPES:
            return Answer(dns.rcode.REFUSED, authoritative=False)
        return self.table.lookup(query.name, query.qtype)

    def _remember(self, data: bytes, out: bytes, query: wire.Query, tcp: bool) -> None:
        cache = self._tcp_cache if tcp else self._udp_cache
        if len(cache) >= CACHE_LIMIT:
            cache.clear()
        cache[data[2:]] = _Cached(
            out[2:],
            query.name.to_text().lower(),
            query.qtype,
            wire.rcode_of(out),
            wire.truncated(out),
        )

    async def _ask_upstream(
        self, query: wire.Query, answer: Answer, limit: int, client: tuple, tcp: bool
    ) -> bytes:
        """Forward a foreign name, or complete an ExternalName's CNAME, through the upstream."""
        host, port = self.upstream  # type: ignore[misc]
        name = answer.chase or query.name
        ask = dns.message.make_query(name, query.qtype, query.qclass)
        try:
            reply, _ = await dns.asyncquery.udp_with_fallback(ask, host, UPSTREAM_TIMEOUT, port)
        except (dns.exception.DNSException, OSError):
            # An upstream that fails or never answers: SERVFAIL, as CoreDNS's forward says.
            reply = dns.message.make_response(ask)
            reply.set_rcode(dns.rcode.SERVFAIL)
        if answer.chase and reply.rcode() == dns.rcode.SERVFAIL:
            out = wire.render(query, Answer(dns.rcode.SERVFAIL, authoritative=False), limit)
        elif answer.chase:
            final = Answer(answer.rcode, answer.answer, authoritative=True)
            out = wire.render(query, final, limit, extra_answer=tuple(reply.answer))
        else:
            forwarded = Answer(
                reply.rcode(),
                tuple(reply.answer),
                tuple(reply.authority),
                tuple(reply.additional),
                authoritative=False,
            )
            out = wire.render(query, forwarded, limit)
        self.note(
            query.name.to_text().lower(),
            query.qtype,
            wire.rcode_of(out),
            client,
            tcp,
            wire.truncated(out),
        )
        return out


def parse_address(text: str, flag: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as a (host, port) pair.

    >>> parse_address("127.0.0.1:5353"), parse_address("[::1]:53")
    (('127.0.0.1', 5353), ('::1', 53))
    >>> parse_address("localhost")
    Traceback (most recent call last):
    ...
    svclab.errors.SvclabError: --listen: expected HOST:PORT, got 'localhost'
    """
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SvclabError(f"{flag}: expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)
