"""The proxy-modes chapter's cluster, tables and figures, each drawn from svclab's own runs.

>>> state, config = lab_cluster()
>>> result = trace("nftables", state, config, Packet(POD_CLIENT, WEB_IP, 80))
>>> sorted(result.destinations)
['10.244.1.2:8080', '10.244.1.3:8080', '10.244.2.4:8080']
>>> [row["mode"] for row in ping_rows(state, config, WEB_IP)]
['iptables', 'nftables', 'ipvs']
"""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes.client as k8s
import matplotlib

import svclab.proxy.ipvs.render as ipvs
from svclab.api.manifests import load_manifests
from svclab.api.state import SERVICE_NAME_LABEL, ClusterState
from svclab.proxy import cost, modes
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import render as render_iptables
from svclab.proxy.nftables.render import render as render_nftables
from svclab.proxy.packet import Packet, TraceResult
from svclab.proxy.partial_sync import partial
from svclab.proxy.scaling import MEASURES, MODES
from svclab.report.dataset import Dataset, load
from svclab.report.result import ResultFigure, Text, drawing_rc, say

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "labs" / "manifests" / "kernel-node.yaml"
DATA = ROOT / "docs" / "_data" / "bench"
CONFIG = ProxyConfig(
    hostname_override="node-a", node_ips=["192.168.0.2"], cluster_cidr="10.244.0.0/16"
)
POD_CLIENT = "10.244.1.9"
"""A Pod on node-a."""
WEB_IP = "10.96.0.10"
"""The ClusterIP of ``demo/web``: three endpoints, two on node-a and one on node-b."""
COLOURS = {"iptables": "C0", "nftables": "C2", "ipvs": "C1", "iptables-legacy": "C7"}


def lab_cluster() -> tuple[ClusterState, ProxyConfig]:
    """The kernel lab's cluster (``labs/manifests/kernel-node.yaml``) seen from node-a."""
    return ClusterState.from_manifests(load_manifests([LAB])), CONFIG


def trace(mode: str, state: ClusterState, config: ProxyConfig, packet: Packet) -> TraceResult:
    """`packet` traced through the rules `mode` renders for `state`."""
    return modes.trace(mode, modes.render(mode, state, config), packet, config)


def rules_of(mode: str, state: ClusterState, config: ProxyConfig, needle: str) -> str:
    """The lines of `mode`'s rules that mention `needle` (a Service name, an address)."""
    if mode == "ipvs":
        built = ipvs.build(state, config)
        text = "\n".join(
            (ipvs.render_ipvsadm(built.virtual_servers), ipvs.render_ipsets(built.ipsets))
        )
    else:
        text = (render_iptables if mode == "iptables" else render_nftables)(state, config)
    return "\n".join(line for line in text.splitlines() if needle in line)


# -- ping and wrong ports ----------------------------------------------------------------------

PING: dict[str, Text] = {
    "iptables": {
        "en": "no reply: no rule matches ICMP and no interface has the address",
        "zh_CN": "没有回应：没有规则匹配 ICMP，也没有网卡持有这个地址",
    },
    "nftables": {
        "en": "ICMP unreachable: cluster-ips-check rejects it",
        "zh_CN": "ICMP 不可达：cluster-ips-check 拒绝了它",
    },
    "ipvs": {
        "en": "ICMP unreachable: the address is on kube-ipvs0, but KUBE-IPVS-FILTER rejects it",
        "zh_CN": "ICMP 不可达：地址在 kube-ipvs0 上，但 KUBE-IPVS-FILTER 拒绝了它",
    },
}


def ping_rows(state: ClusterState, config: ProxyConfig, ip: str, lang: str = "en") -> list[dict]:
    """Per mode: is `ip` a local address of the node, how many rules match it whatever the
    protocol (the only ones an ICMP echo can meet), and what ping sees.

    Read off the rendered rules: iptables rules naming ``-d ip`` without ``-p``; nftables'
    ``cluster-ips-check`` reject with `ip` in ``@cluster-ips``; IPVS's KUBE-IPVS-FILTER reject
    with `ip` in ``KUBE-IPVS-IPS`` (the addresses on ``kube-ipvs0``).
    """
    built = ipvs.build(state, config)
    on_dummy = ip in built.ipset("KUBE-IPVS-IPS").entries
    nft = render_nftables(state, config)
    rejects = "ip daddr @cluster-ips reject" in nft and f"cluster-ips {{ {ip} }}" in nft
    ipvs_filter = "-m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT"
    any_protocol = {
        "iptables": sum(
            f"-d {ip}" in line and " -p " not in line
            for line in render_iptables(state, config).splitlines()
        ),
        "nftables": int(rejects),
        "ipvs": int(on_dummy and ipvs_filter in built.restore),
    }
    return [
        {
            "mode": mode,
            "local address": mode == "ipvs" and on_dummy,
            "rules for any protocol": any_protocol[mode],
            "ping": say(PING[mode], lang),
        }
        for mode in MODES
    ]


# -- scaling ---------------------------------------------------------------------------------

MEASURE_LABELS: dict[str, Text] = {
    "written": {"en": "rules and elements written", "zh_CN": "写入的规则与元素"},
    "bytes": {"en": "bytes handed to the kernel", "zh_CN": "交给内核的字节数"},
    "render_s": {"en": "seconds to render (svclab)", "zh_CN": "生成耗时（秒，svclab）"},
    "first_packet": {
        "en": "rules and lookups the first packet meets",
        "zh_CN": "首个数据包经过的规则与查找次数",
    },
}
SERVICES_AXIS: Text = {
    "en": "Services (5 endpoints each)",
    "zh_CN": "Service 数量（每个 5 个端点）",
}


def scaling_dataset() -> Dataset:
    """The rows ``python -m svclab.bench.scaling`` saved in ``docs/_data/bench/scaling.json``."""
    return load(DATA / "scaling.json")


def kernel_dataset() -> Dataset:
    """The rows ``python -m svclab.bench.kernel`` saved in ``docs/_data/bench/kernel.json``."""
    return load(DATA / "kernel.json")


def provenance(data: Dataset, lang: str) -> str:
    """One line for under a figure: machine, kernel, date and the command that measured it."""
    words = {
        "en": "Measured on {machine}, {kernel}, {date}, with `{command}`; the machine was shared.",
        "zh_CN": "测量环境：{machine}，{kernel}，{date}，命令 `{command}`；测量时机器由多人共用。",
    }
    return say(words, lang).format(**data.provenance())


def scaling_figure(rows: list[dict], measure: str, lang: str = "en") -> ResultFigure:
    """One measure of `svclab.proxy.scaling.table` rows against Services, a line per mode."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}")
    with matplotlib.rc_context(drawing_rc()):
        figure = ResultFigure(figsize=(6, 3.6), layout="constrained")
        ax = figure.subplots()
        for mode in MODES:
            mine = [r for r in rows if r["mode"] == mode]
            ax.plot(
                [r["services"] for r in mine],
                [r[measure] for r in mine],
                "o-",
                color=COLOURS[mode],
                label=mode,
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=say(SERVICES_AXIS, lang),
            ylabel=say(MEASURE_LABELS[measure], lang),
        )
        ax.grid(True, alpha=0.3)
        ax.legend()
    return figure


def growth(rows: list[dict], mode: str, measure: str) -> float:
    """How many times `measure` grows from the smallest to the largest cluster in `rows`.

    >>> growth([{"mode": "m", "services": 10, "x": 2}, {"mode": "m", "services": 100, "x": 20}], "m", "x")
    10.0
    """
    mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["services"])
    return mine[-1][measure] / mine[0][measure]


# -- the real kernel -------------------------------------------------------------------------

KERNEL_TEXT: dict[str, Text] = {
    "load": {"en": "seconds to load the full rule set", "zh_CN": "载入整套规则的耗时（秒）"},
    "latency": {"en": "connect latency, median (µs)", "zh_CN": "建立连接的延迟中位数（微秒）"},
    "services": {"en": "Services (5 endpoints each)", "zh_CN": "Service 数量（每个 5 个端点）"},
}
SERIES_NAMES: dict[str, Text] = {
    "iptables": {"en": "iptables (nf_tables backend)", "zh_CN": "iptables（nf_tables 后端）"},
    "iptables-legacy": {"en": "iptables (legacy backend)", "zh_CN": "iptables（legacy 后端）"},
    "nftables": {"en": "nftables", "zh_CN": "nftables"},
}


def kernel_figure(rows: list[dict], lang: str = "en") -> ResultFigure:
    """Load time (left) and median connect latency to the last Service (right), per series."""
    with matplotlib.rc_context(drawing_rc()):
        figure = ResultFigure(figsize=(10, 3.8), layout="constrained")
        load_ax, latency_ax = figure.subplots(1, 2)
        for series, name in SERIES_NAMES.items():
            mine = [r for r in rows if r["mode"] == series and "connect_p50_us" in r]
            n = [r["services"] for r in mine]
            style = {"color": COLOURS[series], "label": say(name, lang)}
            load_ax.plot(n, [r["load_s"] for r in mine], "o-", **style)
            latency_ax.plot(n, [r["connect_p50_us"] for r in mine], "o-", **style)
        load_ax.set(xscale="log", yscale="log", ylabel=say(KERNEL_TEXT["load"], lang))
        latency_ax.set(xscale="log", ylabel=say(KERNEL_TEXT["latency"], lang))
        latency_ax.set_ylim(bottom=0)
        for ax in (load_ax, latency_ax):
            ax.set_xlabel(say(KERNEL_TEXT["services"], lang))
            ax.grid(True, alpha=0.3)
        load_ax.legend()
    return figure


def kernel_row(rows: list[dict], series: str, services: int) -> dict:
    """The row of `series` at `services`."""
    return next(r for r in rows if r["mode"] == series and r["services"] == services)


# -- what a change costs ---------------------------------------------------------------------

CHANGE_TEXT: dict[str, Text] = {
    "y": {"en": "lines or operations written", "zh_CN": "写入的行数或操作数"},
    "full": {"en": "{mode}: full sync", "zh_CN": "{mode}：全量同步"},
    "partial": {"en": "{mode}: one endpoint removed", "zh_CN": "{mode}：删除一个端点"},
}


def change_cost(sizes: tuple[int, ...] = (10, 100, 1_000), endpoints: int = 5) -> list[dict]:
    """Per size and mode: lines (iptables) or operations (nft) of a full sync, and of the partial
    sync after the last Service loses one endpoint (`svclab.proxy.partial_sync`)."""
    rows = []
    for n in sizes:
        old = cost.synthetic_state(n, endpoints)
        new = cost.synthetic_state(n, endpoints)
        new.endpoint_slices[-1].endpoints = new.endpoint_slices[-1].endpoints[1:]
        for mode in ("iptables", "nftables"):
            full = partial(mode, ClusterState(), new, cost.CONFIG)
            change = partial(mode, old, new, cost.CONFIG)
            rows.append(
                {
                    "mode": mode,
                    "services": n,
                    "full": full.operations,
                    "partial": change.operations,
                }
            )
    return rows


def change_figure(rows: list[dict], lang: str = "en") -> ResultFigure:
    """Full sync against one partial sync, lines or operations, per mode."""
    with matplotlib.rc_context(drawing_rc()):
        figure = ResultFigure(figsize=(6, 3.6), layout="constrained")
        ax = figure.subplots()
        for mode in ("iptables", "nftables"):
            mine = [r for r in rows if r["mode"] == mode]
            n = [r["services"] for r in mine]
            for key, style in (("full", "o-"), ("partial", "s--")):
                ax.plot(
                    n,
                    [r[key] for r in mine],
                    style,
                    color=COLOURS[mode],
                    label=say(CHANGE_TEXT[key], lang).format(mode=mode),
                )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel=say(SERVICES_AXIS, lang),
            ylabel=say(CHANGE_TEXT["y"], lang),
        )
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return figure


def set_endpoints(state: ClusterState, service: str, addresses: list[str]) -> ClusterState:
    """A copy of `state` where `service`'s EndpointSlice lists exactly `addresses`, each like
    the slice's first endpoint (same node and conditions); the other objects are shared.

    >>> state, _ = lab_cluster()
    >>> after = set_endpoints(state, "web", ["10.244.1.2", "10.244.2.4"])
    >>> [e.addresses[0] for e in after.slices_for("demo", "web")[0].endpoints]
    ['10.244.1.2', '10.244.2.4']
    >>> len(state.slices_for("demo", "web")[0].endpoints)
    3
    """
    slices = []
    for endpoint_slice in state.endpoint_slices:
        if (endpoint_slice.metadata.labels or {}).get(SERVICE_NAME_LABEL) == service:
            endpoint_slice = copy.deepcopy(endpoint_slice)
            old = {e.addresses[0]: e for e in endpoint_slice.endpoints}
            template = endpoint_slice.endpoints[0]
            endpoint_slice.endpoints = [
                old.get(ip)
                or k8s.V1Endpoint(
                    addresses=[ip], conditions=template.conditions, node_name=template.node_name
                )
                for ip in addresses
            ]
        slices.append(endpoint_slice)
    return ClusterState(list(state.services), slices, list(state.pods), list(state.nodes))
