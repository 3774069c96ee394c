"""Where each traffic policy sends connections, measured over every node's own rules.

Each node of the model cluster (`svclab.experiments.policy_cluster`) gets the iptables rules
its kube-proxy would write (`svclab.proxy.iptables.render` with that node's name, address and
zone), and a `svclab.proxy.sampler.Sampler` draws connections through them: the Pod a
connection reaches, whether it was masqueraded and whether it was dropped are what the rules
say. External clients (203.0.113.1-16) come in through a node's address on the NodePort or,
as a cloud load balancer forwards them, to the load-balancer IP; internal clients are a Pod on
each node.

>>> from svclab.experiments.policy_cluster import load
>>> lab = Lab.of(load())
>>> split = lab.split("etp-local", "node-3", connections=30)
>>> split.dropped_pct, split.shares
(100.0, {})
>>> lab.split("etp-cluster", "node-3", connections=300).client_ip_kept_pct
0.0
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from matplotlib.figure import Figure

import svclab.proxy.iptables.render as iptables
import svclab.proxy.nftables.render as nftables
from svclab.api.state import ClusterState
from svclab.experiments.policy_cluster import NodeView, nodes, proxy_config
from svclab.proxy.iptables.trace import IPTablesTracer
from svclab.proxy.nftables.trace import NFTablesTracer
from svclab.proxy.packet import Packet, TraceResult
from svclab.proxy.sampler import Sampler
from svclab.report.result import Result, Text, say
from svclab.report.tables import format_table

EXTERNAL_CLIENTS = 16
MODES = {
    "iptables": (iptables.render, IPTablesTracer),
    "nftables": (nftables.render, NFTablesTracer),
}
"""Mode → its renderer and tracer."""


@dataclass(frozen=True)
class Case:
    """A way into a Service: its name, how traffic enters (``lb``, ``nodeport`` or ``pod``)."""

    label: Text
    service: str
    via: str


CASES = {
    "etp-cluster": Case({"en": "ETP Cluster", "zh_CN": "ETP Cluster"}, "web-cluster", "lb"),
    "etp-local": Case({"en": "ETP Local", "zh_CN": "ETP Local"}, "web-local", "lb"),
    "itp-cluster": Case({"en": "ITP Cluster", "zh_CN": "ITP Cluster"}, "web-cluster", "pod"),
    "itp-local": Case({"en": "ITP Local", "zh_CN": "ITP Local"}, "web-itp-local", "pod"),
    "same-zone": Case({"en": "PreferSameZone", "zh_CN": "PreferSameZone"}, "web-same-zone", "pod"),
    "same-node": Case({"en": "PreferSameNode", "zh_CN": "PreferSameNode"}, "web-same-node", "pod"),
}
"""Case → Service and entry. ``itp-cluster`` is the ETP Cluster Service's own ClusterIP."""
VIA = {
    "lb": {"en": "load balancer", "zh_CN": "负载均衡器"},
    "nodeport": {"en": "NodePort", "zh_CN": "NodePort"},
    "pod": {"en": "Pod on the node", "zh_CN": "节点上的 Pod"},
}


@dataclass(frozen=True)
class Split:
    """What `connections` connections entering one node met."""

    connections: int
    shares: dict[str, float]
    """Pod name → share (%) of all connections it received."""
    dropped_pct: float
    client_ip_kept_pct: float
    """Of the delivered connections, the share the Pod saw with the client's own source IP."""
    same_zone_pct: float
    """Of the delivered connections, the share served in the zone they entered."""


@dataclass
class Lab:
    """A cluster state, its nodes, and one sampler per node over that node's rules."""

    state: ClusterState
    seed: int = 0
    mode: str = "iptables"
    """``iptables`` or ``nftables``: whose rules the connections walk."""
    _samplers: dict[str, Sampler] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, state: ClusterState, seed: int = 0, mode: str = "iptables") -> Lab:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        return cls(state, seed, mode)

    @cached_property
    def nodes(self) -> list[NodeView]:
        return nodes(self.state)

    @cached_property
    def pod_names(self) -> dict[str, str]:
        """Pod IP → Pod name."""
        return {p.status.pod_ip: p.metadata.name for p in self.state.pods}

    @cached_property
    def pod_zone(self) -> dict[str, str]:
        """Pod name → the zone of its node."""
        zone = {n.name: n.zone for n in self.nodes}
        return {p.metadata.name: zone.get(p.spec.node_name, "") for p in self.state.pods}

    def node(self, name: str) -> NodeView:
        return next(n for n in self.nodes if n.name == name)

    def rules(self, node: str) -> str:
        """What `node`'s kube-proxy writes: iptables-restore input or an ``nft -f`` ruleset."""
        return MODES[self.mode][0](self.state, proxy_config(self.node(node)))

    def sampler(self, node: str) -> Sampler:
        if node not in self._samplers:
            view = self.node(node)
            seed = self.seed + self.nodes.index(view)
            make = functools.partial(Sampler.for_mode, self.mode)
            self._samplers[node] = make(self.rules(node), proxy_config(view), seed=seed)
        return self._samplers[node]

    def trace(self, case: str, node: str, via: str = "") -> TraceResult:
        """Every branch the first packet of `case` can take through `node`'s rules."""
        config = proxy_config(self.node(node))
        tracer = MODES[self.mode][1](self.rules(node), config)
        return tracer.trace(self.packet(case, node, 0, via))

    def packet(self, case: str, node: str, client: int = 0, via: str = "") -> Packet:
        """The first packet of a connection of `case` entering `node` (`via` overrides how)."""
        spec = next(s for s in self.state.services if s.metadata.name == CASES[case].service)
        view, port = self.node(node), spec.spec.ports[0]
        via = via or CASES[case].via
        if via == "pod":
            return Packet(view.client, spec.spec.cluster_ip, port.port)
        source = f"203.0.113.{1 + client % EXTERNAL_CLIENTS}"
        if via == "nodeport":
            return Packet(source, view.ip, port.node_port)
        return Packet(source, spec.status.load_balancer.ingress[0].ip, port.port)

    def split(self, case: str, node: str, connections: int = 600, via: str = "") -> Split:
        """Open `connections` connections of `case` into `node`, one after the other."""
        sampler = self.sampler(node)
        counts: Counter[str] = Counter()
        kept = same_zone = 0
        zone = self.node(node).zone
        for i in range(connections):
            packet = self.packet(case, node, i, via)
            outcome = sampler.connect(packet, 32768 + i)
            sampler.close(packet, 32768 + i)
            if outcome.destination is None:
                counts["dropped"] += 1
                continue
            pod = self.pod_names[outcome.destination.rpartition(":")[0]]
            counts[pod] += 1
            kept += not outcome.masquerade
            same_zone += self.pod_zone[pod] == zone
        delivered = connections - counts["dropped"]
        return Split(
            connections,
            {pod: _pct(n, connections) for pod, n in sorted(counts.items()) if pod != "dropped"},
            _pct(counts["dropped"], connections),
            _pct(kept, delivered),
            _pct(same_zone, delivered),
        )


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def source_seen(split: Split, lang: str = "en") -> str:
    """What the Pod sees as the source: the client's IP, a node's (SNAT), or nothing."""
    if not split.shares:
        return "—"
    if split.client_ip_kept_pct == 100:
        return say({"en": "client IP", "zh_CN": "客户端 IP"}, lang)
    if split.client_ip_kept_pct == 0:
        return say({"en": "node IP (SNAT)", "zh_CN": "节点 IP（SNAT）"}, lang)
    return f"{split.client_ip_kept_pct} %"


def split_rows(
    lab: Lab, cases: list[str], connections: int = 600, via: str = "", lang: str = "en"
) -> list[dict]:
    """A row per case and entry node: the share each Pod got, drops, the source IP seen."""
    pods = sorted(lab.pod_names.values())
    rows = []
    for case in cases:
        for node in lab.nodes:
            split = lab.split(case, node.name, connections, via=via)
            row = {"case": say(CASES[case].label, lang), "entry": node.name, "zone": node.zone}
            row.update({pod: split.shares.get(pod, 0.0) for pod in pods})
            row["dropped_pct"] = split.dropped_pct
            row["source_seen"] = source_seen(split, lang)
            rows.append(row)
    return rows


def grid(lab: Lab, cases: list[str], connections: int = 600) -> Result:
    """Case × entry node → the split, as a `Result` whose figure is the summary grid."""
    rows = []
    for case in cases:
        for node in lab.nodes:
            split = lab.split(case, node.name, connections)
            rows.append(
                {"case": case, "entry": node.name, **split.shares, "dropped": split.dropped_pct}
            )
    pods = sorted(lab.pod_names.values())
    home = {p.metadata.name: p.spec.node_name for p in lab.state.pods}
    data = {"cases": cases, "nodes": [n.name for n in lab.nodes], "pods": pods, "home": home}
    return Result("policy-grid", rows, data, _draw_grid)


def _draw_grid(result: Result, fig: Figure, lang: str) -> None:
    cases, node_names, pods = result.data["cases"], result.data["nodes"], result.data["pods"]
    home = result.data["home"]
    ax = fig.subplots()
    palette = [f"C{k}" for k in range(10) if k != 3]  # C3, red, means dropped
    colours = {pod: palette[k % len(palette)] for k, pod in enumerate(pods)}
    for i, case in enumerate(cases):
        for j, node in enumerate(node_names):
            row = next(r for r in result.rows if r["case"] == case and r["entry"] == node)
            y, left = len(cases) - 1 - i, j
            x = left + 0.05
            for pod in pods:
                share = row.get(pod, 0.0) / 100 * 0.9
                if share:
                    ax.barh(
                        y,
                        share,
                        left=x,
                        height=0.6,
                        color=colours[pod],
                        edgecolor="white",
                        hatch="" if home[pod] == node else "//",
                    )
                    if share > 0.12:
                        ax.text(
                            x + share / 2,
                            y,
                            pod,
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="white",
                        )
                    x += share
            if row["dropped"]:
                width = row["dropped"] / 100 * 0.9
                ax.barh(y, width, left=x, height=0.6, color="C3")
                ax.text(
                    x + width / 2,
                    y,
                    say({"en": "dropped", "zh_CN": "丢弃"}, lang),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                )
    ax.set_yticks(np.arange(len(cases)), [say(CASES[c].label, lang) for c in reversed(cases)])
    ax.set_xticks(np.arange(len(node_names)) + 0.5, node_names)
    ax.set_xlim(0, len(node_names))
    for j in range(1, len(node_names)):
        ax.axvline(j, color="grey", lw=0.5)
    ax.set_xlabel(say({"en": "node the traffic enters", "zh_CN": "流量进入的节点"}, lang))
    ax.set_title(
        say(
            {
                "en": "Where each policy sends the connections entering each node "
                "(hatched: a Pod on another node)",
                "zh_CN": "各策略把进入各节点的连接送往何处（斜线：其他节点上的 Pod）",
            },
            lang,
        )
    )


HEADERS = {
    "case": "情形",
    "entry": "入口节点",
    "node": "节点",
    "zone": "可用区",
    "pod": "Pod",
    "pods": "后端 Pod",
    "ip": "IP 地址",
    "dropped_pct": "丢弃 %",
    "dropped": "丢弃 %",
    "source_seen": "Pod 看到的源地址",
    "status": "状态码",
    "weight": "权重头",
    "load_balancer": "负载均衡器",
    "gap_s": "间隔（秒）",
    "same_pod_pct": "仍是同一 Pod %",
}
"""Column → its Chinese header; other columns (Pod names, API fields) keep their names."""


def show(rows: list[dict], lang: str = "en") -> str:
    """`rows` as an aligned table, headers in `lang`.

    >>> print(show([{"entry": "node-1", "dropped_pct": 0.0}], "zh_CN"))
    入口节点    丢弃 %
    node-1  0.0
    """
    say({"en": "", "zh_CN": ""}, lang)
    if lang == "en":
        return format_table(rows)
    return format_table([{HEADERS.get(k, k): v for k, v in row.items()} for row in rows])
