"""Experiment 1: DNS round-robin vs a ClusterIP Service while a Deployment rolls its Pods.

The article's reasons against DNS round-robin, measured: resolvers that ignore the TTL and
applications that resolve once keep sending requests to Pods that are gone; a ClusterIP
stops doing so as soon as kube-proxy has the new endpoints. (The third reason, DNS load at
low TTLs, is experiment ``dns-load``.) The ``pods`` view shows where the requests went: with
kept connections even a proxy leaves the newest Pod idle.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from svclab.experiments.rollout_real import simulate_real
from svclab.experiments.words import group_name
from svclab.report.result import Result, say
from svclab.sim.lifecycle import PodSpan, Timeline
from svclab.sim.rollout import rolling_update
from svclab.sim.traffic import Clients, Discovery, Resolver, TrafficResult, simulate

NAME = "rolling-update"
TITLE = {
    "en": "DNS round-robin vs ClusterIP during a rolling update",
    "zh_CN": "滚动更新期间：DNS 轮询与 ClusterIP 对比",
}
DNS_ONLY_TITLE = {
    "en": "DNS round-robin clients during a rolling update",
    "zh_CN": "滚动更新期间的 DNS 轮询客户端",
}
MARKERS = "osD^vx*+"
"""One marker per client group, so that lines lying on each other stay visible."""
VIEWS = ("clients", "pods")
"""``clients``: a row per client group (failures, recovery, DNS queries); ``pods``: a row per
client group and Pod (who served the requests)."""


def run(
    *,
    seed: int = 0,
    replicas: int = 3,
    clients: int = 30,
    rate: float = 10.0,
    ttl: float = 30.0,
    stale_hold: float = 300.0,
    retries: int = 1,
    start: float = 10.0,
    ready_after: float = 5.0,
    drain: int = 0,
    duration: float = 120.0,
    proxy_delay: float = 1.0,
    dns_delay: float = 1.0,
    groups: tuple[str, ...] = (),
    view: str = "clients",
    real: bool = False,
    progress=None,
) -> Result:
    """Roll a Deployment once; one row per discovery × resolver × connection reuse.

    `ttl` is the DNS records' TTL (kubeadm's CoreDNS uses 30 s); `stale_hold` how long a
    TTL-ignoring resolver keeps an answer; `drain` how long a Pod keeps answering after
    SIGTERM; the delays are how late kube-proxy and the DNS server see an endpoint change.
    `groups` keeps only the client groups with these labels, in that order (empty: all
    twelve); `view` is one of `VIEWS`. With `real`, every lookup and request goes over
    loopback to real servers (`svclab.experiments.rollout_real`); keep it small
    (``clients × rate × duration`` per group, at most 10,000 requests in all).

    >>> r = run(clients=10, duration=60.0)
    >>> once = r.one(discovery="dns-rr", resolver="resolve-once", reuse=False)
    >>> vip = r.one(discovery="clusterip", resolver="resolve-once", reuse=False)
    >>> once["failed_after_settle"] > 0, vip["failed_after_settle"]
    (True, 0)
    >>> once["failed_pct_after_settle"], vip["failed_pct_after_settle"]
    (100.0, 0.0)
    >>> alone = run(clients=10, duration=60.0, groups=("dns-rr/resolve-once/new-conn",))
    >>> alone.rows[0] == once
    True
    >>> kept = run(clients=10, duration=60.0, groups=("clusterip/honour-ttl/reuse",), view="pods")
    >>> [(row["ready_s"], row["share_after_settle_pct"] > 0) for row in kept.rows][3:]
    [(15.0, True), (20.0, True), (25.0, False)]
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")
    timeline = rolling_update(
        replicas=replicas, start=start, ready_after=ready_after, drain=drain, seed=seed
    )
    everyone = [
        Clients(
            discovery,
            resolver,
            reuse,
            count=clients,
            rate=rate,
            retries=retries,
            ttl=ttl,
            stale_hold=stale_hold,
        )
        for discovery in Discovery
        for resolver in Resolver
        for reuse in (False, True)
    ]
    chosen = select(everyone, groups)
    # each group runs alone from the same seed: a group gives the same numbers whichever
    # groups run beside it (and the groups share their random draws, a fairer comparison)
    results = [
        result
        for i, group in enumerate(chosen)
        for result in (simulate_real if real else simulate)(
            timeline,
            [group],
            until=duration,
            seed=seed,
            proxy_delay=proxy_delay,
            dns_delay=dns_delay,
            progress=_share(progress, i, len(chosen)),
        )
    ]
    settled = timeline.endpoints_settled() + max(proxy_delay, dns_delay)
    data = {"timeline": timeline, "traffic": results, "settled": settled}
    if view == "pods":
        rows = [row for r in results for row in _pod_rows(r, timeline, settled)]
        return Result(NAME, rows, data, _draw_pods)
    return Result(NAME, [_row(r, timeline, settled) for r in results], data, _draw)


def _share(progress, i: int, n: int):
    """A progress callback for the `i`-th of `n` equal parts of a run (None stays None)."""
    return None if progress is None else (lambda done: progress((i + done) / n))


def select(groups: list[Clients], labels: tuple[str, ...]) -> list[Clients]:
    """The groups whose `Clients.label` is in `labels`, in that order (all when empty).

    >>> every = [Clients(d, Resolver.RESOLVE_ONCE) for d in Discovery]
    >>> [g.label for g in select(every, ("clusterip/resolve-once/new-conn",))]
    ['clusterip/resolve-once/new-conn']
    >>> select(every, ("dns/once",))
    Traceback (most recent call last):
    ...
    ValueError: unknown client group 'dns/once'; choose from dns-rr/resolve-once/new-conn, \
clusterip/resolve-once/new-conn
    """
    if not labels:
        return groups
    by_label = {g.label: g for g in groups}
    for label in labels:
        if label not in by_label:
            raise ValueError(f"unknown client group {label!r}; choose from {', '.join(by_label)}")
    return [by_label[label] for label in labels]


def _pods_in_order(timeline: Timeline) -> list[tuple[int, PodSpan]]:
    """(index, Pod) by the time each became ready, old Pods first."""
    return sorted(enumerate(timeline.pods), key=lambda item: (item[1].ready, item[1].terminating))


def _pod_rows(r: TrafficResult, timeline: Timeline, settled: float) -> list[dict]:
    after = r.load[math.ceil(settled / r.bucket) :].sum(axis=0)
    return [
        {
            "clients": r.clients.label,
            "pod": pod.name,
            "ready_s": pod.ready,
            "gone_s": pod.gone,
            "requests": int(r.load[:, i].sum()),
            "share_after_settle_pct": _pct(after[i], after.sum()),
        }
        for i, pod in _pods_in_order(timeline)
    ]


def imbalance(result: TrafficResult, timeline: Timeline) -> np.ndarray:
    """Per bucket: busiest ready Pod's requests ÷ idlest ready Pod's (inf if one got none)."""
    ratios = np.full(len(result.ok), np.nan)
    for k, t in enumerate(result.times):
        # only Pods ready for the whole bucket: a Pod's first or last second is not a fair share
        ready = np.intersect1d(timeline.ready_at(t), timeline.ready_at(t + result.bucket * 0.999))
        load = result.load[k, ready]
        if load.size >= 2 and load.max() > 0:
            ratios[k] = load.max() / load.min() if load.min() > 0 else math.inf
    return ratios


def _pct(part: float, whole: float) -> float:
    """`part` as a percentage of `whole` (0 when there is no whole), as a plain float.

    >>> _pct(np.int64(1), 3), _pct(0, 0)
    (33.33, 0.0)
    """
    return round(float(100 * part / max(1, whole)), 2)


def _row(r: TrafficResult, timeline: Timeline, settled: float) -> dict:
    failing = np.flatnonzero(r.failed)
    after = math.ceil(settled / r.bucket)
    sent_after = r.ok[after:].sum() + r.failed[after:].sum()
    last = r.times[failing[-1]] + r.bucket if failing.size else timeline.change_start
    tail = r.failed[-5:].sum() > 0  # still failing at the end: it never recovered
    ratio = imbalance(r, timeline)[-30:]
    ratio = ratio[~np.isnan(ratio)]
    return {
        "discovery": str(r.clients.discovery),
        "resolver": str(r.clients.resolver),
        "reuse": r.clients.reuse,
        "requests": r.requests,
        "failed": int(r.failed.sum()),
        "failed_pct": _pct(r.failed.sum(), r.requests),
        "failed_after_settle": int(r.failed[after:].sum()),
        "failed_pct_after_settle": _pct(r.failed[after:].sum(), sent_after),
        "to_gone_pods": int(r.gone_attempts.sum()),
        "recover_s": math.inf if tail else round(float(max(0.0, last - timeline.change_start)), 1),
        "load_max_min": round(float(np.median(ratio)), 2) if ratio.size else math.nan,
        "dns_queries": int(r.dns_queries.sum()),
    }


def _draw(result: Result, fig: Figure, lang: str) -> None:
    timeline, settled = result.data["timeline"], result.data["settled"]
    left, right = fig.subplots(1, 2)
    traffic = result.data["traffic"]
    for k, r in enumerate(traffic):
        style = "-" if r.clients.discovery is Discovery.DNS else "--"
        look = {
            "lw": 2.2 if r.clients.reuse else 1.2,
            "marker": MARKERS[k % len(MARKERS)],
            "markevery": (k * 3 % 20, 20),  # markers staggered: coinciding lines stay apart
            "markersize": 5,
            "label": group_name(r.clients.label, lang),
            "color": f"C{k % 10}",
        }
        left.plot(r.times + r.bucket, np.cumsum(r.failed), style, **look)
        ratio = imbalance(r, timeline)
        if np.isfinite(ratio[-10:]).any():
            right.plot(r.times, np.where(np.isfinite(ratio), ratio, np.nan), style, **look)
    for ax in (left, right):
        ax.axvspan(
            timeline.change_start,
            settled,
            color="0.9",
            label=say({"en": "rollout", "zh_CN": "滚动更新"}, lang),
        )
        ax.set_xlabel(say({"en": "time (s)", "zh_CN": "时间（秒）"}, lang))
    left.set_ylabel(say({"en": "failed requests so far", "zh_CN": "累计失败请求数"}, lang))
    left.set_title(say({"en": "Failures", "zh_CN": "失败请求"}, lang))
    left.set_yscale("symlog", linthresh=10)
    right.set_ylabel(
        say({"en": "busiest ÷ idlest ready Pod", "zh_CN": "最忙 ÷ 最闲的就绪 Pod"}, lang)
    )
    right.set_title(
        say(
            {"en": "Load spread (clients still working)", "zh_CN": "负载分布（仍能工作的客户端）"},
            lang,
        )
    )
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8)
    only_dns = all(r.clients.discovery is Discovery.DNS for r in traffic)
    fig.suptitle(say(DNS_ONLY_TITLE if only_dns else TITLE, lang))


def _draw_pods(result: Result, fig: Figure, lang: str) -> None:
    """Requests per second each Pod served, stacked, one panel per client group."""
    timeline, settled = result.data["timeline"], result.data["settled"]
    traffic = result.data["traffic"]
    axes = fig.subplots(1, len(traffic), sharey=True, squeeze=False)[0]
    order = _pods_in_order(timeline)  # the old Pods come first
    old = sum(pod.ready <= timeline.change_start for _, pod in order)
    greys = np.linspace(0.45, 0.8, max(1, old))
    palette = [str(greys[k]) if k < old else f"C{(k - old) % 10}" for k in range(len(order))]
    for ax, r in zip(axes, traffic, strict=True):
        ax.stackplot(
            r.times,
            *(r.load[:, i] / r.bucket for i, _ in order),
            labels=[pod.name for _, pod in order],
            colors=palette,
        )
        ax.axvline(
            settled,
            color="black",
            ls=":",
            label=say({"en": "endpoints updated", "zh_CN": "端点更新完毕"}, lang),
        )
        ax.set_title(group_name(r.clients.label, lang), fontsize=10)
        ax.set_xlabel(say({"en": "time (s)", "zh_CN": "时间（秒）"}, lang))
    axes[0].set_ylabel(say({"en": "requests per second", "zh_CN": "每秒请求数"}, lang))
    fig.legend(*axes[-1].get_legend_handles_labels(), loc="outside right center", fontsize=7)
    fig.suptitle(say({"en": "Which Pod served the requests", "zh_CN": "请求由哪个 Pod 处理"}, lang))
