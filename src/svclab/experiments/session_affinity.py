"""Experiment 6: ClientIP session affinity — how long it holds, and what a rollout does to it.

Two Services in front of the same Pods, one with ``sessionAffinity: ClientIP`` and its
``timeoutSeconds``, one without. Their iptables rules are rendered by
`svclab.proxy.iptables.render` and connections are drawn through them by
`svclab.proxy.sampler.Sampler` on its virtual clock: the ``recent --rcheck --seconds``
rule that keeps a client on its Pod, and the ``recent --set`` that refreshes the record,
are the rendered rules' own.

The record is refreshed only by a *new connection* (only a first packet walks the nat
table), so "idle" means "no new connection", however busy an open one is.

Across a rolling update (the Pods of `svclab.sim.rollout.rolling_update`), the rules are
rendered again at each endpoint change with the sampler's records kept, as the kernel keeps
a ``recent`` list whose rule survives an ``iptables-restore``. A replaced Pod has a new IP,
so a new endpoint chain and a new list: its clients are balanced afresh, the others stay.
"""

from __future__ import annotations

import math
from collections import Counter

import kubernetes.client as k8s
import numpy as np
from matplotlib.figure import Figure

from svclab.api.manifests import build_object
from svclab.api.state import SERVICE_NAME_LABEL, ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import render
from svclab.proxy.packet import Packet
from svclab.proxy.sampler import EPHEMERAL_PORTS, Sampler
from svclab.report.result import Result, say
from svclab.sim.lifecycle import Timeline
from svclab.sim.rollout import rolling_update

NAME = "session-affinity"
TITLE = {"en": "ClientIP session affinity and its timeout", "zh_CN": "ClientIP 会话亲和性及其超时"}
VIEWS = ("idle", "rollout")
"""``idle``: a row per idle gap (did the reconnect reach the same Pod?); ``rollout``: a row
per affinity mode across a rolling update (how often clients moved, the load afterwards)."""

MODES = {"ClientIP": "10.96.0.20", "None": "10.96.0.21"}
"""Affinity mode → the ClusterIP of the Service that has it."""
PORT, TARGET_PORT = 80, 8080
CONFIG = ProxyConfig(
    hostname_override="node-1", node_ips=["192.168.0.1"], cluster_cidr="10.0.0.0/8"
)


def client_ip(i: int) -> str:
    """The IP of client Pod `i`.

    >>> client_ip(0), client_ip(251)
    ('10.100.0.1', '10.100.1.2')
    """
    return f"10.100.{i // 250}.{1 + i % 250}"


def state(pod_ips: list[str], timeout: int) -> ClusterState:
    """Both Services, with `timeout` seconds of ClientIP affinity on the first, over `pod_ips`."""
    out = ClusterState()
    for mode, cluster_ip in MODES.items():
        name = f"web-{mode.lower()}"
        spec: dict = {
            "clusterIP": cluster_ip,
            "ports": [{"name": "http", "port": PORT, "targetPort": TARGET_PORT}],
            "sessionAffinity": mode,
        }
        if mode == "ClientIP":
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": timeout}}
        service = {"kind": "Service", "metadata": {"name": name}, "spec": spec}
        eps = {
            "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-1", "labels": {SERVICE_NAME_LABEL: name}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip]} for ip in pod_ips],
            "ports": [{"name": "http", "port": TARGET_PORT, "protocol": "TCP"}],
        }
        out.services.append(build_object(k8s.V1Service, service, NAME))
        out.endpoint_slices.append(build_object(k8s.V1EndpointSlice, eps, NAME))
    return out


def sampler(
    pod_ips: list[str], timeout: int, seed: int, previous: Sampler | None = None
) -> Sampler:
    """A sampler over freshly rendered rules; with `previous`, its clock and affinity records
    carry over (kube-proxy re-syncing the rules on a running node)."""
    new = Sampler.for_mode("iptables", render(state(pod_ips, timeout), CONFIG), CONFIG, seed=seed)
    if previous is not None:
        new.now, new.affinity = previous.now, previous.affinity
    return new


def _pod(s: Sampler, client: str, mode: str, sport: int) -> str | None:
    """Open and close one connection from `client` to the `mode` Service; the Pod IP reached."""
    packet = Packet(client, MODES[mode], PORT)
    outcome = s.connect(packet, sport)
    s.close(packet, sport)
    return outcome.destination.rpartition(":")[0] if outcome.destination else None


def idle_trials(gaps: tuple[float, ...], *, timeout: int, clients: int, seed: int) -> list[dict]:
    """Every client connects, then again after each gap in turn with no connection between:
    per gap and mode, the share (%) of clients whose connection reached their previous Pod.

    >>> [trial["ClientIP"] for trial in idle_trials((30, 90), timeout=60, clients=100, seed=1)]
    [100.0, 37.0]
    """
    s = sampler(["10.244.0.2", "10.244.1.2", "10.244.2.2"], timeout, seed)
    last = {
        (i, mode): _pod(s, client_ip(i), mode, EPHEMERAL_PORTS[0])
        for i in range(clients)
        for mode in MODES
    }
    trials = []
    for k, gap in enumerate(gaps, start=1):
        s.advance(gap)
        now = {(i, mode): _pod(s, client_ip(i), mode, EPHEMERAL_PORTS[k]) for i, mode in last}
        same = Counter(mode for (i, mode), pod in now.items() if pod == last[(i, mode)])
        trials.append({mode: round(100 * same[mode] / clients, 2) for mode in MODES})
        last = now
    return trials


def rollout_trial(
    timeline: Timeline, *, timeout: int, clients: int, interval: float, duration: float, seed: int
) -> dict[str, np.ndarray]:
    """Clients reconnect every `interval` s while the Pods of `timeline` change.

    Returns per mode an array of (time, client, Pod index or -1) rows, one per connection.
    """
    changes = [t for t in timeline.change_times() if 0 < t < duration]
    phases = np.random.default_rng(seed).random(clients) * interval
    times = sorted(
        (phase + k * interval, c)
        for c, phase in enumerate(phases)
        for k in range(math.ceil((duration - phase) / interval))
    )
    index = {pod.ip: i for i, pod in enumerate(timeline.pods)}

    def ready(t: float) -> list[str]:
        return [timeline.pods[i].ip for i in timeline.ready_at(t)]

    s = sampler(ready(0.0), timeout, seed)
    made: dict[str, list[tuple[float, int, int]]] = {mode: [] for mode in MODES}
    for n, (t, c) in enumerate(times):
        while changes and changes[0] <= t:
            s.advance(changes[0] - s.now)
            s = sampler(ready(changes.pop(0)), timeout, seed + n, previous=s)
        s.advance(t - s.now)
        for mode in MODES:
            pod = _pod(s, client_ip(c), mode, EPHEMERAL_PORTS[n % len(EPHEMERAL_PORTS)])
            made[mode].append((t, c, index[pod] if pod else -1))
    return {mode: np.array(rows) for mode, rows in made.items()}


def run(
    *,
    seed: int = 0,
    timeout: int = 60,
    gaps: tuple[float, ...] = (1.0, 10.0, 30.0, 59.0, 61.0, 120.0, 600.0),
    clients: int = 100,
    interval: float = 5.0,
    duration: float = 90.0,
    view: str = "idle",
    progress=None,
) -> Result:
    """Affinity with `timeout` seconds (the API default is 10800; a short one shows the
    expiry) against none, after idle `gaps` and across a rolling update at 30 s.

    >>> r = run(clients=50, gaps=(10.0, 120.0))
    >>> [(row["idle_s"], row["clientip_same_pod_pct"], row["none_same_pod_pct"]) for row in r.rows]
    [(10.0, 100.0, 32.0), (120.0, 26.0, 42.0)]
    >>> roll = run(clients=30, gaps=(), view="rollout")
    >>> [(row["affinity"], row["moves_per_client"], row["load_max_min_after"]) for row in roll.rows]
    [('ClientIP', 1.43, 2.83), ('None', 11.33, 1.25)]
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")
    if timeout < 1 or clients < 1 or interval <= 0:
        raise ValueError("timeout, clients and interval must be positive")
    idle = list(
        zip(gaps, idle_trials(gaps, timeout=timeout, clients=clients, seed=seed), strict=True)
    )
    if progress:
        progress(0.5)
    timeline = rolling_update(replicas=3, start=30.0, seed=seed)
    rolled = rollout_trial(
        timeline, timeout=timeout, clients=clients, interval=interval, duration=duration, seed=seed
    )
    if progress:
        progress(1.0)
    settled = timeline.endpoints_settled()
    data = {
        "timeout": timeout,
        "idle": idle,
        "rollout": rolled,
        "timeline": timeline,
        "settled": settled,
        "interval": interval,
    }
    if view == "rollout":
        return Result(
            NAME, [_rollout_row(m, rolled[m], timeline, settled) for m in MODES], data, _draw
        )
    rows = [
        {
            "idle_s": gap,
            "timeout_s": timeout,
            "clientip_same_pod_pct": same["ClientIP"],
            "none_same_pod_pct": same["None"],
        }
        for gap, same in idle
    ]
    return Result(NAME, rows, data, _draw)


def same_as_previous(made: np.ndarray) -> np.ndarray:
    """For each connection after a client's first: whether it reached that client's
    previous Pod, as (time, same) rows in time order.

    >>> same_as_previous(np.array([(0, 0, 1), (1, 1, 2), (2, 0, 1), (3, 1, 0)]))
    array([[2., 1.],
           [3., 0.]])
    """
    last: dict[int, int] = {}
    out = []
    for t, c, pod in made:
        c = int(c)
        if c in last:
            out.append((t, float(last[c] == pod)))
        last[c] = pod
    return np.array(out, dtype=float).reshape(-1, 2)


def _rollout_row(mode: str, made: np.ndarray, timeline: Timeline, settled: float) -> dict:
    same = same_as_previous(made)
    after = made[made[:, 0] >= settled]
    counts = Counter(int(p) for p in after[:, 2] if p >= 0)
    shares = [counts[int(i)] for i in timeline.ready_at(settled)]
    clients = len({int(c) for c in made[:, 1]})
    return {
        "affinity": mode,
        "connections": len(made),
        "same_pod_pct": round(100 * float(same[:, 1].mean()), 2) if len(same) else math.nan,
        "moves_per_client": round(float((1 - same[:, 1]).sum()) / clients, 2),
        "refused": int((made[:, 2] < 0).sum()),
        "load_max_min_after": round(max(shares) / min(shares), 2) if min(shares) else math.inf,
    }


def _draw(result: Result, fig: Figure, lang: str) -> None:
    left, right = fig.subplots(1, 2)
    timeout = result.data["timeout"]
    idle = result.data["idle"]
    names = {
        "ClientIP": {"en": "ClientIP", "zh_CN": "ClientIP"},
        "None": {"en": "None", "zh_CN": "None"},
    }
    for mode, style in zip(MODES, ("o-", "x--"), strict=True):
        left.plot(
            [g for g, _ in idle],
            [same[mode] for _, same in idle],
            style,
            label=say(names[mode], lang),
        )
    left.axvline(
        timeout,
        color="black",
        ls=":",
        lw=1,
        label=say({"en": "timeoutSeconds", "zh_CN": "timeoutSeconds"}, lang),
    )
    left.set_xscale("log")
    left.set_ylim(0, 105)
    left.set_xlabel(
        say({"en": "idle time before reconnecting (s)", "zh_CN": "重连前的空闲时间（秒）"}, lang)
    )
    left.set_ylabel(
        say({"en": "reconnects to the same Pod (%)", "zh_CN": "重连到同一 Pod 的比例（%）"}, lang)
    )
    left.set_title(
        say({"en": "Affinity expires after the timeout", "zh_CN": "亲和性在超时后失效"}, lang)
    )
    left.legend(fontsize=8)
    width = result.data["interval"]
    for mode, style in zip(MODES, ("-", "--"), strict=True):
        same = same_as_previous(result.data["rollout"][mode])
        edges = np.arange(0.0, same[:, 0].max() + width, width) if len(same) else np.array([0.0])
        k = np.digitize(same[:, 0], edges) - 1
        share = [
            100 * same[k == b, 1].mean() if (k == b).any() else np.nan for b in range(len(edges))
        ]
        right.step(edges, share, style, where="post", label=say(names[mode], lang))
    timeline = result.data["timeline"]
    right.axvspan(
        timeline.change_start,
        result.data["settled"],
        color="0.9",
        label=say({"en": "rollout", "zh_CN": "滚动更新"}, lang),
    )
    right.set_ylim(0, 105)
    right.set_xlabel(say({"en": "time (s)", "zh_CN": "时间（秒）"}, lang))
    right.set_ylabel(
        say({"en": "reconnects to the same Pod (%)", "zh_CN": "重连到同一 Pod 的比例（%）"}, lang)
    )
    right.set_title(say({"en": "Across a rolling update", "zh_CN": "滚动更新期间"}, lang))
    right.legend(fontsize=8)
    fig.suptitle(say(TITLE, lang))
