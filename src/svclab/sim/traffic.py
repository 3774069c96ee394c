"""Clients as arrays: they resolve through a cache policy, connect, reuse connections and retry.

Each client sends a request every ``1 / rate`` seconds from a random phase. Between two
engine events the world is fixed (which Pods answer, what kube-proxy and DNS hand out), so
`Traffic.flush` settles every request of every client in that interval with a few numpy
operations per *client state change* (a cache expiry, a broken connection), never per request.

Model, stated once:

- ``dns`` discovery is DNS round-robin over a headless Service: the answer lists the ready
  Pod IPs in a random order (CoreDNS `loadbalance` shuffles them); a client connects to the
  first address and, on failure, to the next one, as ``getaddrinfo``-driven dialers do.
- ``clusterip`` discovery resolves one stable virtual IP; kube-proxy picks a ready endpoint
  uniformly at random for every *new* connection (iptables `statistic`, nftables `numgen`).
- A request on a reused connection to a Pod that is gone fails once (connection reset); the
  client then reconnects. Every failed attempt is retried on a new connection, up to `retries`.
- Resolver caches: ``honour-ttl`` keeps an answer TTL seconds (TTL 0: not at all),
  ``ignore-ttl`` keeps it `stale_hold` seconds whatever the TTL, ``resolve-once`` forever.
  A cache is consulted only when a connection is opened, so reuse also hides DNS changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from svclab.sim.engine import Engine
from svclab.sim.lifecycle import Timeline


class Discovery(StrEnum):
    """How a client finds the Pods: DNS round-robin, or one ClusterIP in front of them."""

    DNS = "dns-rr"
    CLUSTER_IP = "clusterip"


class Resolver(StrEnum):
    """How long a client's resolver keeps an answer."""

    HONOUR_TTL = "honour-ttl"
    IGNORE_TTL = "ignore-ttl"
    RESOLVE_ONCE = "resolve-once"


def hold_seconds(resolver: Resolver, ttl: float, stale_hold: float) -> float:
    """Seconds a resolver of this kind reuses an answer that carried `ttl`.

    >>> [hold_seconds(r, 5, 300) for r in Resolver]
    [5, 300, inf]
    """
    if resolver is Resolver.HONOUR_TTL:
        return ttl
    if resolver is Resolver.IGNORE_TTL:
        return stale_hold
    return math.inf


@dataclass(frozen=True)
class Clients:
    """A homogeneous group of clients and how they behave."""

    discovery: Discovery = Discovery.CLUSTER_IP
    resolver: Resolver = Resolver.HONOUR_TTL
    reuse: bool = False
    count: int = 30
    rate: float = 10.0
    retries: int = 1
    ttl: float = 30.0
    stale_hold: float = 300.0

    @property
    def label(self) -> str:
        """A short name for tables and legends, e.g. ``dns-rr/resolve-once/reuse``."""
        return f"{self.discovery}/{self.resolver}/{'reuse' if self.reuse else 'new-conn'}"


class Backends:
    """The Pods of one Service as arrays, and what kube-proxy and the DNS server see now.

    Views lag the Pods: kube-proxy and CoreDNS learn of an EndpointSlice change only after
    `proxy_delay` and `dns_delay` seconds (watch latency plus a sync).
    """

    def __init__(
        self, engine: Engine, timeline: Timeline, proxy_delay: float = 1.0, dns_delay: float = 1.0
    ) -> None:
        self.timeline = timeline
        self.size = len(timeline.pods)
        # one extra, always-False slot so that "no Pod" (-1) indexes as not serving
        self.serving = np.zeros(self.size + 1, dtype=bool)
        # the world before the run started is settled: every view is current at time zero
        self._set_serving(engine.now)
        self.proxy_view = self.dns_view = timeline.ready_at(engine.now)
        for t in (t for t in timeline.change_times() if t > engine.now):
            engine.at(t, lambda t=t: self._set_serving(t))
            engine.at(
                t + proxy_delay, lambda t=t: setattr(self, "proxy_view", timeline.ready_at(t))
            )
            engine.at(t + dns_delay, lambda t=t: setattr(self, "dns_view", timeline.ready_at(t)))

    def _set_serving(self, t: float) -> None:
        self.serving[:-1] = self.timeline.serving_at(t)


@dataclass
class TrafficResult:
    """Per-bucket counts for one client group: requests, failures, DNS queries, load per Pod."""

    clients: Clients
    bucket: float
    ok: np.ndarray
    failed: np.ndarray
    gone_attempts: np.ndarray
    dns_queries: np.ndarray
    load: np.ndarray = field(repr=False)
    query_log: tuple[np.ndarray, np.ndarray] = field(
        repr=False, default=(np.empty(0, np.intp), np.empty(0))
    )

    def query_times(self, clients: np.ndarray | None = None) -> np.ndarray:
        """Sorted instants of the DNS queries sent by the given client indexes (default: all)."""
        who, times = self.query_log
        if clients is not None:
            times = times[np.isin(who, clients)]
        return np.sort(times)

    @property
    def times(self) -> np.ndarray:
        """Start time of each bucket."""
        return np.arange(len(self.ok)) * self.bucket

    @property
    def requests(self) -> int:
        """All requests sent (succeeded or failed)."""
        return int(self.ok.sum() + self.failed.sum())


class Traffic:
    """One client group attached to an engine; `result()` after the run."""

    def __init__(
        self,
        engine: Engine,
        backends: Backends,
        clients: Clients,
        until: float,
        bucket: float = 1.0,
    ) -> None:
        self.spec, self.backends, self.bucket = clients, backends, bucket
        self.rng = engine.spawn_rng()
        n, buckets = clients.count, max(1, math.ceil(until / bucket))
        self.gap = 1.0 / clients.rate
        self.next_req = self.rng.random(n) * self.gap
        self.hold = hold_seconds(clients.resolver, clients.ttl, clients.stale_hold)
        self.cache = np.full((n, max(1, backends.size)), -1, dtype=np.intp)
        self.cache_len = np.zeros(n, dtype=np.intp)
        # the clients ran before time zero: each holds an answer of a random age (warm caches)
        everyone = np.arange(n)
        self._cache_answer(everyone)
        self.expiry = (
            self.rng.random(n) * self.hold if math.isfinite(self.hold) else np.full(n, math.inf)
        )
        self.conn = np.full(n, -1, dtype=np.intp)
        self.spent = np.zeros(n, dtype=np.intp)  # attempts already used by the pending request
        self.ok = np.zeros(buckets, dtype=np.int64)
        self.failed = np.zeros(buckets, dtype=np.int64)
        self.gone = np.zeros(buckets, dtype=np.int64)
        self.queries = np.zeros(buckets, dtype=np.int64)
        self.query_log: list[tuple[np.ndarray, np.ndarray]] = []
        self.load = np.zeros((buckets, backends.size), dtype=np.int64)
        engine.every(bucket, lambda: None, until=until)  # bucket edges split intervals
        engine.on_interval(self.flush)

    def result(self) -> TrafficResult:
        """The counts so far."""
        log = (
            (
                np.concatenate([w for w, _ in self.query_log]),
                np.concatenate([t for _, t in self.query_log]),
            )
            if self.query_log
            else (np.empty(0, np.intp), np.empty(0))
        )
        return TrafficResult(
            self.spec, self.bucket, self.ok, self.failed, self.gone, self.queries, self.load, log
        )

    def _count(self, start: np.ndarray, end: np.ndarray | float) -> np.ndarray:
        """Requests on each client's grid in ``[start, end)``."""
        return np.maximum(0, np.ceil((end - start) / self.gap)).astype(np.int64)

    def flush(self, start: float, end: float) -> None:
        """Settle every request in ``[start, end)``; the world is constant inside it."""
        k = min(int(start // self.bucket), len(self.ok) - 1)
        serving, reuse = self.backends.serving, self.spec.reuse
        while True:
            idx = np.flatnonzero(self.next_req < end)
            if not idx.size:
                return
            if reuse:
                conn = self.conn[idx]
                live = serving[conn] & (conn >= 0)
                if live.any():
                    who = idx[live]
                    n = self._count(self.next_req[who], end)
                    self._served(k, self.conn[who], n)
                    self.next_req[who] += n * self.gap
                    self.spent[who] = 0
                broken = ~live & (conn >= 0)
                # the request on a dead keep-alive connection is an attempt that reached a gone Pod
                self.gone[k] += int(broken.sum())
                self.spent[idx[broken]] = 1
                self.conn[idx[broken]] = -1
                idx = idx[~live]
                if not idx.size:
                    continue
            self._connect(k, idx, end)

    def _connect(self, k: int, idx: np.ndarray, end: float) -> None:
        """Clients in `idx` open connections for their next request(s)."""
        t = self.next_req[idx]
        stale = self.expiry[idx] <= t
        if stale.any():
            self._resolve(k, idx[stale], t[stale])
        # requests until the cache expires or the interval ends meet the same world (at least one)
        seg = self._count(t, np.minimum(end, np.maximum(self.expiry[idx], t + 0.5 * self.gap)))
        seg = np.where(self.spent[idx] > 0, 1, seg)  # a retried request settles alone
        per_connection = self.spec.discovery is Discovery.CLUSTER_IP and not self.spec.reuse
        if per_connection:
            # kube-proxy draws an endpoint for every new connection: one row per request
            rows = np.repeat(idx, seg)
            weight = np.ones(rows.size, dtype=np.int64)
        else:
            # a DNS client's cache gives every one of those requests the same order, so a row
            # per client settles them all; a kept ClusterIP connection is drawn once
            rows = idx
            weight = seg if self.spec.discovery is Discovery.DNS else np.ones_like(seg)
        attempts = self.spec.retries + 1 - self.spent[rows]
        pods = self._pick(rows, max(1, int(attempts.max())))
        pods[
            np.arange(pods.shape[1]) >= attempts[:, None]
        ] = -1  # attempts this request no longer has
        ok = self.backends.serving[pods]
        found = ok.any(axis=1)
        first = np.where(found, ok.argmax(axis=1), 0)
        tried_gone = np.where(found, first, (pods >= 0).sum(axis=1))
        if self.spec.reuse:
            # connected: the next pass of `flush` sends the requests over the new connection
            self.conn[rows[found]] = pods[found, first[found]]
            weight = np.where(found, 0, weight)
        else:
            self._served(k, pods[found, first[found]], weight[found])
        self.failed[k] += int(weight[~found].sum())
        self.gone[k] += int((weight * tried_gone).sum())
        done = seg if per_connection else weight
        self.next_req[idx] += done * self.gap
        self.spent[idx[done > 0]] = 0

    def _resolve(self, k: int, who: np.ndarray, t: np.ndarray) -> None:
        """Clients `who` query DNS at times `t` and cache the answer."""
        self.queries[k] += who.size
        self.query_log.append((who, t.copy()))
        self.expiry[who] = t + self.hold
        self._cache_answer(who)

    def _cache_answer(self, who: np.ndarray) -> None:
        """Clients `who` store the DNS server's current answer."""
        if self.spec.discovery is Discovery.CLUSTER_IP:
            return  # the answer is the ClusterIP, the same every time
        view = self.backends.dns_view
        self.cache_len[who] = view.size
        if view.size:
            order = np.argsort(self.rng.random((who.size, view.size)), axis=1)
            self.cache[who, : view.size] = view[order]

    def _pick(self, idx: np.ndarray, attempts: int) -> np.ndarray:
        """The Pod each client's successive connection attempts reach (-1: no address)."""
        if self.spec.discovery is Discovery.CLUSTER_IP:
            view = self.backends.proxy_view
            if not view.size:
                return np.full((idx.size, attempts), -1, dtype=np.intp)  # no endpoints: REJECT
            return view[self.rng.integers(view.size, size=(idx.size, attempts))]
        length = self.cache_len[idx]
        cols = np.arange(attempts)[None, :] % np.maximum(length, 1)[:, None]
        pods = self.cache[idx[:, None], cols]
        pods[length == 0] = -1
        return pods

    def _served(self, k: int, pods: np.ndarray, n: np.ndarray) -> None:
        self.ok[k] += int(n.sum())
        self.load[k] += np.bincount(pods, weights=n, minlength=self.backends.size).astype(np.int64)


def simulate(
    timeline: Timeline,
    groups: list[Clients],
    until: float,
    seed: int = 0,
    bucket: float = 1.0,
    proxy_delay: float = 1.0,
    dns_delay: float = 1.0,
    progress=None,
) -> list[TrafficResult]:
    """Run every client group against the same Pods on one engine; one result per group.

    >>> from svclab.sim.lifecycle import PodSpan
    >>> tl = Timeline((PodSpan("a", "10.0.0.1", terminating=5, gone=5), PodSpan("b", "10.0.0.2")))
    >>> once = Clients(Discovery.DNS, Resolver.RESOLVE_ONCE, count=20, rate=10, retries=0)
    >>> vip = Clients(Discovery.CLUSTER_IP, Resolver.RESOLVE_ONCE, count=20, rate=10, retries=0)
    >>> dns, proxy = simulate(tl, [once, vip], until=20, seed=1)
    >>> dns.requests == proxy.requests == 20 * 10 * 20
    True
    >>> int(dns.failed[7:].sum()) > 0, int(proxy.failed[7:].sum())
    (True, 0)
    """
    engine = Engine(seed)
    backends = Backends(engine, timeline, proxy_delay, dns_delay)
    traffic = [Traffic(engine, backends, g, until, bucket) for g in groups]
    engine.run(until, progress)
    return [t.result() for t in traffic]
