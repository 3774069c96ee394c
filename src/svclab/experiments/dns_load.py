"""Experiment 2: queries per second at the cluster DNS server by TTL, clients and node cache.

The article's third reason against DNS round-robin: even resolvers that honour the TTL load
the DNS server heavily when the TTL is low. Clients here honour the TTL and open a new
connection for every request, so each request with an expired cache is one lookup.

The node-local cache is NodeLocal DNSCache's CoreDNS `cache` for the cluster zone
(kubernetes `cluster/addons/dns/nodelocaldns/nodelocaldns.yaml`: ``success 9984 30``): it
keeps an answer for its TTL clamped to [5, 30] s (the `cache` plugin's MINTTL default is
5 s), and asks the cluster DNS server only when its copy has expired.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from svclab.errors import SvclabError
from svclab.experiments.result import Result, say
from svclab.sim.lifecycle import PodSpan, Timeline
from svclab.sim.traffic import Clients, Discovery, Resolver, simulate

NAME = "dns-load"
TITLE = {"en": "DNS load vs record TTL", "zh_CN": "DNS 负载与记录 TTL"}
NODE_CACHE_MIN_TTL, NODE_CACHE_MAX_TTL = 5.0, 30.0


def node_cache_hold(ttl: float) -> float:
    """Seconds NodeLocal DNSCache keeps an answer carrying `ttl`.

    >>> [node_cache_hold(t) for t in (0, 1, 5, 30, 300)]
    [5.0, 5.0, 5.0, 30.0, 30.0]
    """
    return float(min(max(ttl, NODE_CACHE_MIN_TTL), NODE_CACHE_MAX_TTL))


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
    """
    if real:
        raise SvclabError(
            "real=True needs svclab.dns's caching resolvers, which are not in the package yet"
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
        rows.append(
            {
                "ttl": ttl,
                "clients": n,
                "qps_direct": round(int(result.dns_queries.sum()) / duration, 4),
                "qps_node_cache": round(cached / duration, 4),
            }
        )
        if progress:
            progress((i + 1) / len(cases))
    return Result(NAME, rows, {"duration": duration}, _draw)


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
        for n in sorted({row["clients"] for row in result.rows}):
            rows = result.where(clients=n)
            ax.plot(
                [str(r["ttl"]) for r in rows],
                [r[column] for r in rows],
                "o-",
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
