"""A node built from network namespaces: Pods on veth pairs, an outside client, real routes.

`plan_topology` reads a `ClusterState` and decides addresses (pure, testable anywhere);
`KernelNode` makes it real and takes it all down again on exit, error, Ctrl-C or SIGTERM.

Layout (every name carries the run's prefix, see `svclab.kernel.names`)::

    client ns --veth-- node ns --veth-- pod ns (one per Pod IP, HTTP server on the Pod IP)
                                 \\-veth-- pod ns ...

The node routes each Pod IP (/32) to its veth, and sends everything else, Service CIDRs included,
out of its uplink to the client: this kernel has no ``dummy`` link type to park Service IPs on.
Pods reach the node through a link-local gateway answered by proxy ARP, as Calico does.
Endpoints on "other nodes" get their Pod namespace on this node too: one physical node stands in
for the cluster, while kube-proxy still treats them as remote (``nodeName``).

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.proxy.config import ProxyConfig
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
... addressType: IPv4
... endpoints:
... - {addresses: [10.244.1.2], targetRef: {kind: Pod, name: web-a}}
... - {addresses: [10.244.1.3], hostname: web-b}
... - {addresses: [192.168.0.2]}
... ports: [{port: 8080}, {port: 53, protocol: UDP}]
... '''))
>>> plan = plan_topology(state, ProxyConfig(hostname_override="n", node_ips=["192.168.0.2"]))
>>> [(p.name, p.ip, p.ports, p.host_network) for p in plan.pods]
[('web-a', '10.244.1.2', (8080,), False), ('web-b', '10.244.1.3', (8080,), False), \
('host-192.168.0.2', '192.168.0.2', (8080,), True)]
>>> plan.node_ips, plan.client_ip
(('192.168.0.2',), '203.0.113.10')
"""

from __future__ import annotations

import ipaddress
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from svclab.api.state import ClusterState
from svclab.errors import Interrupted
from svclab.kernel import load, podserver
from svclab.kernel.names import RunName
from svclab.kernel.netns import list_netns, write_sysctls
from svclab.kernel.system import KernelError, require_kernel, run
from svclab.proxy.config import ProxyConfig

DEFAULT_NODE_IP = "192.168.0.2"
"""The node's address when the kube-proxy configuration names none."""
DEFAULT_CLIENT_IP = "203.0.113.10"
"""The outside client (TEST-NET-3: never a real host)."""
POD_GATEWAY = "169.254.1.1"
"""The link-local next hop every Pod routes through; the node answers it by proxy ARP."""

SOURCES = ("node", "client", "pod")
"""Where connections start: the node itself, a host outside the cluster, or the first Pod."""

STAGES = ("namespaces", "links", "addresses", "sysctls", "servers", "rules")
"""Setup steps, in order; `KernelNode` calls its ``on_stage`` hook after each (tests interrupt
there). All but ``rules`` happen on entry; ``rules`` is `KernelNode.load_rules`."""

NODE_SYSCTLS = {
    "net.ipv4.ip_forward": "1",  # the node routes between client and Pods
    "net.ipv4.conf.all.route_localnet": "1",  # kube-proxy sets it for localhost NodePorts
    # The lab sends bursts of connections; the default limit (a burst of 6 ICMP errors per
    # destination, then one a second) would turn REJECTed SYNs into timeouts.
    "net.ipv4.icmp_ratelimit": "0",
}


@dataclass(frozen=True)
class PodPlan:
    """A Pod of the topology: name, IP, TCP ports; host-network ones live in the node namespace."""

    name: str
    ip: str
    ports: tuple[int, ...]
    host_network: bool = False


@dataclass(frozen=True)
class TopologyPlan:
    """Addresses of the node, its client and its Pods, and the routes for Service IPs."""

    node_ips: tuple[str, ...]
    client_ip: str
    pods: tuple[PodPlan, ...]
    service_cidrs: tuple[str, ...] = ()

    def rows(self) -> list[dict[str, str]]:
        """The namespaces of the plan, their addresses and the TCP ports served there.

        >>> plan = TopologyPlan(("192.168.0.2",), "203.0.113.10",
        ...                     (PodPlan("web-a", "10.244.1.2", (8080,)),))
        >>> for row in plan.rows():
        ...     print(row)
        {'NAMESPACE': 'node', 'ADDRESS': '192.168.0.2', 'SERVES': '-'}
        {'NAMESPACE': 'client', 'ADDRESS': '203.0.113.10', 'SERVES': '-'}
        {'NAMESPACE': 'pod web-a', 'ADDRESS': '10.244.1.2', 'SERVES': 'tcp/8080'}
        """
        rows = [
            {"NAMESPACE": "node", "ADDRESS": ", ".join(self.node_ips), "SERVES": "-"},
            {"NAMESPACE": "client", "ADDRESS": self.client_ip, "SERVES": "-"},
        ]
        for pod in self.pods:
            serves = ", ".join(f"tcp/{port}" for port in pod.ports) or "-"
            where = "node" if pod.host_network else f"pod {pod.name}"
            rows.append({"NAMESPACE": where, "ADDRESS": pod.ip, "SERVES": serves})
        return rows


def node_config(config: ProxyConfig) -> ProxyConfig:
    """`config` with a node IP set (the lab's default) when it names none: the node needs one.

    >>> node_config(ProxyConfig(hostname_override="n")).node_ips
    ('192.168.0.2',)
    """
    return config if config.node_ips else replace(config, node_ips=(DEFAULT_NODE_IP,))


def plan_topology(
    state: ClusterState, config: ProxyConfig, client_ip: str = DEFAULT_CLIENT_IP
) -> TopologyPlan:
    """Pods for every IPv4 endpoint address and every Pod with a ``podIP``, with their TCP ports."""
    config = node_config(config)
    names: dict[str, str] = {}
    ports: dict[str, set[int]] = {}
    for ip, name, port in _endpoint_addresses(state):
        names.setdefault(ip, name)
        ports.setdefault(ip, set()).update([port] if port else [])
    for pod in state.pods:
        ip = pod.status.pod_ip if pod.status else None
        if ip and ipaddress.ip_address(ip).version == 4:
            names[ip] = pod.metadata.name or f"pod-{ip}"
            ports.setdefault(ip, set()).update(_container_ports(pod))
    pods: list[PodPlan] = []
    taken: set[str] = set()
    for ip in sorted(names, key=ipaddress.ip_address):
        name = names[ip] if ip not in config.node_ips else f"host-{ip}"
        name = f"{name}@{ip}" if name in taken else name  # same Pod name in two namespaces
        taken.add(name)
        pods.append(PodPlan(name, ip, tuple(sorted(ports[ip])), ip in config.node_ips))
    return TopologyPlan(config.node_ips, client_ip, tuple(pods), tuple(config.service_cidrs))


def _endpoint_addresses(state: ClusterState) -> Iterator[tuple[str, str, int]]:
    for eps in state.endpoint_slices:
        if eps.address_type != "IPv4":
            continue
        tcp_ports = [p.port for p in eps.ports or [] if (p.protocol or "TCP") == "TCP" and p.port]
        for ep in eps.endpoints or []:
            ref = ep.target_ref
            for ip in ep.addresses or []:
                name = (
                    (ref.name if ref and ref.kind == "Pod" else None) or ep.hostname or f"pod-{ip}"
                )
                for port in tcp_ports or [0]:
                    yield ip, name, port


def _container_ports(pod: Any) -> set[int]:
    containers = pod.spec.containers if pod.spec else []
    return {
        p.container_port
        for c in containers or []
        for p in c.ports or []
        if (p.protocol or "TCP") == "TCP"
    }


class KernelNode:
    """The topology of a `TopologyPlan`, alive between ``__enter__`` and ``__exit__``.

    Everything is removed on exit, on an exception, on Ctrl-C and on SIGTERM/SIGHUP (turned into
    KeyboardInterrupt while the node is up). ``on_stage(name)`` runs after each setup stage.
    """

    def __init__(
        self,
        plan: TopologyPlan,
        run_name: RunName | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> None:
        check_plan(plan)
        self.plan = plan
        self.run = run_name or RunName()
        self.on_stage = on_stage or (lambda stage: None)
        self.node = self.run.netns("node")
        self.client = self.run.netns("client")
        self.pod_netns = {
            pod.name: self.node if pod.host_network else self.run.netns(f"pod{i}")
            for i, pod in enumerate(plan.pods)
        }
        self.namespaces = list(dict.fromkeys([self.node, self.client, *self.pod_netns.values()]))
        self.server: subprocess.Popen[str] | None = None
        self._saved_handlers: dict[int, Any] = {}

    def __enter__(self) -> KernelNode:
        require_kernel()
        self._trap_signals()
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stage(self, name: str) -> None:
        """Mark a finished setup stage (calls the ``on_stage`` hook)."""
        self.on_stage(name)

    def _build(self) -> None:
        run(["ip", "-batch", "-"], stdin="".join(f"netns add {ns}\n" for ns in self.namespaces))
        self.stage("namespaces")
        self._ip(self.node, self._link_commands())
        self.stage("links")
        self._addresses()
        self.stage("addresses")
        write_sysctls(self.node, {**NODE_SYSCTLS, **self._proxy_arp()})
        self.stage("sysctls")
        specs = [
            podserver.PodSpec(pod.name, self.pod_netns[pod.name], pod.ip, pod.ports)
            for pod in self.plan.pods
            if pod.ports
        ]
        if specs:
            self.server = podserver.start(self.run.prefix.rstrip("-"), self.node, specs)
        self.stage("servers")

    def load_rules(self, mode: str, text: str, **options: Any) -> None:
        """Load rendered `text` (``svclab render <mode>`` output) into the node namespace.

        `options` go to `svclab.kernel.load.load` (``legacy``, ``timeout``).
        """
        load.load(self.node, mode, text, **options)
        self.stage("rules")

    def _veths(self) -> list[tuple[PodPlan, str, str]]:
        """(pod, node-side link, pod-side link) for Pods with their own namespace."""
        return [
            (pod, self.run.link(f"n{i}"), self.run.link(f"p{i}"))
            for i, pod in enumerate(self.plan.pods)
            if not pod.host_network
        ]

    def _link_commands(self) -> list[str]:
        up, cl = self.run.link("up"), self.run.link("cl")
        lines = [f"link add {up} type veth peer name {cl} netns {self.client}"]
        for pod, node_side, pod_side in self._veths():
            ns = self.pod_netns[pod.name]
            lines.append(f"link add {node_side} type veth peer name {pod_side} netns {ns}")
        return lines

    def _addresses(self) -> None:
        up, cl = self.run.link("up"), self.run.link("cl")
        node_ip, client_ip = self.plan.node_ips[0], self.plan.client_ip
        node = ["link set lo up", f"link set {up} up"]
        node += [f"address add {ip}/32 dev {up}" for ip in self.plan.node_ips]
        node += [
            f"route add {client_ip}/32 dev {up}",
            f"route add default via {client_ip} dev {up}",
        ]
        node += [f"route add {cidr} via {client_ip} dev {up}" for cidr in self.plan.service_cidrs]
        for pod, node_side, _ in self._veths():
            node += [f"link set {node_side} up", f"route add {pod.ip}/32 dev {node_side}"]
        self._ip(self.node, node)
        self._ip(self.client, [
            "link set lo up", f"address add {client_ip}/32 dev {cl}", f"link set {cl} up",
            f"route add {node_ip}/32 dev {cl}", f"route add default via {node_ip} dev {cl}",
        ])  # fmt: skip
        for pod, _, pod_side in self._veths():
            gateway = f"via {POD_GATEWAY} dev {pod_side} onlink"
            self._ip(self.pod_netns[pod.name], [
                "link set lo up", f"address add {pod.ip}/32 dev {pod_side}",
                f"link set {pod_side} up", f"route add default {gateway}",
            ])  # fmt: skip

    def _proxy_arp(self) -> dict[str, str]:
        """Answer the Pods' gateway by proxy ARP at once (by default replies wait up to 0.8 s)."""
        settings = {}
        for _, node_side, _ in self._veths():
            settings[f"net.ipv4.conf.{node_side}.proxy_arp"] = "1"
            settings[f"net.ipv4.neigh.{node_side}.proxy_delay"] = "0"
        return settings

    @staticmethod
    def _ip(netns: str, lines: list[str]) -> None:
        run(["ip", "-n", netns, "-batch", "-"], stdin="".join(line + "\n" for line in lines))

    def close(self) -> None:
        """Stop the Pod servers and delete every namespace of this run (idempotent)."""
        blocked = self._block_signals()
        try:
            if self.server is not None:
                podserver.stop(self.server)
                self.server = None
            existing = set(list_netns())
            leftovers = [ns for ns in self.namespaces if ns in existing]
            if leftovers:
                run(
                    ["ip", "-force", "-batch", "-"],
                    stdin="".join(f"netns del {ns}\n" for ns in leftovers),
                )
        finally:
            self._restore_signals(blocked)
            self._restore_signals(self._saved_handlers)
            self._saved_handlers = {}

    def _trap_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._saved_handlers[sig] = signal.signal(sig, _interrupt)

    @staticmethod
    def _block_signals() -> dict[int, Any]:
        """Ignore Ctrl-C and SIGTERM while tearing down, so a second one cannot leave debris."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        return {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_signals(handlers: dict[int, Any]) -> None:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def source_pod(plan: TopologyPlan) -> PodPlan:
    """The Pod connections "from a Pod" start in: the first with its own namespace."""
    pods = [pod for pod in plan.pods if not pod.host_network]
    if not pods:
        raise KernelError("cannot connect from a Pod: the manifests have no Pod IP")
    return pods[0]


def source_address(plan: TopologyPlan, source: str) -> str:
    """The address connections from `source` (one of `SOURCES`) start from.

    >>> plan = TopologyPlan(("192.168.0.2",), "203.0.113.10", (PodPlan("web-a", "10.244.1.2", ()),))
    >>> [source_address(plan, source) for source in SOURCES]
    ['192.168.0.2', '203.0.113.10', '10.244.1.2']
    >>> source_address(plan, "router")
    Traceback (most recent call last):
    ...
    svclab.kernel.system.KernelError: cannot connect from 'router': choose one of node, client, pod
    """
    if source == "node":
        return plan.node_ips[0]
    if source == "client":
        return plan.client_ip
    if source == "pod":
        return source_pod(plan).ip
    raise KernelError(f"cannot connect from {source!r}: choose one of {', '.join(SOURCES)}")


def check_plan(plan: TopologyPlan) -> None:
    """Refuse a plan the lab cannot build, in one sentence.

    >>> check_plan(TopologyPlan(("192.168.0.2",), "192.168.0.2", ()))
    Traceback (most recent call last):
    ...
    svclab.kernel.system.KernelError: the client address 192.168.0.2 is also a node or Pod address
    """
    taken = {*plan.node_ips, *(p.ip for p in plan.pods if not p.host_network)}
    if plan.client_ip in taken:
        raise KernelError(f"the client address {plan.client_ip} is also a node or Pod address")
