"""One lab run: build the node, load the rules, connect to every Service address, observe.

What `svclab kernel demo` prints and what a notebook shows; `run_lab` raises `KernelUnavailable`
(one sentence) where the kernel lab cannot run, so a notebook can fall back to the tracer.

>>> SOURCES
('node', 'client', 'pod')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from svclab.kernel.drive import DROP_TIMEOUT, Connection, Target, connect_many, service_targets
from svclab.kernel.load import render
from svclab.kernel.observe import ConntrackEntry, RuleCounter, conntrack_entries, rule_counters
from svclab.kernel.system import KernelError
from svclab.kernel.topology import KernelNode, node_config, plan_topology
from svclab.proxy.config import ProxyConfig
from svclab.proxy.servicemap import build_service_ports
from svclab.state import ClusterState

SOURCES = ("node", "client", "pod")
"""Where connections start: the node itself, a host outside the cluster, or the first Pod."""


@dataclass
class TargetResult:
    """The connections made to one Service address."""

    target: Target
    connections: list[Connection]


@dataclass
class LabRun:
    """Everything one run saw: the rules it loaded, the answers, the kernel's own records."""

    mode: str
    source: str
    source_ip: str
    node_ip: str
    rules: str
    results: list[TargetResult] = field(default_factory=list)
    conntrack: list[ConntrackEntry] = field(default_factory=list)
    counters: list[RuleCounter] = field(default_factory=list)


def source_of(node: KernelNode, source: str) -> tuple[str, str]:
    """(namespace, address) connections from `source` start in."""
    plan = node.plan
    if source == "node":
        return node.node, plan.node_ips[0]
    if source == "client":
        return node.client, plan.client_ip
    if source == "pod":
        pods = [p for p in plan.pods if not p.host_network]
        if not pods:
            raise KernelError("cannot connect from a Pod: the manifests have no Pod IP")
        return node.pod_netns[pods[0].name], pods[0].ip
    raise KernelError(f"cannot connect from {source!r}: choose one of {', '.join(SOURCES)}")


def run_lab(
    state: ClusterState,
    config: ProxyConfig,
    mode: str,
    source: str = "client",
    connections: int = 100,
    timeout: float = DROP_TIMEOUT,
    on_stage: Callable[[str], None] | None = None,
) -> LabRun:
    """Connect `connections` times to every TCP address of every Service from `source`.

    From the client only NodePorts, load-balancer and external IPs are tried (outside a cluster
    nothing routes to ClusterIPs); from the node, NodePorts on 127.0.0.1 too.
    """
    config = node_config(config)
    text = render(mode, state, config)
    with KernelNode(plan_topology(state, config), on_stage=on_stage) as node:
        node.load_rules(mode, text)
        netns, source_ip = source_of(node, source)
        lab = LabRun(mode, source, source_ip, config.node_ips[0], text)
        ports = build_service_ports(state, config)
        for target in service_targets(ports, config.node_ips[0], localhost=source == "node"):
            if source == "client" and target.kind == "ClusterIP":
                continue
            conns = connect_many(netns, target.ip, target.port, connections, timeout)
            lab.results.append(TargetResult(target, conns))
        lab.conntrack = conntrack_entries(node.node)
        lab.counters = rule_counters(node.node, mode)
    return lab
