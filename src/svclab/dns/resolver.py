"""Clients that resolve like real ones, sending real queries: TTL honoured or ignored, names
resolved once at start-up, negative caching, glibc's search list. Each keeps a log of what it
asked and when, and shows what it has cached.

Time comes from an injectable clock, so tests and notebooks can jump ahead without waiting:

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.dns.server import DnsServer
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web}
... spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
... '''))
>>> from svclab.cluster.clock import VirtualClock
>>> clock = VirtualClock()
>>> with DnsServer(state) as srv:
...     client = CachingResolver(srv.address, clock=clock)   # honours the 5 s TTL
...     first = client.resolve("web.default.svc.cluster.local")
...     clock.advance(3)
...     second = client.resolve("web.default.svc.cluster.local")
...     clock.advance(3)
...     third = client.resolve("web.default.svc.cluster.local")
>>> [(r.addresses, r.source) for r in (first, second, third)]
[(('10.96.0.10',), 'network'), (('10.96.0.10',), 'cache'), (('10.96.0.10',), 'network')]
>>> [(e.time, e.event) for e in client.log]
[(0.0, 'query'), (3.0, 'cache hit'), (6.0, 'expired'), (6.0, 'query')]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype

from svclab.dns.resolvconf import ANSWER, NODATA, NXDOMAIN, OTHER, SERVFAIL, ResolvConf, run_search
from svclab.errors import SvclabError

Clock = Callable[[], float]

FOREVER = -1
"""``cache_ttl``/``negative_ttl`` for never expiring (JVM ``networkaddress.cache.ttl=-1``)."""


@dataclass(frozen=True)
class Resolution:
    """One resolution: the rcode, the addresses (or other records) and where they came from."""

    name: str
    type: str
    rcode: str
    addresses: tuple[str, ...]
    ttl: int
    source: str
    """``network``, ``cache`` or ``start-up``."""
    answer_count: int = 0
    """Records in the answer section (CNAMEs included), as glibc counts them."""


class LogEntry(NamedTuple):
    """What a client did, at its clock's time."""

    time: float
    event: str
    """``query``, ``cache hit``, ``negative hit``, ``expired`` or ``start-up``."""
    name: str
    type: str
    rcode: str
    addresses: tuple[str, ...]


@dataclass
class _Cached:
    result: Resolution
    stored: float
    expires: float | None  # None: forever


class CachingResolver:
    """Send queries to `server` (host, port) and cache the answers.

    `cache_ttl` follows the JVM's ``networkaddress.cache.ttl``: None honours each record's
    TTL, ``FOREVER`` (-1) keeps answers for the life of the client, 0 never caches, N caches
    for N seconds whatever the TTL. `negative_ttl` does the same for NXDOMAIN and NODATA;
    None means RFC 2308 (the SOA's TTL capped by its MINIMUM field; no SOA, no caching).
    """

    def __init__(
        self,
        server: tuple[str, int],
        *,
        cache_ttl: float | None = None,
        negative_ttl: float | None = None,
        clock: Clock = time.monotonic,
        tcp: bool = False,
        timeout: float = 2.0,
    ) -> None:
        self.server, self.cache_ttl, self.negative_ttl = server, cache_ttl, negative_ttl
        self.clock, self.tcp, self.timeout = clock, tcp, timeout
        self.cache: dict[tuple[str, str], _Cached] = {}
        self.log: list[LogEntry] = []

    @property
    def queries_sent(self) -> int:
        """How many queries went to the server."""
        return sum(1 for e in self.log if e.event == "query")

    def resolve(self, name: str, rdtype: str = "A") -> Resolution:
        """Resolve one absolute name (no search list), from the cache when still valid."""
        fqdn = dns.name.from_text(name).to_text()
        key = (fqdn.lower(), rdtype.upper())
        now = self.clock()
        cached = self.cache.get(key)
        if cached is not None:
            if cached.expires is None or now < cached.expires:
                event = "cache hit" if cached.result.addresses else "negative hit"
                self._log(event, cached.result)
                return dataclasses.replace(cached.result, source="cache")
            del self.cache[key]
            self._log("expired", cached.result)
        result = self._ask(fqdn, rdtype.upper())
        self._log("query", result)
        self._store(key, result, now)
        return result

    def cache_table(self) -> list[dict]:
        """What is cached now: name, type, rcode, addresses, when stored, when it expires."""
        now = self.clock()
        return [
            {
                "name": name,
                "type": rdtype,
                "rcode": c.result.rcode,
                "addresses": " ".join(c.result.addresses),
                "stored": c.stored,
                "expires": "never" if c.expires is None else c.expires,
                "left": "forever" if c.expires is None else round(c.expires - now, 3),
            }
            for (name, rdtype), c in self.cache.items()
        ]

    def _log(self, event: str, r: Resolution) -> None:
        self.log.append(LogEntry(self.clock(), event, r.name, r.type, r.rcode, r.addresses))

    def _ask(self, fqdn: str, rdtype: str) -> Resolution:
        query = dns.message.make_query(fqdn, rdtype)
        host, port = self.server
        try:
            if self.tcp:
                reply = dns.query.tcp(query, host, timeout=self.timeout, port=port)
            else:
                reply, _ = dns.query.udp_with_fallback(query, host, timeout=self.timeout, port=port)
        except dns.exception.Timeout:
            return Resolution(fqdn, rdtype, "TIMEOUT", (), 0, "network")
        return _result(fqdn, rdtype, reply)

    def _store(self, key: tuple[str, str], result: Resolution, now: float) -> None:
        if result.rcode not in ("NOERROR", "NXDOMAIN"):
            return  # SERVFAIL, REFUSED and timeouts are not cached
        positive = bool(result.addresses)
        policy = self.cache_ttl if positive else self.negative_ttl
        if not positive and result.ttl < 0 and policy is None:
            return  # RFC 2308: a negative answer without an SOA is not cached
        if policy == FOREVER:
            self.cache[key] = _Cached(result, now, None)
            return
        seconds = result.ttl if policy is None else policy
        if seconds > 0:
            self.cache[key] = _Cached(result, now, now + seconds)


def _result(fqdn: str, rdtype: str, reply: dns.message.Message) -> Resolution:
    """Addresses of the wanted type (after any CNAMEs) and the TTL to cache them for."""
    rcode = dns.rcode.to_text(reply.rcode())
    wanted = dns.rdatatype.from_text(rdtype)
    records = tuple(rd.to_text() for rr in reply.answer if rr.rdtype == wanted for rd in rr)
    if records:
        ttl = min(rr.ttl for rr in reply.answer)
    else:
        # Negative TTL (RFC 2308 section 5): min(SOA TTL, SOA MINIMUM); -1 when no SOA came.
        soas = [rr for rr in reply.authority if rr.rdtype == dns.rdatatype.SOA]
        ttl = min(soas[0].ttl, soas[0][0].minimum) if soas else -1
    return Resolution(
        fqdn, rdtype, rcode, records, ttl, "network", sum(len(rr) for rr in reply.answer)
    )


class StartupResolver:
    """Resolve names once, when created, and use those addresses for ever after — as nginx
    does for ``proxy_pass http://name`` (and connection pools that never re-resolve).

    Like nginx, it refuses to start when a name does not resolve.
    """

    def __init__(
        self,
        names: Iterable[str],
        server: tuple[str, int],
        *,
        rdtype: str = "A",
        clock: Clock = time.monotonic,
    ) -> None:
        self.client = CachingResolver(server, cache_ttl=FOREVER, clock=clock)
        self.addresses: dict[str, tuple[str, ...]] = {}
        for name in names:
            result = self.client.resolve(name, rdtype)
            if not result.addresses:
                raise SvclabError(f'host not found in upstream "{name}" ({result.rcode})')
            self.addresses[name] = result.addresses

    @property
    def log(self) -> list[LogEntry]:
        """The queries made at start-up (there are no others)."""
        return self.client.log

    def resolve(self, name: str) -> tuple[str, ...]:
        """The start-up addresses of `name`, however stale."""
        try:
            return self.addresses[name]
        except KeyError:
            raise SvclabError(f"{name!r} was not resolved at start-up") from None


@dataclass
class AddrInfo:
    """What ``getaddrinfo`` returned and every query it sent to get there."""

    name: str
    answered: str | None
    """The candidate name that got an answer, None if all failed."""
    addresses: list[str]
    queries: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, type, rcode) in the order sent."""


class GlibcResolver:
    """glibc's stub resolver for ``getaddrinfo``: resolv.conf's search list and ``ndots``,
    A and AAAA for each candidate name, and no cache of its own (unless `client` has one).

    The server is the first nameserver of `conf` on `port` (tests use a loopback port).
    """

    def __init__(
        self,
        conf: ResolvConf,
        port: int = 53,
        *,
        families: str = "AF_UNSPEC",
        client: CachingResolver | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.conf = conf
        self.types: Sequence[str] = {
            "AF_UNSPEC": ("A", "AAAA"),
            "AF_INET": ("A",),
            "AF_INET6": ("AAAA",),
        }[families]
        server = (conf.nameservers[0], port)
        self.client = client or CachingResolver(server, cache_ttl=0, negative_ttl=0, clock=clock)

    @property
    def log(self) -> list[LogEntry]:
        """Every query (and cache hit, if the client caches) in order."""
        return self.client.log

    def getaddrinfo(self, name: str) -> AddrInfo:
        """Resolve `name` as an application's ``getaddrinfo(name, …)`` would."""
        info = AddrInfo(name, None, [])

        def ask(candidate: str) -> str:
            results = [self.client.resolve(candidate, t) for t in self.types]
            info.queries += [(r.name, r.type, r.rcode) for r in results if r.source == "network"]
            verdict = _verdict(results)
            if verdict == ANSWER:
                info.addresses = [a for r in results for a in r.addresses]
            return verdict

        info.answered = run_search(name, self.conf, ask)
        return info


def _verdict(results: list[Resolution]) -> str:
    """glibc's reading of the A (and AAAA) replies for one candidate (``__res_context_query``):
    an answer in either is success; otherwise the first reply's rcode unless it is NOERROR."""
    if any(r.rcode == "NOERROR" and r.answer_count for r in results):
        return ANSWER
    first, second = results[0], results[-1]
    rcode = first.rcode if first.rcode != "NOERROR" else second.rcode
    return {"NXDOMAIN": NXDOMAIN, "SERVFAIL": SERVFAIL, "NOERROR": NODATA}.get(rcode, OTHER)
