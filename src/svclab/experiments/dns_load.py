"""Experiment 2: queries per second at the cluster DNS server by TTL, clients and node cache.

The article's third reason against DNS round-robin: even resolvers that honour the TTL load
the DNS server heavily when the TTL is low. Clients here honour the TTL and open a new
connection for every request, so each request with an expired cache is one lookup.

The node-local cache is NodeLocal DNSCache's CoreDNS `cache` for the cluster zone
(kubernetes `cluster/addons/dns/nodelocaldns/nodelocaldns.yaml`: ``success 9984 30``): it
keeps an answer for its TTL clamped to [5, 30] s (the `cache` plugin's MINTTL default is
5 s), and asks the cluster DNS server only when its copy has expired.

With ``real=True`` every lookup is a real `svclab.dns.resolver.CachingResolver` asking a
real `svclab.dns.server.DnsServer` on loopback, directly or through one real
`svclab.dns.nodelocal.NodeLocalCache` per node; the resolvers and caches share a virtual
clock, so a minute of lookups takes as long as the network round trips. Column
``qps_*_real`` counts what the cluster DNS server answered.
"""

from __future__ import annotations

import math

import kubernetes.client as k8s
import numpy as np
from matplotlib.figure import Figure

from svclab.api.manifests import build_object
from svclab.api.state import ClusterState
from svclab.cluster.clock import VirtualClock
from svclab.dns.nodelocal import NodeLocalCache
from svclab.dns.resolver import CachingResolver
from svclab.dns.server import DnsServer
from svclab.errors import SvclabError
from svclab.experiments.words import number
from svclab.report.result import Result, say
from svclab.sim.lifecycle import PodSpan, Timeline
from svclab.sim.traffic import Clients, Discovery, Resolver, simulate

NAME = "dns-load"
TITLE = {"en": "DNS load vs record TTL", "zh_CN": "DNS 负载与记录 TTL"}
NODE_CACHE_MIN_TTL, NODE_CACHE_MAX_TTL = 5.0, 30.0
REAL_LOOKUPS = 50_000
"""At most this many lookups (cache hits included) in a real run: it must stay seconds long."""
SERVICE = "web.default.svc.cluster.local"


def node_cache_hold(ttl: float) -> float:
    """Seconds NodeLocal DNSCache keeps an answer carrying `ttl`.

    >>> [node_cache_hold(t) for t in (0, 1, 5, 30, 300)]
    [5.0, 5.0, 5.0, 30.0, 30.0]
    """
    return float(min(max(ttl, NODE_CACHE_MIN_TTL), NODE_CACHE_MAX_TTL))


def direct_qps(clients: int, rate: float, ttl: float) -> float:
    """Queries per second that `clients` clients, each sending `rate` requests per second on
    a new connection and keeping an answer `ttl` seconds, send to the cluster DNS server:
    ``clients × rate ÷ max(1, ⌈ttl × rate⌉)``.

    A client asks at its first request once its copy has expired, so it asks once every
    ``⌈ttl × rate⌉`` requests (every request when that is 0). For ``ttl ≥ 1 / rate`` this is
    about ``clients ÷ ttl``: the request rate drops out.

    >>> direct_qps(1000, 5.0, 0.0), round(direct_qps(1000, 5.0, 30.0), 2), direct_qps(10, 5.0, 1.0)
    (5000.0, 33.33, 10.0)
    """
    return clients * rate / max(1, math.ceil(ttl * rate - 1e-9))


def node_cache_qps_bound(clients: int, rate: float, ttl: float, nodes: int) -> float:
    """The most queries per second that reach the cluster DNS server through one node-local
    cache per node: each cache asks at most once per `node_cache_hold` seconds, and never
    more often than its clients ask it.

    >>> node_cache_qps_bound(1000, 5.0, 0.0, 10), round(node_cache_qps_bound(10, 5.0, 300.0, 10), 4)
    (2.0, 0.0333)
    """
    busy = min(nodes, clients)
    return min(direct_qps(clients, rate, ttl), busy / node_cache_hold(ttl))


def upstream_queries(query_times: np.ndarray, hold: float) -> int:
    """Queries a cache sends upstream for client queries at sorted `query_times`:
    one at the first query, then one at the first query after each copy expires.

    >>> upstream_queries(np.array([0.0, 1.0, 4.9, 5.0, 5.1, 12.0]), 5.0)
    3
    """
    sent, i = 0, 0
    while i < query_times.size:
        sent += 1
        i = int(np.searchsorted(query_times, query_times[i] + hold, side="left"))
    return sent


def run(
    *,
    seed: int = 0,
    ttls: tuple[float, ...] = (0.0, 1.0, 5.0, 30.0, 300.0),
    client_counts: tuple[int, ...] = (10, 100, 1000),
    rate: float = 5.0,
    nodes: int = 10,
    duration: float = 60.0,
    real: bool = False,
    progress=None,
) -> Result:
    """Queries per second at the cluster DNS server, per TTL and client count, without and
    with a node-local cache (clients spread evenly over `nodes`).

    >>> r = run(ttls=(0.0, 30.0), client_counts=(10,), duration=30.0)
    >>> [(row["ttl"], row["qps_direct"], row["qps_node_cache"]) for row in r.rows]
    [(0.0, 50.0, 2.0), (30.0, 0.3333, 0.3333)]
    >>> real = run(ttls=(0.0, 30.0), client_counts=(10,), duration=30.0, real=True)
    >>> [(row["qps_direct"], row["qps_direct_real"]) for row in real.rows]
    [(50.0, 50.0), (0.3333, 0.3333)]
    """
    lookups = 2 * len(ttls) * sum(client_counts) * rate * duration  # direct and node cache
    if real and lookups > REAL_LOOKUPS:
        raise SvclabError(
            f"a real run of {lookups:.0f} lookups would take too long (at most {REAL_LOOKUPS}): "
            "give fewer --client-counts, --ttls or a shorter --duration"
        )
    static = Timeline((PodSpan("web-0", "10.244.0.10"),))
    rows = []
    cases = [(ttl, n) for n in client_counts for ttl in ttls]
    for i, (ttl, n) in enumerate(cases):
        group = Clients(
            Discovery.CLUSTER_IP, Resolver.HONOUR_TTL, reuse=False, count=n, rate=rate, ttl=ttl
        )
        (result,) = simulate(static, [group], until=duration, seed=seed)
        per_node = [members for members in np.array_split(np.arange(n), nodes) if members.size]
        cached = sum(
            upstream_queries(result.query_times(members), node_cache_hold(ttl))
            for members in per_node
        )
        row = {
            "ttl": ttl,
            "clients": n,
            "qps_direct": round(int(result.dns_queries.sum()) / duration, 4),
            "qps_node_cache": round(cached / duration, 4),
        }
        if real:
            times = _request_times(n, rate, duration, seed)
            for cache, column in ((False, "qps_direct_real"), (True, "qps_node_cache_real")):
                queries = real_queries(ttl, n, times, nodes if cache else 0, seed)
                row[column] = round(queries / duration, 4)
        rows.append(row)
        if progress:
            progress((i + 1) / len(cases))
    return Result(NAME, rows, {"duration": duration, "nodes": nodes}, _draw)


def _request_times(
    clients: int, rate: float, duration: float, seed: int
) -> list[tuple[float, int]]:
    """(time, client) of every request: each client every 1/rate s from a random phase."""
    rng = np.random.default_rng(seed)
    return sorted(
        (float(phase + k / rate), c)
        for c, phase in enumerate(rng.random(clients) / rate)
        for k in range(int(np.ceil((duration - phase) * rate)))
    )


def real_queries(
    ttl: float, clients: int, times: list[tuple[float, int]], nodes: int, seed: int
) -> int:
    """Queries a real DNS server answers while `clients` real resolvers that honour the TTL
    look the Service up at `times` (through `nodes` node-local caches if `nodes` > 0).

    As in the simulation, clients ran before time zero: each starts holding an answer of
    a random age (fetched straight from the server, before any node cache existed).
    """
    web = {
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"clusterIP": "10.96.0.10", "ports": [{"port": 80}]},
    }
    state = ClusterState(services=[build_object(k8s.V1Service, web, NAME)])
    clock = VirtualClock()
    ages = np.random.default_rng(seed).random(clients) * ttl
    with DnsServer(state, ttl=int(ttl)) as server:
        resolvers = [CachingResolver(server.address, clock=clock) for _ in range(clients)]
        for resolver, age in zip(resolvers, ages, strict=True):
            clock.now = -float(age)
            resolver.resolve(SERVICE)
        caches = [NodeLocalCache(server.address, clock=clock).start() for _ in range(nodes)]
        try:
            groups = np.array_split(np.arange(clients), max(1, nodes))
            for k, cache in enumerate(caches):
                for c in groups[k]:
                    resolvers[c].server = cache.address
            server.reset_counters()
            for t, c in times:
                clock.now = t
                resolvers[c].resolve(SERVICE)
            return server.counters().queries
        finally:
            for cache in caches:
                cache.stop()


def _draw(result: Result, fig: Figure, lang: str) -> None:
    left, right = fig.subplots(1, 2, sharey=True)
    for ax, column, title in (
        (
            left,
            "qps_direct",
            {"en": "Clients ask the cluster DNS", "zh_CN": "客户端直接查询集群 DNS"},
        ),
        (right, "qps_node_cache", {"en": "Through a node-local cache", "zh_CN": "经节点本地缓存"}),
    ):
        for k, n in enumerate(sorted({row["clients"] for row in result.rows})):
            rows = result.where(clients=n)
            ax.plot(
                [number(r["ttl"], lang) for r in rows],
                [r[column] for r in rows],
                # lines that coincide (the node caches cap every count alike) stay visible:
                # each count has its own dash and a smaller marker than the one before
                linestyle=("-", "--", ":")[k % 3],
                marker="osD^v"[k % 5],
                markersize=max(3, 10 - 3 * k),
                fillstyle="none" if k == 0 else "full",
                label=say({"en": f"{n} clients", "zh_CN": f"{n} 个客户端"}, lang),
            )
        ax.set_yscale("log")
        ax.set_xlabel(say({"en": "record TTL (s)", "zh_CN": "记录 TTL（秒）"}, lang))
        ax.set_title(say(title, lang))
        ax.legend()
    left.set_ylabel(
        say({"en": "queries per second at the DNS server", "zh_CN": "DNS 服务器每秒查询数"}, lang)
    )
    fig.suptitle(say(TITLE, lang))
