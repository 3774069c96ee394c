"""Experiment 4: kube-proxy's modes side by side — load spread, first-packet cost, userspace overhead.

Three views, each from the package's own data planes:

- ``spread``: the same arrivals of new connections to one Service with four Pods, each
  connection sent where the mode puts it: iptables ``statistic random`` and nftables
  ``numgen random`` drawn by `svclab.proxy.sampler.Sampler` through the rendered rules
  (`svclab.proxy.iptables.render`, `svclab.proxy.nftables.render`), IPVS ``rr`` and ``lc`` by the
  scheduler simulation `svclab.proxy.ipvs.sched` over the real servers `svclab.proxy.ipvs.render`
  builds. Short connections carry one request each, so a Pod's load is the connections it
  got; long-lived ones (gRPC, WebSockets) carry requests for as long as they are open, so
  its load is the connections it has open. Random and round-robin spread *connections*;
  only least-connection looks at what is still open.
- ``cost``: rules evaluated by the first packet of a connection, and rule-set size, as the
  number of Services grows (`svclab.proxy.cost.table` over its `synthetic_state`).
- ``userspace``: a real measurement on loopback of what copying every byte through the
  userspace proxy (`svclab.proxy.userspace`, the mode removed in v1.26) adds to a request,
  against the same request sent straight to the Pod. Capped at about two seconds.
"""

from __future__ import annotations

import statistics
import time

import kubernetes.client as k8s
import numpy as np
from matplotlib.figure import Figure

import svclab.proxy.ipvs.render as ipvs
from svclab.api.manifests import build_object
from svclab.api.state import SERVICE_NAME_LABEL, ClusterState
from svclab.experiments._pods import HttpClient, PodServers
from svclab.proxy import cost, modes
from svclab.proxy.config import ProxyConfig
from svclab.proxy.ipvs.sched import Connection, schedule
from svclab.proxy.packet import Packet
from svclab.proxy.sampler import EPHEMERAL_PORTS, Sampler
from svclab.proxy.userspace import UserspaceProxy
from svclab.report.result import Result, say

NAME = "proxy-modes"
TITLE = {"en": "kube-proxy modes compared", "zh_CN": "kube-proxy 各模式对比"}
VIEWS = ("spread", "cost", "userspace")
MODES = ("iptables random", "nftables numgen", "IPVS rr", "IPVS lc")
CLUSTER_IP, PORT = "10.96.0.30", 80
CONFIG = ProxyConfig(
    hostname_override="node-1", node_ips=["192.168.0.1"], cluster_cidr="10.244.0.0/16"
)
CLIENT = "10.244.9.9"
WORKLOADS = {
    # name: (new connections per second, mean seconds open, seconds simulated)
    "short": (100.0, 0.02, 30.0),
    "long-lived": (2.0, 20.0, 300.0),
}
"""Arrivals are Poisson, durations exponential; the long-lived workload keeps ~40 open."""
WARM_UP = 60.0
"""Long-lived load is sampled once a second after this, when open connections have built up."""
USERSPACE_BUDGET = 2.0
"""Seconds of real time the userspace measurement may take, at most."""


def service_state(pods: int) -> ClusterState:
    """One ClusterIP Service with `pods` ready endpoints (10.244.1.10 …, port 8080)."""
    service = {
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"clusterIP": CLUSTER_IP, "ports": [{"port": PORT, "targetPort": 8080}]},
    }
    eps = {
        "kind": "EndpointSlice",
        "metadata": {"name": "web-1", "labels": {SERVICE_NAME_LABEL: "web"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [f"10.244.1.{10 + i}"]} for i in range(pods)],
        "ports": [{"port": 8080, "protocol": "TCP"}],
    }
    return ClusterState(
        services=[build_object(k8s.V1Service, service, NAME)],
        endpoint_slices=[build_object(k8s.V1EndpointSlice, eps, NAME)],
    )


def arrivals(rate: float, mean: float, seconds: float, seed: int) -> list[Connection]:
    """Poisson arrivals at `rate` per second for `seconds`, open for exponential times.

    >>> conns = arrivals(10.0, 1.0, 100.0, seed=1)
    >>> 900 < len(conns) < 1100, conns == sorted(conns, key=lambda c: c.start)
    (True, True)
    """
    rng = np.random.default_rng(seed)
    starts = np.cumsum(rng.exponential(1 / rate, size=int(rate * seconds * 1.5) + 10))
    starts = starts[starts < seconds]
    durations = rng.exponential(mean, size=starts.size)
    return [Connection(CLIENT, float(s), float(d)) for s, d in zip(starts, durations, strict=True)]


def place(mode: str, state: ClusterState, conns: list[Connection], seed: int) -> list[str]:
    """The ``ip:port`` each connection is sent to in `mode` (one of `MODES`)."""
    if mode.startswith("IPVS"):
        scheduler = mode.split()[1]
        vs = ipvs.build(state, CONFIG, scheduler).lookup("TCP", CLUSTER_IP, PORT)
        picks = schedule(scheduler, [rs.address for rs in vs.real_servers], conns)  # type: ignore[union-attr]
        return [p or "" for p in picks]
    kube_proxy_mode = mode.split()[0]  # "iptables random", "nftables numgen"
    text = modes.render(kube_proxy_mode, state, CONFIG)
    sampler = Sampler.for_mode(kube_proxy_mode, text, CONFIG, seed=seed)
    packet = Packet(CLIENT, CLUSTER_IP, PORT)
    placed = []
    for i in range(len(conns)):
        # every connection has its own source port: conntrack never pins one to another's Pod
        sport = EPHEMERAL_PORTS[i % len(EPHEMERAL_PORTS)]
        placed.append(sampler.connect(packet, sport).destination or "")
        sampler.close(packet, sport)
    return placed


def load_max_mean(
    conns: list[Connection], placed: list[str], servers: list[str], long: bool
) -> float:
    """Busiest Pod's load ÷ the mean: connections received (short), or, for long-lived ones,
    connections open, averaged over one-second samples after `WARM_UP`.

    >>> c = [Connection("x", 0.0, 10.0), Connection("x", 1.0, 10.0)]
    >>> load_max_mean(c, ["a", "a"], ["a", "b"], long=False)
    2.0
    """
    index = {s: i for i, s in enumerate(servers)}
    if not long:
        counts = np.bincount([index[p] for p in placed if p], minlength=len(servers))
        return round(float(counts.max() / counts.mean()), 3)
    starts = np.array([c.start for c in conns])
    ends = starts + np.array([c.duration for c in conns])
    who = np.array([index.get(p, -1) for p in placed])
    ratios = []
    for t in np.arange(WARM_UP, starts.max(), 1.0):
        open_now = who[(starts <= t) & (t < ends) & (who >= 0)]
        counts = np.bincount(open_now, minlength=len(servers))
        if counts.sum():
            ratios.append(counts.max() / counts.mean())
    return round(float(np.mean(ratios)), 3)


def spread(pods: int, seed: int, progress=None) -> tuple[list[dict], dict]:
    """Rows of the ``spread`` view, and the per-Pod counts for the figure."""
    state = service_state(pods)
    servers = [f"10.244.1.{10 + i}:8080" for i in range(pods)]
    rows, shares = [], {}
    steps = [(w, m) for w in WORKLOADS for m in MODES]
    for k, (workload, mode) in enumerate(steps):
        rate, mean, seconds = WORKLOADS[workload]
        conns = arrivals(rate, mean, seconds, seed)
        placed = place(mode, state, conns, seed + MODES.index(mode))  # own random stream
        counts = [placed.count(s) for s in servers]
        shares[(workload, mode)] = counts
        rows.append(
            {
                "workload": workload,
                "mode": mode,
                "connections": len(conns),
                "conn_max_min": round(max(counts) / min(counts), 3)
                if min(counts)
                else float("inf"),
                "load_max_mean": load_max_mean(conns, placed, servers, workload != "short"),
            }
        )
        if progress:
            progress((k + 1) / len(steps))
    return rows, {"shares": shares, "servers": servers}


def userspace_overhead(budget: float = USERSPACE_BUDGET, pods: int = 2) -> list[dict]:
    """Median microseconds per request, straight to a Pod and through the userspace proxy,
    on a kept connection and on a new connection per request; real sockets on loopback.

    Each of the four cases runs for a quarter of `budget` seconds (at most 5,000 requests).
    """
    rows = []
    with PodServers() as servers:
        ips = [f"127.77.2.{10 + i}" for i in range(pods)]
        for i, ip in enumerate(ips):
            servers.start(i, ip)
        with UserspaceProxy([(ip, servers.port) for ip in ips], vip="127.77.2.1") as proxy:
            targets = {"direct": (ips[0], servers.port), "userspace proxy": proxy.address}
            for kept in (True, False):
                for path, (ip, port) in targets.items():
                    rows.append(
                        {"path": path, "connection": "kept" if kept else "new per request"}
                        | _time_requests(ip, port, kept, budget / 4)
                    )
    for row in rows:
        base = next(
            r for r in rows if r["connection"] == row["connection"] and r["path"] == "direct"
        )
        row["overhead_us"] = round(row["median_us"] - base["median_us"], 1)
    return rows


def _time_requests(ip: str, port: int, kept: bool, seconds: float) -> dict:
    times = []
    deadline = time.perf_counter() + seconds
    with HttpClient() as client:
        while time.perf_counter() < deadline and len(times) < 5000:
            started = time.perf_counter()
            if not kept:
                client.connect(ip, port)
            client.get(ip, port)
            times.append(time.perf_counter() - started)
    return {
        "requests": len(times),
        "median_us": round(1e6 * statistics.median(times), 1),
        "requests_per_s": int(len(times) / sum(times)),
    }


def run(
    *,
    seed: int = 0,
    view: str = "spread",
    pods: int = 4,
    sizes: tuple[int, ...] = (10, 100, 1000),
    endpoints_per_service: int = 5,
    progress=None,
) -> Result:
    """One view of `VIEWS`; `sizes` and `endpoints_per_service` are for ``cost``.

    >>> r = run()
    >>> [(row["workload"], row["mode"], row["load_max_mean"]) for row in r.rows]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('short', 'iptables random', 1.015), ('short', 'nftables numgen', 1.037),
     ('short', 'IPVS rr', 1.0), ('short', 'IPVS lc', 1.0),
     ('long-lived', 'iptables random', 1.343), ('long-lived', 'nftables numgen', 1.33),
     ('long-lived', 'IPVS rr', 1.246), ('long-lived', 'IPVS lc', 1.071)]
    >>> cost_rows = run(view="cost", sizes=(10, 100)).rows
    >>> [(row["mode"], row["services"], row["first_packet"]) for row in cost_rows]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('iptables', 10, 26), ('iptables', 100, 116), ('nftables', 10, 14), ('nftables', 100, 14),
     ('ipvs', 10, 14), ('ipvs', 100, 14)]
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")
    if not 2 <= pods <= 100:
        raise ValueError("pods must be between 2 and 100")
    if view == "spread":
        rows, data = spread(pods, seed, progress)
    elif view == "cost":
        rows, data = cost.table(sizes, endpoints_per_service), {}
    else:
        rows, data = userspace_overhead(), {}
    if progress:
        progress(1.0)
    return Result(NAME, rows, {"view": view, **data}, _draw)


def _draw(result: Result, fig: Figure, lang: str) -> None:
    {"spread": _draw_spread, "cost": _draw_cost, "userspace": _draw_userspace}[result.data["view"]](
        result, fig, lang
    )
    fig.suptitle(say(TITLE, lang))


def _draw_spread(result: Result, fig: Figure, lang: str) -> None:
    axes = fig.subplots(1, 2, sharey=True)
    titles = {
        "short": {
            "en": "Short connections: load = connections received",
            "zh_CN": "短连接：负载 = 收到的连接数",
        },
        "long-lived": {
            "en": "Long-lived: load = connections open",
            "zh_CN": "长连接：负载 = 打开的连接数",
        },
    }
    for ax, workload in zip(axes, WORKLOADS, strict=True):
        rows = result.where(workload=workload)
        ax.bar(
            [r["mode"] for r in rows],
            [r["load_max_mean"] for r in rows],
            color=[f"C{i}" for i in range(len(rows))],
        )
        ax.axhline(1.0, color="black", ls=":", lw=1)
        ax.set_title(say(titles[workload], lang), fontsize=10)
        ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    axes[0].set_ylabel(say({"en": "busiest Pod ÷ average", "zh_CN": "最忙 Pod ÷ 平均"}, lang))


def _draw_cost(result: Result, fig: Figure, lang: str) -> None:
    left, right = fig.subplots(1, 2)
    for mode in dict.fromkeys(r["mode"] for r in result.rows):
        rows = result.where(mode=mode)
        services = [r["services"] for r in rows]
        left.plot(services, [r["first_packet"] for r in rows], "o-", label=mode)
        right.plot(services, [r["size"] for r in rows], "o-", label=mode)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(say({"en": "Services", "zh_CN": "Service 数量"}, lang))
        ax.legend()
    left.set_ylabel(
        say({"en": "rules evaluated by a first packet", "zh_CN": "首包需匹配的规则数"}, lang)
    )
    right.set_ylabel(say({"en": "rules and set elements", "zh_CN": "规则与集合元素数"}, lang))


def _draw_userspace(result: Result, fig: Figure, lang: str) -> None:
    ax = fig.subplots()
    names = {
        "kept": {"en": "kept connection", "zh_CN": "保持连接"},
        "new per request": {"en": "new connection per request", "zh_CN": "每个请求新建连接"},
    }
    paths = {
        "direct": {"en": "straight to the Pod", "zh_CN": "直连 Pod"},
        "userspace proxy": {"en": "through the userspace proxy", "zh_CN": "经用户态代理"},
    }
    x = np.arange(len(names))
    for j, path in enumerate(paths):
        values = [result.one(path=path, connection=c)["median_us"] for c in names]
        ax.bar(x + (j - 0.5) * 0.4, values, 0.4, label=say(paths[path], lang))
    ax.set_xticks(x, [say(names[c], lang) for c in names])
    ax.set_ylabel(say({"en": "median µs per request", "zh_CN": "每个请求的中位耗时（微秒）"}, lang))
    ax.legend()
