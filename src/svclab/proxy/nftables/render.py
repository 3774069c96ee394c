"""kube-proxy's nftables mode: the `nft -f` transaction its proxier sends on a full sync.

Follows `pkg/proxy/nftables/proxier.go` of Kubernetes 1.35 (`setupNFTables`, `syncProxyRules`,
`writeServiceToEndpointRules`) and the text format of `sigs.k8s.io/knftables` transactions. The
transaction is the one a freshly started kube-proxy sends to a node without a ``kube-proxy``
table (its first, full sync); service ports come in namespace/name/port order, where kube-proxy
walks a Go map in random order. IPv4 only, like `svclab.proxy.config`.

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.proxy.config import ProxyConfig
>>> from svclab.proxy.rules.nftables import load
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web, namespace: a}
... spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
... ---
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {name: web-1, namespace: a, labels: {kubernetes.io/service-name: web}}
... addressType: IPv4
... endpoints: [{addresses: [10.1.0.5]}]
... ports: [{port: 8080}]
... '''))
>>> text = render(state, ProxyConfig(hostname_override="n", cluster_cidr="10.0.0.0/8"))
>>> print(text.splitlines()[0])
add table ip kube-proxy { comment "rules for kube-proxy" ; }
>>> chains = load(text).tables["ip", "kube-proxy"].chains
>>> for rule in chains["service-NLTBNPKM-a/web/tcp/"].rules: print(rule.text)
ip daddr 10.96.0.10 ip saddr != 10.0.0.0/8 jump mark-for-masquerade
numgen random mod 1 vmap { 0 : goto endpoint-2IVMRYAL-a/web/tcp/__10.1.0.5/8080 }
>>> for rule in chains["endpoint-2IVMRYAL-a/web/tcp/__10.1.0.5/8080"].rules: print(rule.text)
ip saddr 10.1.0.5 jump mark-for-masquerade
meta l4proto tcp dnat to 10.1.0.5:8080
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.naming import sha256_base32
from svclab.proxy.servicemap import (
    Endpoint,
    ServicePortInfo,
    build_service_ports,
    paused_gc,
)
from svclab.proxy.topology import plan_policy

FAMILY = "ip"
TABLE = "kube-proxy"
ADDR_TYPE = "ipv4_addr"

# (name, type, hook, priority): `nftablesBaseChains`. knftables writes named priorities as
# numbers (dstnat-10 = -110, filter = 0, dstnat = -100, srcnat = 100).
BASE_CHAINS = (
    ("filter-prerouting-pre-dnat", "filter", "prerouting", -110),
    ("filter-output-pre-dnat", "filter", "output", -110),
    ("filter-input", "filter", "input", 0),
    ("filter-forward", "filter", "forward", 0),
    ("filter-output", "filter", "output", 0),
    ("nat-prerouting", "nat", "prerouting", -100),
    ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100),
)

# (destination chain, source base chain, match): `nftablesJumpChains`, in upstream's order.
JUMP_CHAINS = (
    ("nodeport-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-input", "ct state new"),
    ("service-endpoints-check", "filter-forward", "ct state new"),
    ("service-endpoints-check", "filter-output", "ct state new"),
    ("firewall-check", "filter-prerouting-pre-dnat", "ct state new"),
    ("firewall-check", "filter-output-pre-dnat", "ct state new"),
    ("services", "nat-output", ""),
    ("services", "nat-prerouting", ""),
    ("masquerading", "nat-postrouting", ""),
    ("cluster-ips-check", "filter-forward", "ct state new"),
    ("cluster-ips-check", "filter-output", "ct state new"),
)

MARK_MASQ_CHAIN = "mark-for-masquerade"
REJECT_CHAIN = "reject-chain"
NO_LOCALHOST = "ip daddr != 127.0.0.0/8"

# knftables.NameLengthMax (256) minus the longest prefix kube-proxy reserves (16).
CHAIN_NAME_BASE_MAX = 256 - 16


def hash_and_truncate(name: str) -> str:
    """Prefix `name` with 8 base32 characters of its SHA-256 and cap it at 240 characters.

    >>> hash_and_truncate("ns1/svc1/tcp/p80")
    'ULMVA6XW-ns1/svc1/tcp/p80'
    """
    name = f"{sha256_base32(name, 8)}-{name}"
    if len(name) > CHAIN_NAME_BASE_MAX:
        name = name[: CHAIN_NAME_BASE_MAX - 3] + "..."
    return name


def service_chain_base(port: ServicePortInfo) -> str:
    """``HASH-namespace/service/protocol/portName`` (upstream `servicePortChainNameBase`).

    >>> service_chain_base(ServicePortInfo("testing", "service", "http", "TCP", "10.0.0.1", 80))
    'P4ZYZVCF-testing/service/tcp/http'
    """
    return hash_and_truncate(f"{port.namespace}/{port.service}/{port.proto}/{port.port_name}")


def endpoint_chain_base(port: ServicePortInfo, endpoint: Endpoint) -> str:
    """``HASH-ns/svc/proto/portName__ip/port`` (upstream `servicePortEndpointChainNameBase`).

    IPv6 colons become dots, as colons cannot appear in chain names.

    >>> port = ServicePortInfo("testing", "service", "http", "TCP", "10.0.0.1", 80)
    >>> endpoint_chain_base(port, Endpoint("10.180.0.1", 80))
    'JO2XBXZR-testing/service/tcp/http__10.180.0.1/80'
    >>> endpoint_chain_base(port, Endpoint("fd80:abcd:12::a1b2:c3d4:e5f6:9999", 80))
    'U7E2ET36-testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80'
    """
    ip = endpoint.ip.replace(":", ".")
    name = f"{port.namespace}/{port.service}/{port.proto}/{port.port_name}__{ip}/{endpoint.port}"
    return hash_and_truncate(name)


def _quote(text: str) -> str:
    """Go's ``%q`` for the ASCII comments kube-proxy writes (JSON escaping agrees there)."""
    return json.dumps(text)


_MISSING = object()


class _Transaction:
    """Lines of an `nft -f` transaction for one table, in knftables' text format."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.prefix = f"{FAMILY} {TABLE}"
        self.created: set[str] = set()
        self.elements: dict[str, str | None] = {}  # str keys: GC does not track them

    def op(self, verb: str, kind: str, rest: str) -> None:
        self.lines.append(f"{verb} {kind} {self.prefix} {rest}")

    def ensure_chain(self, chain: str) -> None:
        """Add and flush a regular chain once per transaction (upstream `ensureChain`)."""
        if chain not in self.created:
            self.created.add(chain)
            self.lines.append(f"add chain {self.prefix} {chain}")
            self.lines.append(f"flush chain {self.prefix} {chain}")

    def rule(self, chain: str, rule: str, comment: str | None = None) -> None:
        tail = f" comment {_quote(comment)}" if comment is not None else ""
        self.lines.append(f"add rule {self.prefix} {chain} {rule}{tail}")

    def element(
        self, container: str, key: str, value: str | None = None, comment: str | None = None
    ) -> None:
        """Add an element once (upstream `nftElementStorage.ensureElem`).

        A key already added with another value is deleted and re-added, so the last Service to
        claim it wins, as in kube-proxy.
        """
        previous = self.elements.get(f"{container} {key}", _MISSING)
        if previous == value:
            return
        if previous is not _MISSING:
            self.lines.append(f"delete element {self.prefix} {container} {{ {key} }}")
        self.elements[f"{container} {key}"] = value
        tail = f" comment {_quote(comment)}" if comment is not None else ""
        if value is not None:
            tail += f" : {value}"
        self.lines.append(f"add element {self.prefix} {container} {{ {key}{tail} }}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _nodeport_ips(config: ProxyConfig) -> tuple[str, ...] | None:
    """The `nodeport-ips` set, or None when NodePorts match every local address.

    Loopback addresses are left out: nftables mode has no localhost NodePorts (upstream logs
    an error for them and goes on).
    """
    if config.nodeport_ips is None:
        return None
    return tuple(ip for ip in config.nodeport_ips if not ipaddress.ip_address(ip).is_loopback)


def _service_cidrs(config: ProxyConfig) -> str:
    """The IPv4 ServiceCIDRs joined with "," (`OnServiceCIDRsChanged`), as one set word."""
    cidrs = (ipaddress.ip_network(c.strip(), strict=False) for c in config.service_cidrs)
    return ",".join(str(c) for c in cidrs if c.version == 4)


def _setup(tx: _Transaction, config: ProxyConfig) -> None:
    """Table, base chains, fixed chains, sets and maps (upstream `setupNFTables`, first sync)."""
    mark = config.mark
    tx.lines.append(f"add table {tx.prefix} {{ comment {_quote('rules for kube-proxy')} ; }}")
    # A fresh kube-proxy adds and deletes every base chain once so that chains left by an
    # older version with other properties (e.g. priority) get recreated.
    for name, *_ in BASE_CHAINS:
        tx.op("add", "chain", name)
        tx.op("delete", "chain", name)
    for name, kind, hook, priority in BASE_CHAINS:
        tx.op("add", "chain", f"{name} {{ type {kind} hook {hook} priority {priority} ; }}")
        tx.op("flush", "chain", name)
    for target, source, match in JUMP_CHAINS:
        tx.ensure_chain(target)
        tx.rule(source, f"{match} jump {target}" if match else f"jump {target}")
    for chain in ("services", "cluster-ips-check", "masquerading", MARK_MASQ_CHAIN):
        tx.ensure_chain(chain)
    tx.rule(MARK_MASQ_CHAIN, f"mark set mark or {mark}")
    tx.rule("masquerading", f"mark and {mark} == 0 return")
    tx.rule("masquerading", f"mark set mark xor {mark}")
    tx.rule("masquerading", "masquerade fully-random")

    tx.op("add", "set", f'cluster-ips {{ type {ADDR_TYPE} ; comment "Active ClusterIPs" ; }}')
    tx.rule(
        "cluster-ips-check",
        "ip daddr @cluster-ips reject",
        "Reject traffic to invalid ports of ClusterIPs",
    )
    service_cidrs = _service_cidrs(config)
    if service_cidrs:
        tx.rule(
            "cluster-ips-check",
            f"ip daddr {{ {service_cidrs} }} drop",
            "Drop traffic to unallocated ClusterIPs",
        )

    nodeport_ips = _nodeport_ips(config)
    tx.op(
        "add",
        "set",
        f'nodeport-ips {{ type {ADDR_TYPE} ; comment "IPs that accept NodePort traffic" ; }}',
    )
    if nodeport_ips is None:
        tx.op("delete", "set", "nodeport-ips")
    else:
        tx.op("flush", "set", "nodeport-ips")
        for ip in nodeport_ips:
            tx.element("nodeport-ips", ip)

    tx.op(
        "add",
        "map",
        f"no-endpoint-services {{ type {ADDR_TYPE} . inet_proto . inet_service : "
        'verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }',
    )
    tx.op(
        "add",
        "map",
        "no-endpoint-nodeports { type inet_proto . inet_service : verdict ; "
        'comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }',
    )
    tx.op(
        "add",
        "chain",
        f"{REJECT_CHAIN} {{ comment "
        f"{_quote('helper for @no-endpoint-services / @no-endpoint-nodeports')} ; }}",
    )
    tx.op("flush", "chain", REJECT_CHAIN)
    tx.rule(REJECT_CHAIN, "reject")
    tx.rule(
        "service-endpoints-check", "ip daddr . meta l4proto . th dport vmap @no-endpoint-services"
    )
    nodeport_match = NO_LOCALHOST if nodeport_ips is None else "ip daddr @nodeport-ips"
    tx.rule(
        "nodeport-endpoints-check",
        f"{nodeport_match} meta l4proto . th dport vmap @no-endpoint-nodeports",
    )

    tx.op(
        "add",
        "map",
        f"firewall-ips {{ type {ADDR_TYPE} . inet_proto . inet_service : verdict ; "
        'comment "destinations that are subject to LoadBalancerSourceRanges" ; }',
    )
    tx.ensure_chain("firewall-check")
    tx.rule("firewall-check", "ip daddr . meta l4proto . th dport vmap @firewall-ips")

    tx.op(
        "add",
        "map",
        f"service-ips {{ type {ADDR_TYPE} . inet_proto . inet_service : verdict ; "
        'comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }',
    )
    tx.op(
        "add",
        "map",
        "service-nodeports { type inet_proto . inet_service : verdict ; "
        'comment "NodePort traffic" ; }',
    )
    tx.rule("services", "ip daddr . meta l4proto . th dport vmap @service-ips")
    nodeport_match = (
        f"fib daddr type local {NO_LOCALHOST}" if nodeport_ips is None else "ip daddr @nodeport-ips"
    )
    tx.rule("services", f"{nodeport_match} meta l4proto . th dport vmap @service-nodeports")


@dataclass(frozen=True)
class _Node:
    """What every service port needs from the config, worked out once per render."""

    config: ProxyConfig
    detector: str | None
    """The ClusterCIDR of the local-traffic detector (None: no detector)."""
    ip: ipaddress.IPv4Address | None
    """The node's primary IPv4 address (kube-proxy's `nodeIP` for this family)."""

    @classmethod
    def of(cls, config: ProxyConfig) -> _Node:
        addresses = (ipaddress.ip_address(ip) for ip in config.node_ips)
        ip = next((a for a in addresses if a.version == 4), None)
        return cls(config, config.cluster_cidr_v4, ip)


def _service_port(tx: _Transaction, port: ServicePortInfo, node: _Node) -> None:
    """Chains, rules and map elements of one service port (the loop body of `syncProxyRules`)."""
    plan = plan_policy(port, node.config)
    cats = plan.categories
    proto, name = port.proto, port.name
    base = service_chain_base(port)
    cluster_chain, local_chain = f"service-{base}", f"local-{base}"
    external_chain, firewall_chain = f"external-{base}", f"firewall-{base}"
    endpoint_bases = {ep.address: endpoint_chain_base(port, ep) for ep in cats.all_reachable}
    affinity = port.affinity_seconds > 0

    for ep_base in endpoint_bases.values():
        tx.ensure_chain(f"endpoint-{ep_base}")
    uses_cluster_chain, uses_local_chain = plan.uses_cluster, plan.uses_local
    if uses_cluster_chain:
        tx.ensure_chain(cluster_chain)
    if uses_local_chain:
        tx.ensure_chain(local_chain)

    internal_chain = local_chain if plan.internal_local else cluster_chain
    external_policy_chain = local_chain if plan.external_local else cluster_chain
    has_internal, has_external = plan.has_internal, plan.has_external
    uses_external_chain = plan.uses_external
    if uses_external_chain:
        tx.ensure_chain(external_chain)

    # No endpoint anywhere: REJECT. Endpoints, but none this node may use (a Local policy): DROP.
    refusal = "drop" if cats.has_any else f"goto {REJECT_CHAIN}"

    tx.element("cluster-ips", port.cluster_ip)
    key = f"{port.cluster_ip} . {proto} . {port.port}"
    if has_internal:
        tx.element("service-ips", key, f"goto {internal_chain}")
    else:
        tx.element("no-endpoint-services", key, refusal, comment=name)

    for ip in port.external_ips:
        key = f"{ip} . {proto} . {port.port}"
        if cats.has_any:
            tx.element("service-ips", key, f"goto {external_chain}")
        if not has_external:
            tx.element("no-endpoint-services", key, refusal, comment=name)

    uses_firewall = plan.uses_firewall
    if uses_firewall:
        tx.ensure_chain(firewall_chain)
    for ip in port.load_balancer_ips:
        key = f"{ip} . {proto} . {port.port}"
        if cats.has_any:
            tx.element("service-ips", key, f"goto {external_chain}")
        if uses_firewall:
            tx.element("firewall-ips", key, f"goto {firewall_chain}")
    if not has_external:
        for ip in port.load_balancer_ips:
            key = f"{ip} . {proto} . {port.port}"
            tx.element("no-endpoint-services", key, refusal, comment=name)

    if port.node_port:
        key = f"{proto} . {port.node_port}"
        if cats.has_any:
            # NodePorts are not subject to loadBalancerSourceRanges, upstream notes.
            tx.element("service-nodeports", key, f"goto {external_chain}")
        if not has_external:
            tx.element("no-endpoint-nodeports", key, refusal, comment=name)

    detector = node.detector
    if has_internal:
        if node.config.masquerade_all:
            tx.rule(internal_chain, f"ip daddr {port.cluster_ip} jump {MARK_MASQ_CHAIN}")
        elif detector:
            # Off-cluster traffic to a ClusterIP may be routed back out of the node: SNAT it.
            tx.rule(
                internal_chain,
                f"ip daddr {port.cluster_ip} ip saddr != {detector} jump {MARK_MASQ_CHAIN}",
            )

    if uses_external_chain:
        if not port.external_policy_local:
            tx.rule(external_chain, f"jump {MARK_MASQ_CHAIN}")
        else:
            if detector:
                tx.rule(
                    external_chain,
                    f"ip saddr {detector} goto {cluster_chain}",
                    "short-circuit pod traffic",
                )
            tx.rule(
                external_chain,
                f"fib saddr type local jump {MARK_MASQ_CHAIN}",
                "masquerade local traffic",
            )
            tx.rule(
                external_chain,
                f"fib saddr type local goto {cluster_chain}",
                "short-circuit local traffic",
            )
        if has_external:
            tx.rule(external_chain, f"goto {external_policy_chain}")

    if uses_firewall:
        sources = list(port.source_ranges)
        if node.ip is not None and any(
            node.ip in ipaddress.ip_network(cidr) for cidr in port.source_ranges
        ):
            # A node's request to a VIP-style LB IP loops back with the LB IP as source.
            sources.extend(port.load_balancer_ips)
        tx.rule(firewall_chain, f"ip saddr != {{ {' , '.join(sources)} }} drop")

    if affinity:
        for ep_base in endpoint_bases.values():
            tx.op(
                "add",
                "set",
                f"affinity-{ep_base} {{ type {ADDR_TYPE} ; "
                f"flags dynamic,timeout ; timeout {port.affinity_seconds}s ; }}",
            )

    if uses_cluster_chain:
        _endpoint_dispatch(
            tx, cluster_chain, [endpoint_bases[ep.address] for ep in cats.cluster], affinity
        )
    if uses_local_chain:
        _endpoint_dispatch(
            tx, local_chain, [endpoint_bases[ep.address] for ep in cats.local], affinity
        )

    # The hot loop of a big cluster: lines written directly, in `tx.rule`'s format.
    append, prefix = tx.lines.append, f"add rule {tx.prefix} endpoint-"
    for (address, ep_base), ep in zip(endpoint_bases.items(), cats.all_reachable, strict=True):
        append(f"{prefix}{ep_base} ip saddr {ep.ip} jump {MARK_MASQ_CHAIN}")  # hairpin: SNAT
        if affinity:
            append(f"{prefix}{ep_base} update @affinity-{ep_base} {{ ip saddr }}")
        append(f"{prefix}{ep_base} meta l4proto {proto} dnat to {address}")


def _endpoint_dispatch(tx: _Transaction, chain: str, bases: list[str], affinity: bool) -> None:
    """Affinity lookups, then one `numgen random mod N` verdict map.

    Upstream `writeServiceToEndpointRules`; verdict-map indexes follow the endpoints' order.
    """
    if affinity:
        for base in bases:
            tx.rule(chain, f"ip saddr @affinity-{base} goto endpoint-{base}")
    entries = " , ".join(f"{i} : goto endpoint-{base}" for i, base in enumerate(bases))
    tx.rule(chain, f"numgen random mod {len(bases)} vmap {{ {entries} }}")


def render(state: ClusterState, config: ProxyConfig) -> str:
    """The `nft -f` input kube-proxy's nftables proxier sends for `state` on its first full sync."""
    with paused_gc():
        tx = _Transaction()
        _setup(tx, config)
        node = _Node.of(config)
        for port in build_service_ports(state, config):
            _service_port(tx, port, node)
        return tx.text()


def rule_set_size(text: str, config: ProxyConfig) -> tuple[int, int]:
    """(rules, set and map elements) of a rendered transaction: what the kernel holds."""
    lines = text.splitlines()
    rules = sum(line.startswith(("add rule", "insert rule")) for line in lines)
    return rules, sum(_element_count(line) for line in lines if line.startswith("add element"))


def _element_count(line: str) -> int:
    """Elements in one ``add element … { a, b : c, … }`` line (top-level commas + 1).

    >>> _element_count("add element ip t m { 10.0.0.1 . tcp . 80 : goto x , 10.0.0.2 . tcp . 80 : goto y }")
    2
    """
    body = line[line.index("{") + 1 : line.rindex("}")]
    depth, count = 0, 1
    for char in body:
        depth += {"{": 1, "}": -1}.get(char, 0)
        count += char == "," and depth == 0
    return count
