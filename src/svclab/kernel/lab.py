"""One lab run: build the node, load the rules, connect to every Service address, observe.

What `svclab kernel demo` prints (`svclab.cli.kernel.lab_report`) and what a notebook shows. `run_lab` needs the kernel and raises
`KernelUnavailable` (one sentence) where it cannot run; `observe`, which notebooks call, then
draws the same connections through svclab's tracer and sampler instead, and says which one ran.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from svclab.api.state import ClusterState
from svclab.kernel.drive import (
    DROP_TIMEOUT,
    Connection,
    Target,
    connect_many,
    service_targets,
    summarize,
)
from svclab.kernel.load import render
from svclab.kernel.modelled import Simulation, endpoint_choices
from svclab.kernel.observe import ConntrackEntry, RuleCounter, conntrack_entries, rule_counters
from svclab.kernel.system import kernel_available
from svclab.kernel.topology import (
    KernelNode,
    check_plan,
    node_config,
    plan_topology,
    source_address,
    source_pod,
)
from svclab.proxy.config import ProxyConfig
from svclab.proxy.servicemap import build_service_ports


@dataclass
class TargetResult:
    """The connections made to one Service address."""

    target: Target
    connections: list[Connection]

    @property
    def address(self) -> str:
        """The kind of address and the address, as the tables show them."""
        return f"{self.target.kind} {self.target}"


@dataclass
class LabRun:
    """Everything one run saw: the rules it loaded, the answers, the kernel's own records.

    >>> from svclab.report.tables import format_table
    >>> run = LabRun("iptables", "client", "203.0.113.10", "192.168.0.2", "", ran="tracer")
    >>> run.results.append(TargetResult(Target("demo/web:http", "NodePort", "192.168.0.2", 30080),
    ...     [Connection("ok", "web-a", "192.168.0.2:40000"), Connection("timeout")]))
    >>> print(format_table(run.rows()))
    SERVICE        ADDRESS                     POD        CLIENT SEEN  CONNECTIONS
    demo/web:http  NodePort 192.168.0.2:30080  web-a      192.168.0.2  1
    demo/web:http  NodePort 192.168.0.2:30080  (timeout)               1
    """

    mode: str
    source: str
    source_ip: str
    node_ip: str
    rules: str
    results: list[TargetResult] = field(default_factory=list)
    conntrack: list[ConntrackEntry] = field(default_factory=list)
    counters: list[RuleCounter] = field(default_factory=list)
    """The kernel's per-rule counters; from the tracer, first packets per endpoint choice only."""
    ran: str = "kernel"
    """Which answered: ``kernel`` (real namespaces) or ``tracer`` (svclab's tracer and sampler)."""
    why: str = ""
    """One sentence saying why that one ran (set by `observe`)."""

    def rows(self) -> list[dict[str, str | int]]:
        """Pods hit and client addresses seen, per Service address: one row per (Pod, address)."""
        return [
            {"SERVICE": r.target.service, "ADDRESS": r.address, "POD": pod,
             "CLIENT SEEN": client_ip, "CONNECTIONS": count}
            for r in self.results
            for pod, client_ip, count in summarize(r.connections)
        ]  # fmt: skip

    def seen(self) -> dict[str, str]:
        """Address → the client addresses its Pods saw, or how it failed: what chance does not decide.

        Which Pod answers is drawn at random; the address a Pod sees, and whether a connection
        is refused or times out, are not.

        >>> run = LabRun("iptables", "client", "203.0.113.10", "192.168.0.2", "")
        >>> run.results.append(TargetResult(Target("demo/lb:http", "LoadBalancer", "192.0.2.101", 80),
        ...     [Connection("timeout"), Connection("timeout")]))
        >>> run.seen()
        {'LoadBalancer 192.0.2.101:80': '(timeout)'}
        """
        return {
            r.address: ", ".join(sorted({
                c.client_ip if c.outcome == "ok" else f"({c.outcome})" for c in r.connections
            }))
            for r in self.results
        }  # fmt: skip

    def counter_rows(self) -> list[dict[str, str | int]]:
        """First packets per endpoint choice (iptables' ``-j KUBE-SEP-…`` rules that matched).

        kube-proxy's nftables rules carry no ``counter`` statement, so nftables runs have none.
        """
        return [
            {"PACKETS": c.packets, "RULE": c.rule}
            for c in self.counters
            if c.packets and "-j KUBE-SEP-" in c.rule
        ]

    def conntrack_rows(self, per_address: int | None = None) -> list[dict[str, str]]:
        """Connection-tracking entries: the first packet, where DNAT sent it, SNAT, state.

        With `per_address`, at most that many entries per original destination ``ip:port``.
        """
        taken: Counter[tuple[str, int]] = Counter()
        rows = []
        for e in self.conntrack:
            taken[e.dst, e.dport] += 1
            if per_address is None or taken[e.dst, e.dport] <= per_address:
                rows.append({"ORIGINAL": e.original, "DNAT TO": e.dnat or "-",
                             "SNAT TO": e.snat or "-", "STATE": e.state})  # fmt: skip
        return rows

    def masqueraded(self) -> Counter[str]:
        """Address the source was masqueraded to → DNATed conntrack entries."""
        return Counter(e.snat for e in self.conntrack if e.dnat and e.snat)


def source_of(node: KernelNode, source: str) -> tuple[str, str]:
    """(namespace, address) connections from `source` start in."""
    ip = source_address(node.plan, source)
    if source == "pod":
        return node.pod_netns[source_pod(node.plan).name], ip
    return (node.node if source == "node" else node.client), ip


def lab_targets(state: ClusterState, config: ProxyConfig, source: str) -> list[Target]:
    """Every TCP address of every Service a lab client at `source` connects to.

    From the client only NodePorts, load-balancer and external IPs (outside a cluster nothing
    routes to ClusterIPs); from the node, NodePorts on 127.0.0.1 too.
    """
    ports = build_service_ports(state, config)
    targets = service_targets(ports, config.node_ips[0], localhost=source == "node")
    return [t for t in targets if not (source == "client" and t.kind == "ClusterIP")]


def run_lab(
    state: ClusterState,
    config: ProxyConfig,
    mode: str,
    source: str = "client",
    connections: int = 100,
    timeout: float = DROP_TIMEOUT,
    on_stage: Callable[[str], None] | None = None,
) -> LabRun:
    """Connect `connections` times to every address of `lab_targets` from `source`, for real."""
    config = node_config(config)
    text = render(mode, state, config)
    with KernelNode(plan_topology(state, config), on_stage=on_stage) as node:
        node.load_rules(mode, text)
        netns, source_ip = source_of(node, source)
        lab = LabRun(mode, source, source_ip, config.node_ips[0], text)
        for target in lab_targets(state, config, source):
            conns = connect_many(netns, target.ip, target.port, connections, timeout)
            lab.results.append(TargetResult(target, conns))
        lab.conntrack = conntrack_entries(node.node)
        lab.counters = rule_counters(node.node, mode)
    return lab


def trace_lab(
    state: ClusterState,
    config: ProxyConfig,
    mode: str,
    source: str = "client",
    connections: int = 100,
    seed: int = 0,
) -> LabRun:
    """The same run as `run_lab`, with the tracer and sampler in place of the kernel."""
    config = node_config(config)
    text = render(mode, state, config)
    plan = plan_topology(state, config)
    check_plan(plan)
    simulation = Simulation(mode, text, config, plan, source, seed)
    lab = LabRun(mode, source, simulation.source_ip, config.node_ips[0], text, ran="tracer")
    draws = []
    for target in lab_targets(state, config, source):
        drawn = simulation.connect_many(target.ip, target.port, connections)
        lab.results.append(TargetResult(target, [d.connection for d in drawn]))
        draws += drawn
    lab.conntrack = [entry for d in draws if (entry := d.conntrack()) is not None]
    lab.counters = endpoint_choices(draws, text) if mode == "iptables" else []
    return lab


def observe(
    state: ClusterState,
    config: ProxyConfig,
    mode: str,
    source: str = "client",
    connections: int = 12,
    seed: int = 0,
    *,
    use_kernel: bool | None = None,
    timeout: float = DROP_TIMEOUT,
) -> LabRun:
    """The lab run notebooks show: the real kernel where it can run, else the tracer.

    `use_kernel` None asks `kernel_available`; True insists on the kernel (`KernelUnavailable`
    where it cannot run); False always uses the tracer. `seed` fixes the tracer's draws (the
    kernel draws its own); `timeout` bounds the kernel's connections. ``ran`` and ``why`` on the
    result say which one answered and why.

    >>> from svclab.api.manifests import load_text
    >>> from svclab.report.tables import format_table
    >>> state = ClusterState.from_manifests(load_text('''
    ... apiVersion: v1
    ... kind: Service
    ... metadata: {name: web, namespace: demo}
    ... spec:
    ...   type: NodePort
    ...   clusterIP: 10.96.0.10
    ...   ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
    ... ---
    ... apiVersion: discovery.k8s.io/v1
    ... kind: EndpointSlice
    ... metadata: {name: web-1, namespace: demo, labels: {kubernetes.io/service-name: web}}
    ... addressType: IPv4
    ... ports: [{port: 8080}]
    ... endpoints:
    ... - {addresses: [10.244.1.2], nodeName: node-a, targetRef: {kind: Pod, name: web-a}}
    ... '''))
    >>> config = ProxyConfig(hostname_override="node-a", node_ips=["192.168.0.2"])
    >>> run = observe(state, config, "nftables", connections=3, use_kernel=False)
    >>> run.ran
    'tracer'
    >>> print(run.why)
    use_kernel=False: svclab's tracer and sampler drew the connections.
    >>> print(format_table(run.rows()))
    SERVICE   ADDRESS                     POD    CLIENT SEEN  CONNECTIONS
    demo/web  NodePort 192.168.0.2:30080  web-a  192.168.0.2  3
    """
    if use_kernel is False:
        lab = trace_lab(state, config, mode, source, connections, seed)
        lab.why = "use_kernel=False: svclab's tracer and sampler drew the connections."
        return lab
    available, why = kernel_available()
    if use_kernel or available:  # run_lab raises KernelUnavailable where it cannot run
        lab = run_lab(state, config, mode, source, connections, timeout)
    else:
        lab = trace_lab(state, config, mode, source, connections, seed)
    lab.why = why
    return lab
