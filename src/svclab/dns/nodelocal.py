"""A node-local DNS cache in the style of NodeLocal DNSCache: a real caching forwarder on
loopback between a Pod's resolver and the cluster DNS server.

Like the ``cluster.local`` block of node-local-dns's Corefile (``cache { success 9984 30;
denial 9984 5 }``, ``forward … { force_tcp }``) it keeps answers at most 30 s, denials at
most 5 s, and — as CoreDNS's ``cache`` plugin raises short TTLs to its ``MINTTL`` — at least
5 s; it serves the time left as every record's TTL, and asks upstream over TCP.

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.dns.server import DnsServer
>>> from svclab.dns.resolver import CachingResolver
>>> from svclab.cluster.clock import VirtualClock
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web}
... spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
... '''))
>>> clock = VirtualClock()
>>> with DnsServer(state, ttl=30) as cluster, NodeLocalCache(cluster.address, clock=clock) as local:
...     app = CachingResolver(local.address, cache_ttl=0, clock=clock)  # an app that never caches
...     _ = app.resolve("web.default.svc.cluster.local")
...     clock.advance(10)
...     again = app.resolve("web.default.svc.cluster.local")
...     upstream_queries = cluster.counters().by_transport
>>> again.addresses, again.ttl, upstream_queries
(('10.96.0.10',), 20, {'udp': 0, 'tcp': 1})
>>> [(e.time, e.event) for e in local.log]
[(0.0, 'miss'), (10.0, 'hit')]
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import NamedTuple

import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from svclab.dns import wire
from svclab.dns.records import Answer
from svclab.dns.resolver import Clock
from svclab.dns.serving import LoopbackServer

SUCCESS_TTL = 30
DENIAL_TTL = 5
MIN_TTL = 5
"""CoreDNS ``cache``'s default MINTTL: shorter TTLs (even 0) are cached this long."""
UPSTREAM_TIMEOUT = 2.0


class CacheEvent(NamedTuple):
    """One decision of the cache, at its clock's time."""

    time: float
    event: str
    """``hit``, ``miss`` (asked upstream) or ``expired`` (then asked upstream)."""
    name: str
    type: str
    rcode: str


class _Entry(NamedTuple):
    reply: dns.message.Message
    stored: float
    ttl: float


class NodeLocalCache(LoopbackServer):
    """Answer from the cache while fresh, else forward to `upstream` (host, port) and keep it."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.monotonic,
        success_ttl: float = SUCCESS_TTL,
        denial_ttl: float = DENIAL_TTL,
        force_tcp: bool = True,
        use_uvloop: bool = False,
    ) -> None:
        super().__init__(host, port, use_uvloop=use_uvloop)
        self.upstream, self.clock = upstream, clock
        self.success_ttl, self.denial_ttl, self.force_tcp = success_ttl, denial_ttl, force_tcp
        self.cache: dict[tuple[str, int, int], _Entry] = {}
        self.log: list[CacheEvent] = []

    def cache_table(self) -> list[dict]:
        """What is cached now: name, type, rcode, when stored, seconds left."""

        def rows() -> list[dict]:
            now = self.clock()
            return [
                {
                    "name": name,
                    "type": dns.rdatatype.to_text(rdtype),
                    "rcode": dns.rcode.to_text(e.reply.rcode()),
                    "stored": e.stored,
                    "left": round(e.stored + e.ttl - now, 3),
                }
                for (name, rdtype, _), e in self.cache.items()
            ]

        return self.call(rows)

    def respond(
        self, data: bytes, tcp: bool, client: tuple
    ) -> bytes | Awaitable[bytes | None] | None:
        """Serve a fresh cached answer with its TTLs counted down, or go upstream."""
        query, reply = self.parse(data, tcp, client)
        if query is None:
            return reply
        key = (query.name.to_text().lower(), query.qtype, query.qclass)
        now = self.clock()
        entry = self.cache.get(key)
        if entry is not None and now < entry.stored + entry.ttl:
            self._event("hit", query, entry.reply.rcode())
            return self._serve(query, entry.reply, entry.stored + entry.ttl - now, tcp, client)
        if entry is not None:
            del self.cache[key]
            self._event("expired", query, entry.reply.rcode())
        return self._fetch(query, key, tcp, client)

    async def _fetch(self, query: wire.Query, key: tuple, tcp: bool, client: tuple) -> bytes:
        ask = dns.message.make_query(query.name, query.qtype, query.qclass)
        host, port = self.upstream
        if self.force_tcp:
            reply = await dns.asyncquery.tcp(ask, host, UPSTREAM_TIMEOUT, port)
        else:
            reply, _ = await dns.asyncquery.udp_with_fallback(ask, host, UPSTREAM_TIMEOUT, port)
        now = self.clock()
        self._event("miss", query, reply.rcode())
        ttl = self._cache_ttl(reply)
        if ttl > 0:
            self.cache[key] = _Entry(reply, now, ttl)
        return self._serve(query, reply, ttl if ttl > 0 else None, tcp, client)

    def _cache_ttl(self, reply: dns.message.Message) -> float:
        """Seconds to keep `reply`: its smallest TTL capped by the success or denial cap
        (RFC 2308 for denials); SERVFAIL and other errors are not kept."""
        rcode = reply.rcode()
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return 0
        if reply.answer and rcode == dns.rcode.NOERROR:
            ttl = min(rr.ttl for rr in reply.answer)
            return min(self.success_ttl, max(MIN_TTL, ttl))
        soas = [rr for rr in reply.authority if rr.rdtype == dns.rdatatype.SOA]
        if not soas:
            return 0
        return min(self.denial_ttl, max(MIN_TTL, min(soas[0].ttl, soas[0][0].minimum)))

    def _serve(
        self,
        query: wire.Query,
        reply: dns.message.Message,
        ttl: float | None,
        tcp: bool,
        client: tuple,
    ) -> bytes:
        """Render `reply` for `query`; every record gets `ttl` (the time left in the cache, as
        CoreDNS's cache sets it), or keeps its own when the reply is not cached."""
        sections = [
            tuple(rr if ttl is None else _with_ttl(rr, ttl) for rr in s)
            for s in (reply.answer, reply.authority, reply.additional)
        ]
        answer = Answer(reply.rcode(), *sections, authoritative=False)
        out = wire.render(query, answer, wire.TCP_LIMIT if tcp else query.udp_limit())
        self.note(
            query.name.to_text().lower(),
            query.qtype,
            reply.rcode(),
            client,
            tcp,
            wire.truncated(out),
        )
        return out

    def _event(self, event: str, query: wire.Query, rcode: int) -> None:
        self.log.append(
            CacheEvent(
                self.clock(),
                event,
                query.name.to_text().lower(),
                dns.rdatatype.to_text(query.qtype),
                dns.rcode.to_text(rcode),
            )
        )


def _with_ttl(rrset: dns.rrset.RRset, ttl: float) -> dns.rrset.RRset:
    """A copy of `rrset` with its TTL set to the whole seconds left of `ttl`."""
    copy = rrset.copy()
    copy.ttl = max(0, int(ttl))
    return copy
