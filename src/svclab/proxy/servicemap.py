"""kube-proxy's view of a cluster: service ports and their endpoints, as plain data.

Mirrors upstream `pkg/proxy/service.go` (`newBaseServiceInfo`) and
`pkg/proxy/endpointslicecache.go`. Every renderer (iptables, nftables, IPVS) reads the same
`ServicePortInfo` list; `svclab.proxy.topology` then picks the endpoints each may use. IPv4 only.

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.proxy.config import ProxyConfig
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web, namespace: shop}
... spec:
...   clusterIP: 10.96.0.10
...   ports: [{name: http, port: 80}]
... ---
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
... addressType: IPv4
... endpoints:
... - {addresses: [10.244.1.9], nodeName: node-b}
... - {addresses: [10.244.1.10], nodeName: node-a}
... - {addresses: [10.244.2.1], conditions: {ready: false}}
... ports: [{name: http, port: 8080}]
... '''))
>>> [port] = build_service_ports(state, ProxyConfig(hostname_override="node-a"))
>>> port.name, port.protocol, port.cluster_ip, port.port
('shop/web:http', 'TCP', '10.96.0.10', 80)
>>> [(ep.address, ep.ready, ep.is_local) for ep in port.endpoints]
[('10.244.1.10:8080', True, True), ('10.244.1.9:8080', True, False), ('10.244.2.1:8080', False, False)]
"""

from __future__ import annotations

import gc
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import kubernetes.client as k8s

from svclab.api.addresses import parse_ip_sloppy
from svclab.api.state import ClusterState, namespace_of
from svclab.proxy.config import ProxyConfig

DEFAULT_AFFINITY_SECONDS = 10800
"""`sessionAffinityConfig.clientIP.timeoutSeconds` when the API server defaults it (3 hours)."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One backend of a service port (upstream `BaseEndpointInfo`)."""

    ip: str
    port: int
    is_local: bool = False
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str = ""
    zone_hints: frozenset[str] = frozenset()
    node_hints: frozenset[str] = frozenset()
    address: str = field(init=False, compare=False)
    """``ip:port`` (``[ip]:port`` for IPv6), the string kube-proxy sorts and hashes (`Endpoint.String()`).

    >>> Endpoint("10.0.0.1", 80).address, Endpoint("fd00::1", 80).address
    ('10.0.0.1:80', '[fd00::1]:80')
    """

    def __post_init__(self) -> None:
        # Computed once: renderers read it several times per endpoint.
        address = f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"
        object.__setattr__(self, "address", address)


@dataclass(frozen=True, slots=True)
class ServicePortInfo:
    """One port of one Service as kube-proxy's iptables/nftables/IPVS proxiers see it."""

    namespace: str
    service: str
    port_name: str
    protocol: str  # "TCP", "UDP" or "SCTP"
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    external_policy_local: bool = False
    internal_policy_local: bool = False
    affinity_seconds: int = 0
    """ClientIP session-affinity timeout; 0 means no affinity."""
    health_check_node_port: int = 0
    endpoints: tuple[Endpoint, ...] = ()
    """Deduplicated by ``ip:port`` and sorted by that string, as upstream's `byEndpoint`."""

    @property
    def name(self) -> str:
        """`ServicePortName.String()`: ``ns/name`` plus ``:port`` when the port is named.

        >>> ServicePortInfo("ns1", "svc1", "", "TCP", "10.0.0.1", 80).name
        'ns1/svc1'
        """
        base = f"{self.namespace}/{self.service}"
        return f"{base}:{self.port_name}" if self.port_name else base

    @property
    def proto(self) -> str:
        """Lower-case protocol, as iptables and nft spell it."""
        return self.protocol.lower()

    @property
    def externally_accessible(self) -> bool:
        """A NodePort, a load-balancer IP or an externalIP exists (`ExternallyAccessible`)."""
        return bool(self.node_port or self.load_balancer_ips or self.external_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Cluster endpoints are needed for internal Cluster policy or any external access."""
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        """Local endpoints are needed for internal Local policy or external Local policy."""
        return self.internal_policy_local or (
            self.external_policy_local and self.externally_accessible
        )


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a renderer runs.

    Rendering allocates millions of small acyclic objects; each allocation burst triggers full
    collections that walk every client object of the cluster (measured: 3x slower at 10,000
    Services). Nothing made here forms cycles, so nothing is lost by waiting.

    >>> import gc
    >>> with paused_gc():
    ...     gc.isenabled()
    False
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_service_ports(state: ClusterState, config: ProxyConfig) -> list[ServicePortInfo]:
    """Every proxied service port of `state`, in namespace/name/port order.

    Headless and ExternalName Services, and Services without an IPv4 cluster IP, get nothing.
    """
    endpoints_by_key = _endpoints_by_port(state, config.hostname_override)
    ports: list[ServicePortInfo] = []
    for service in sorted(state.services, key=lambda s: (namespace_of(s), s.metadata.name or "")):
        ports.extend(_service_ports(service, endpoints_by_key))
    return ports


def _ipv4(text: str) -> str | None:
    """The canonical IPv4 address in `text`, or None for IPv6 and junk (ignored by an IPv4 proxier)."""
    ip = parse_ip_sloppy(text)
    return ip if ip is not None and ":" not in ip else None


def _cidr_v4(text: str) -> ipaddress.IPv4Network | None:
    """`netutils.ParseCIDRSloppy` for IPv4: leading zeros allowed, host bits cleared."""
    address, _, prefix = text.strip().partition("/")
    ip = _ipv4(address)
    if ip is None or not (prefix.isascii() and prefix.isdigit()) or int(prefix) > 32:
        return None
    return ipaddress.IPv4Network(f"{ip}/{int(prefix)}", strict=False)


def _cluster_ip_v4(spec: k8s.V1ServiceSpec) -> str | None:
    """Upstream `GetClusterIPByFamily` for IPv4: the IPv4 one of `clusterIPs`, else `clusterIP`."""
    candidates = spec.cluster_ips or ([spec.cluster_ip] if spec.cluster_ip else [])
    return next((ip for ip in map(_ipv4, candidates) if ip), None)


def _source_ranges(spec: k8s.V1ServiceSpec) -> tuple[str, ...]:
    """`loadBalancerSourceRanges` as kube-proxy keeps them: trimmed, parsed, IPv4 only, normalised.

    Upstream trims spaces (validation lets padding through), drops what does not parse or is of
    the other family (`MapCIDRsByIPFamily`), prints each as Go's `IPNet.String()` (host bits
    cleared), and treats a ``/0`` range as "allow any", the same as no ranges.
    """
    kept = [net for net in map(_cidr_v4, spec.load_balancer_source_ranges or []) if net]
    if any(network.prefixlen == 0 for network in kept):
        return ()
    return tuple(str(network) for network in kept)


def _service_ports(
    service: k8s.V1Service, endpoints_by_key: dict[tuple[str, str, str, str], list[Endpoint]]
) -> list[ServicePortInfo]:
    spec = service.spec
    if spec is None or spec.type == "ExternalName" or spec.cluster_ip in (None, "", "None"):
        return []  # upstream ShouldSkipService: headless and ExternalName
    cluster_ip = _cluster_ip_v4(spec)
    if cluster_ip is None:
        return []
    namespace, name = namespace_of(service), service.metadata.name or ""
    is_lb = spec.type == "LoadBalancer"
    # ExternalPolicyLocal only means something for Services reachable from outside.
    external_local = (
        spec.type in ("NodePort", "LoadBalancer") and spec.external_traffic_policy == "Local"
    )
    affinity = 0
    if spec.session_affinity == "ClientIP":
        config = spec.session_affinity_config
        timeout = config.client_ip.timeout_seconds if config and config.client_ip else None
        affinity = timeout or DEFAULT_AFFINITY_SECONDS
    ingress = (
        service.status.load_balancer.ingress
        if service.status and service.status.load_balancer
        else None
    ) or []
    common: dict[str, Any] = {
        "namespace": namespace,
        "service": name,
        "cluster_ip": cluster_ip,
        "external_ips": tuple(ip for ip in map(_ipv4, spec.external_ips or []) if ip),
        # Only VIP-mode ingress IPs are kube-proxy's business (`IsVIPMode`); Proxy mode is the LB's.
        "load_balancer_ips": tuple(
            ip for i in ingress if i.ip and i.ip_mode in (None, "VIP") and (ip := _ipv4(i.ip))
        ),
        "source_ranges": _source_ranges(spec),
        "external_policy_local": external_local,
        "internal_policy_local": spec.internal_traffic_policy == "Local",
        "affinity_seconds": affinity,
        # NeedsHealthCheck: only a LoadBalancer with ETP Local gets a health-check port.
        "health_check_node_port": (spec.health_check_node_port or 0)
        if is_lb and external_local
        else 0,
    }
    result = []
    for port in spec.ports or []:
        protocol = port.protocol or "TCP"
        port_name = port.name or ""
        result.append(
            ServicePortInfo(
                port_name=port_name,
                protocol=protocol,
                port=port.port,
                node_port=port.node_port or 0,
                endpoints=tuple(endpoints_by_key.get((namespace, name, port_name, protocol), ())),
                **common,
            )
        )
    return result


def _endpoints_by_port(
    state: ClusterState, hostname: str
) -> dict[tuple[str, str, str, str], list[Endpoint]]:
    """Endpoints per (namespace, service, port name, protocol) from every IPv4 EndpointSlice."""
    found: dict[tuple[str, str, str, str], dict[str, Endpoint]] = {}
    for eps in state.endpoint_slices:
        service = ((eps.metadata.labels or {}) if eps.metadata else {}).get(
            "kubernetes.io/service-name"
        )
        if not service or eps.address_type != "IPv4":
            continue  # kube-proxy ignores unlabelled slices, and FQDN/IPv6 ones in IPv4 mode
        namespace = namespace_of(eps)
        endpoints = [_endpoint(ep, hostname) for ep in eps.endpoints or [] if ep.addresses]
        for slice_port in eps.ports or []:
            if not slice_port.port:
                continue  # upstream ignores nil or zero ports
            key = (namespace, service, slice_port.name or "", slice_port.protocol or "TCP")
            by_address = found.setdefault(key, {})
            for endpoint in endpoints:
                if endpoint is None:
                    continue
                ep = _with_port(endpoint, slice_port.port)
                # Deduplicate by ip:port; a local copy wins, as in upstream addEndpoints.
                if ep.address not in by_address or ep.is_local:
                    by_address[ep.address] = ep
    return {key: sorted(eps.values(), key=lambda ep: ep.address) for key, eps in found.items()}


def _endpoint(ep: k8s.V1Endpoint, hostname: str) -> Endpoint | None:
    address = _ipv4(ep.addresses[0])
    if address is None:
        return None
    conditions = ep.conditions
    ready = conditions is None or conditions.ready is None or conditions.ready
    serving = conditions is None or conditions.serving is None or conditions.serving
    terminating = bool(conditions and conditions.terminating)
    hints = ep.hints
    return Endpoint(
        ip=address,
        port=0,
        is_local=bool(hostname) and ep.node_name == hostname,
        ready=bool(ready),
        serving=bool(serving),
        terminating=terminating,
        node_name=ep.node_name or "",
        zone_hints=frozenset(z.name for z in (hints.for_zones or [])) if hints else frozenset(),
        node_hints=frozenset(n.name for n in (hints.for_nodes or [])) if hints else frozenset(),
    )


def _with_port(ep: Endpoint, port: int) -> Endpoint:
    return Endpoint(
        ep.ip,
        port,
        ep.is_local,
        ep.ready,
        ep.serving,
        ep.terminating,
        ep.node_name,
        ep.zone_hints,
        ep.node_hints,
    )
