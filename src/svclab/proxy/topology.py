"""Which endpoints a service port may use on this node, and what its traffic policies make of them.

Upstream keeps `CategorizeEndpoints` alone in `pkg/proxy/topology.go` and every proxier imports
it; here too. `plan_policy` adds the block that the iptables and nftables proxiers both compute
next in `syncProxyRules`: which of the cluster/local chains exist and where internal and
external traffic goes (`internalPolicyChain`, `externalPolicyChain`, `hasInternalEndpoints`…).

>>> from svclab.proxy.config import ProxyConfig
>>> from svclab.proxy.servicemap import Endpoint, ServicePortInfo
>>> eps = (Endpoint("10.244.1.10", 8080, is_local=True), Endpoint("10.244.1.9", 8080))
>>> port = ServicePortInfo("shop", "web", "http", "TCP", "10.96.0.10", 80, endpoints=eps,
...                        internal_policy_local=True)
>>> plan = plan_policy(port, ProxyConfig(hostname_override="node-a"))
>>> [ep.address for ep in plan.categories.local], plan.internal_local, plan.has_internal
(['10.244.1.10:8080'], True, True)
>>> plan.uses_cluster, plan.uses_local
(False, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from svclab.proxy.config import ProxyConfig
from svclab.proxy.servicemap import Endpoint, ServicePortInfo


@dataclass(frozen=True, slots=True)
class EndpointCategories:
    """The result of upstream `CategorizeEndpoints` for one service port."""

    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    all_reachable: tuple[Endpoint, ...]
    """Union of cluster and local, in ``ip:port`` order (KUBE-SEP chains are made for these)."""
    has_any: bool
    """Some endpoint anywhere is ready or serving-and-terminating."""


@dataclass(frozen=True, slots=True)
class PolicyPlan:
    """What a service port's traffic policies make of its endpoints, for every rule writer."""

    categories: EndpointCategories
    uses_cluster: bool
    """The cluster-policy chain has endpoints and some policy sends traffic to it."""
    uses_local: bool
    """The local-policy chain has endpoints and some policy sends traffic to it."""
    internal_local: bool
    """Internal traffic (to the cluster IP) goes to the local chain, not the cluster one."""
    has_internal: bool
    """Internal traffic has endpoints to go to (else it is refused)."""
    external_local: bool
    """External traffic goes to the local chain (``externalTrafficPolicy: Local``)."""
    has_external: bool
    """External traffic has endpoints to go to (else it is refused)."""
    uses_external: bool
    """An external chain is needed: the port is reachable from outside and has endpoints
    somewhere (its short-circuit rules are needed even when none is local)."""
    uses_firewall: bool
    """LoadBalancer IPs with source ranges: a firewall chain filters their traffic."""

    @property
    def has_endpoints(self) -> bool:
        """Some endpoint anywhere is ready or serving-and-terminating (`hasEndpoints`)."""
        return self.categories.has_any


def plan_policy(port: ServicePortInfo, config: ProxyConfig) -> PolicyPlan:
    """`categorize_endpoints`, then the policy block of upstream's `syncProxyRules`."""
    cats = categorize_endpoints(port, config)
    local = bool(cats.local)
    return PolicyPlan(
        cats,
        uses_cluster=bool(cats.cluster) and port.uses_cluster_endpoints,
        uses_local=local and port.uses_local_endpoints,
        internal_local=port.internal_policy_local,
        has_internal=local if port.internal_policy_local else cats.has_any,
        external_local=port.external_policy_local,
        has_external=local if port.external_policy_local else cats.has_any,
        uses_external=cats.has_any and port.externally_accessible,
        uses_firewall=bool(port.load_balancer_ips) and bool(port.source_ranges),
    )


def categorize_endpoints(port: ServicePortInfo, config: ProxyConfig) -> EndpointCategories:
    """Split `port.endpoints` into the Cluster- and Local-policy sets (upstream `CategorizeEndpoints`).

    Usable means ready, falling back (separately for each set) to serving-and-terminating.
    Topology hints (zone, and same-node as `PreferSameTrafficDistribution`, on by default in 1.35)
    narrow the cluster set when every ready endpoint carries them and one fits this node.

    >>> eps = (Endpoint("10.0.0.1", 80, ready=False, serving=True, terminating=True, is_local=True),
    ...        Endpoint("10.0.0.2", 80, ready=False, serving=False, terminating=True))
    >>> port = ServicePortInfo("ns", "s", "", "TCP", "172.30.0.1", 80, endpoints=eps)
    >>> cats = categorize_endpoints(port, ProxyConfig(hostname_override="n"))
    >>> [ep.ip for ep in cats.cluster], cats.has_any
    (['10.0.0.1'], True)
    """
    endpoints = port.endpoints
    if not endpoints:
        return EndpointCategories((), (), (), False)
    cluster: tuple[Endpoint, ...] = ()
    has_any = False
    topology = ""
    if port.uses_cluster_endpoints:
        topology = _topology_mode(endpoints, config)
        cluster = tuple(
            ep for ep in endpoints if ep.ready and _available(ep, topology, config)
        ) or tuple(ep for ep in endpoints if ep.serving and ep.terminating)
        has_any = bool(cluster)
    if not port.uses_local_endpoints:
        return EndpointCategories(cluster, (), cluster, has_any)

    usable = [ep for ep in endpoints if ep.ready or (ep.serving and ep.terminating)]
    has_any = has_any or bool(usable)
    local = tuple(ep for ep in endpoints if ep.is_local and ep.ready)
    terminating_fallback = not local
    if terminating_fallback:
        local = tuple(ep for ep in endpoints if ep.is_local and ep.serving and ep.terminating)
    if not port.uses_cluster_endpoints:
        return EndpointCategories((), local, local, has_any)
    if not topology and not terminating_fallback:
        return EndpointCategories(cluster, local, cluster, has_any)
    merged = {ep.address: ep for ep in (*cluster, *local)}
    reachable = tuple(sorted(merged.values(), key=lambda ep: ep.address))
    return EndpointCategories(cluster, local, reachable, has_any)


def _topology_mode(endpoints: tuple[Endpoint, ...], config: ProxyConfig) -> str:
    """Upstream `topologyModeFromHints`: "", "PreferSameNode" or "PreferSameZone"."""
    ready = [ep for ep in endpoints if ep.ready]
    if not ready:
        return ""
    node, zone = config.hostname_override, config.node_zone
    if all(ep.node_hints for ep in ready) and any(node in ep.node_hints for ep in ready):
        return "PreferSameNode"
    if all(ep.zone_hints for ep in ready) and any(zone in ep.zone_hints for ep in ready):
        return "PreferSameZone"
    return ""


def _available(ep: Endpoint, topology: str, config: ProxyConfig) -> bool:
    if topology == "PreferSameNode":
        return config.hostname_override in ep.node_hints
    if topology == "PreferSameZone":
        return config.node_zone in ep.zone_hints
    return True
