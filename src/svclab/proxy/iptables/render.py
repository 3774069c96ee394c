"""kube-proxy's iptables mode: the `iptables-restore` input it writes, and its jumps from built-in chains.

Follows `syncProxyRules` of kube-proxy 1.35 (pkg/proxy/iptables/proxier.go) for a full sync of an
IPv4 node with the ClusterCIDR local-traffic detector (or none). Services are written in
namespace/name/port order; kube-proxy's own order is its map order (upstream tests sort it away).

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.proxy.config import ProxyConfig
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: svc1, namespace: ns1}
... spec: {clusterIP: 172.30.0.41, ports: [{name: p80, port: 80}]}
... ---
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {name: svc1-1, namespace: ns1, labels: {kubernetes.io/service-name: svc1}}
... addressType: IPv4
... endpoints: [{addresses: [10.180.0.1]}]
... ports: [{name: p80, port: 80}]
... '''))
>>> text = render(state, ProxyConfig(hostname_override="node-1", cluster_cidr="10.0.0.0/8"))
>>> print("\\n".join(line for line in text.splitlines() if "svc1" in line))
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.naming import sha256_base32
from svclab.proxy.rules.iptables import JumpRule
from svclab.proxy.servicemap import (
    Endpoint,
    ServicePortInfo,
    build_service_ports,
    paused_gc,
)
from svclab.proxy.topology import plan_policy

NODEPORTS_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'
NFACCT_INVALID = "ct_state_invalid_dropped_pkts"
NFACCT_LOCALHOST_NODEPORTS = "localhost_nps_accepted_pkts"


def port_proto_hash(service_port_name: str, protocol: str) -> str:
    """`portProtoHash`: base32(sha256(name + protocol)), first 16 characters.

    >>> port_proto_hash("ns1/svc1:p80", "tcp"), port_proto_hash("ns1/svc1", "tcp")
    ('XPGD46QRK7WJZT7O', 'AQI2S6QIMU7PVVRP')
    """
    return sha256_base32(service_port_name + protocol, 16)


def endpoint_chain(service_port_name: str, protocol: str, endpoint: str) -> str:
    """`servicePortEndpointChainName`: ``KUBE-SEP-`` + hash of name, protocol and ``ip:port``.

    >>> endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80")
    'KUBE-SEP-SXIVWICOYRO3J4NJ'
    """
    return "KUBE-SEP-" + port_proto_hash(service_port_name, protocol + endpoint)


@lru_cache(maxsize=4096)
def probability(n: int) -> str:
    """`computeProbability`: 1/n with Go's ``%0.10f`` (round half to even on the exact binary value).

    >>> [probability(n) for n in (1, 2, 3, 100000, 100001)]
    ['1.0000000000', '0.5000000000', '0.3333333333', '0.0000100000', '0.0000099999']
    """
    return f"{1.0 / n:.10f}"


# (table, built-in chain, kube chain, extra match, comment) in upstream's list order, followed by
# the kubelet-owned KUBE-FIREWALL jumps kube-proxy also ensures.
_JUMPS = (
    (
        "filter",
        "INPUT",
        "KUBE-EXTERNAL-SERVICES",
        "-m conntrack --ctstate NEW",
        "kubernetes externally-visible service portals",
    ),
    (
        "filter",
        "FORWARD",
        "KUBE-EXTERNAL-SERVICES",
        "-m conntrack --ctstate NEW",
        "kubernetes externally-visible service portals",
    ),
    ("filter", "INPUT", "KUBE-NODEPORTS", "", "kubernetes health check service ports"),
    (
        "filter",
        "FORWARD",
        "KUBE-SERVICES",
        "-m conntrack --ctstate NEW",
        "kubernetes service portals",
    ),
    (
        "filter",
        "OUTPUT",
        "KUBE-SERVICES",
        "-m conntrack --ctstate NEW",
        "kubernetes service portals",
    ),
    ("filter", "FORWARD", "KUBE-FORWARD", "", "kubernetes forwarding rules"),
    (
        "filter",
        "INPUT",
        "KUBE-PROXY-FIREWALL",
        "-m conntrack --ctstate NEW",
        "kubernetes load balancer firewall",
    ),
    (
        "filter",
        "OUTPUT",
        "KUBE-PROXY-FIREWALL",
        "-m conntrack --ctstate NEW",
        "kubernetes load balancer firewall",
    ),
    (
        "filter",
        "FORWARD",
        "KUBE-PROXY-FIREWALL",
        "-m conntrack --ctstate NEW",
        "kubernetes load balancer firewall",
    ),
    ("nat", "OUTPUT", "KUBE-SERVICES", "", "kubernetes service portals"),
    ("nat", "PREROUTING", "KUBE-SERVICES", "", "kubernetes service portals"),
    ("nat", "POSTROUTING", "KUBE-POSTROUTING", "", "kubernetes postrouting rules"),
    ("filter", "INPUT", "KUBE-FIREWALL", "", ""),
    ("filter", "OUTPUT", "KUBE-FIREWALL", "", ""),
)


def jump_rules() -> list[JumpRule]:
    """The built-in-chain jumps in their final order.

    kube-proxy inserts each at position 1 (`EnsureRule(Prepend)`) in list order, so on empty
    chains the last one ensured comes first.

    >>> [r.line for r in jump_rules() if r.chain == "FORWARD"][0]
    '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL'
    """
    rules = []
    for table, chain, target, extra, comment in reversed(_JUMPS):
        parts = [extra] if extra else []
        if comment:
            parts.append(f'-m comment --comment "{comment}"')
        parts.append(f"-j {target}")
        rules.append(JumpRule(table, chain, " ".join(parts)))
    return rules


def jump_rules_restore() -> str:
    """The jumps as `iptables-restore --noflush` input, to load *before* `render`'s output.

    The kube chains are declared here so the jumps can refer to them; `render`'s input then
    fills them (a declared chain is flushed on restore, so the order matters).

    >>> jump_rules_restore().splitlines()[:3]
    ['*filter', ':KUBE-FIREWALL - [0:0]', ':KUBE-PROXY-FIREWALL - [0:0]']
    """
    out: list[str] = []
    for table in ("filter", "nat"):
        rules = [r for r in jump_rules() if r.table == table]
        targets = dict.fromkeys(r.args.rsplit(" ", 1)[1] for r in rules)
        out.append(f"*{table}")
        out.extend(f":{name} - [0:0]" for name in targets)
        out.extend(r.line for r in rules)
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def render(state: ClusterState, config: ProxyConfig) -> str:
    """The `iptables-restore` input kube-proxy writes for `state` (filter then nat)."""
    with paused_gc():
        return _Writer(config).write(build_service_ports(state, config))


class _Writer:
    """One full `syncProxyRules`: four line buffers filled service port by service port."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.mark = config.mark
        cidr = config.cluster_cidr_v4
        self.if_local = f"-s {cidr}" if cidr else None
        self.if_not_local = f"! -s {cidr}" if cidr else None
        self.localhost_nodeports = config.localhost_nodeports_enabled
        self.filter_chains = [
            ":KUBE-SERVICES - [0:0]",
            ":KUBE-EXTERNAL-SERVICES - [0:0]",
            ":KUBE-FORWARD - [0:0]",
            ":KUBE-NODEPORTS - [0:0]",
            ":KUBE-PROXY-FIREWALL - [0:0]",
        ]
        self.filter_rules: list[str] = []
        self.nat_chains = [
            ":KUBE-SERVICES - [0:0]",
            ":KUBE-NODEPORTS - [0:0]",
            ":KUBE-POSTROUTING - [0:0]",
            ":KUBE-MARK-MASQ - [0:0]",
        ]
        self.nat_rules: list[str] = []
        self.large_cluster = False

    def write(self, ports: list[ServicePortInfo]) -> str:
        mark = self.mark
        masquerade = '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
        self.nat_rules += [
            f"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN",
            f"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}",
            masquerade + (" --random-fully" if self.config.random_fully else ""),
            f"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}",
        ]
        if self.localhost_nodeports:
            # Mitigates the route_localnet hole (kubernetes#90259); kubelet writes the same rule.
            self.filter_chains.append(":KUBE-FIREWALL - [0:0]")
            self.filter_rules.append(
                '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" '
                "-d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
            )
        total = sum(len(port.endpoints) for port in ports)
        self.large_cluster = total > self.config.large_cluster_threshold
        for port in ports:
            self._service_port(port)
        self._nodeports_jump()
        self._forward_rules()
        return "".join(
            [
                "*filter\n",
                *(line + "\n" for line in self.filter_chains),
                *(line + "\n" for line in self.filter_rules),
                "COMMIT\n*nat\n",
                *(line + "\n" for line in self.nat_chains),
                *(line + "\n" for line in self.nat_rules),
                "COMMIT\n",
            ]
        )

    def _comment(self, text: str) -> str:
        """`appendServiceCommentLocked`: per-endpoint comments vanish in large clusters."""
        return "" if self.large_cluster else f" -m comment --comment {text}"

    def _service_port(self, svc: ServicePortInfo) -> None:
        name, proto = svc.name, svc.proto
        base = port_proto_hash(name, proto)
        cluster_chain, local_chain = f"KUBE-SVC-{base}", f"KUBE-SVL-{base}"
        ext_chain, fw_chain = f"KUBE-EXT-{base}", f"KUBE-FW-{base}"
        plan = plan_policy(svc, self.config)
        cats = plan.categories
        seps = {ep.address: endpoint_chain(name, proto, ep.address) for ep in cats.all_reachable}
        has_endpoints, has_internal, has_external = (
            plan.has_endpoints,
            plan.has_internal,
            plan.has_external,
        )
        uses_cluster, uses_local, uses_ext = plan.uses_cluster, plan.uses_local, plan.uses_external
        internal_chain = local_chain if plan.internal_local else cluster_chain
        external_policy_chain = local_chain if plan.external_local else cluster_chain
        uses_fw = (
            has_endpoints and plan.uses_firewall
        )  # iptables: no firewall chain without endpoints
        lb_chain = fw_chain if uses_fw else ext_chain

        if not has_endpoints:
            filter_target, filter_comment = "REJECT", f'"{name} has no endpoints"'
            ext_target, ext_comment = filter_target, filter_comment
        else:
            filter_target = ext_target = "DROP"
            filter_comment = ext_comment = f'"{name} has no local endpoints"'

        match = f"-m {proto} -p {proto}"
        vip = f"{match} -d {svc.cluster_ip} --dport {svc.port}"
        nat, flt = self.nat_rules, self.filter_rules
        if has_internal:
            nat.append(
                f'-A KUBE-SERVICES -m comment --comment "{name} cluster IP" {vip} -j {internal_chain}'
            )
        else:
            flt.append(
                f"-A KUBE-SERVICES -m comment --comment {filter_comment} {vip} -j {filter_target}"
            )

        for ip in svc.external_ips:
            dest = f"{match} -d {ip} --dport {svc.port}"
            if has_endpoints:
                nat.append(
                    f'-A KUBE-SERVICES -m comment --comment "{name} external IP" {dest} -j {ext_chain}'
                )
            if not has_external:
                flt.append(
                    f"-A KUBE-EXTERNAL-SERVICES -m comment --comment {ext_comment} {dest} -j {ext_target}"
                )

        for ip in svc.load_balancer_ips:
            dest = f"{match} -d {ip} --dport {svc.port}"
            if has_endpoints:
                nat.append(
                    f'-A KUBE-SERVICES -m comment --comment "{name} loadbalancer IP" {dest} -j {lb_chain}'
                )
            if uses_fw:
                flt.append(
                    f'-A KUBE-PROXY-FIREWALL -m comment --comment "{name} traffic not accepted by {fw_chain}" '
                    f"{dest} -j DROP"
                )
        if not has_external:
            for ip in svc.load_balancer_ips:
                flt.append(
                    f"-A KUBE-EXTERNAL-SERVICES -m comment --comment {ext_comment} "
                    f"{match} -d {ip} --dport {svc.port} -j {ext_target}"
                )

        if svc.node_port:
            if has_endpoints:
                if self.localhost_nodeports and self.config.nfacct:
                    nat.append(
                        f"-A KUBE-NODEPORTS -m comment --comment {name} {match} -d 127.0.0.0/8 "
                        f"--dport {svc.node_port} -m nfacct --nfacct-name {NFACCT_LOCALHOST_NODEPORTS} -j {ext_chain}"
                    )
                nat.append(
                    f"-A KUBE-NODEPORTS -m comment --comment {name} {match} --dport {svc.node_port} -j {ext_chain}"
                )
            if not has_external:
                flt.append(
                    f"-A KUBE-EXTERNAL-SERVICES -m comment --comment {ext_comment} -m addrtype --dst-type LOCAL "
                    f"{match} --dport {svc.node_port} -j {ext_target}"
                )

        if svc.health_check_node_port:
            flt.append(
                f'-A KUBE-NODEPORTS -m comment --comment "{name} health check node port" '
                f"-m tcp -p tcp --dport {svc.health_check_node_port} -j ACCEPT"
            )

        if has_internal:
            masq_args = f'-A {internal_chain} -m comment --comment "{name} cluster IP" {vip}'
            if self.config.masquerade_all:
                nat.append(f"{masq_args} -j KUBE-MARK-MASQ")
            elif self.if_not_local:
                # Off-cluster traffic to a VIP may bounce to another node: masquerade it.
                nat.append(f"{masq_args} {self.if_not_local} -j KUBE-MARK-MASQ")

        if uses_ext:
            self.nat_chains.append(f":{ext_chain} - [0:0]")
            if not svc.external_policy_local:
                nat.append(
                    f'-A {ext_chain} -m comment --comment "masquerade traffic for {name} external destinations" '
                    "-j KUBE-MARK-MASQ"
                )
            else:
                if self.if_local:
                    nat.append(
                        f'-A {ext_chain} -m comment --comment "pod traffic for {name} external destinations" '
                        f"{self.if_local} -j {cluster_chain}"
                    )
                nat.append(
                    f'-A {ext_chain} -m comment --comment "masquerade LOCAL traffic for {name} external destinations" '
                    "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ"
                )
                nat.append(
                    f'-A {ext_chain} -m comment --comment "route LOCAL traffic for {name} external destinations" '
                    f"-m addrtype --src-type LOCAL -j {cluster_chain}"
                )
            if has_external:
                nat.append(f"-A {ext_chain} -j {external_policy_chain}")

        if uses_fw:
            self._firewall_chain(svc, fw_chain, ext_chain)
        if uses_cluster:
            self.nat_chains.append(f":{cluster_chain} - [0:0]")
            self._dispatch(svc, cluster_chain, cats.cluster, seps)
        if uses_local:
            self.nat_chains.append(f":{local_chain} - [0:0]")
            self._dispatch(svc, local_chain, cats.local, seps)
        for ep in cats.all_reachable:
            self._endpoint_chain(svc, ep, seps[ep.address])

    def _firewall_chain(self, svc: ServicePortInfo, fw_chain: str, ext_chain: str) -> None:
        name = svc.name
        self.nat_chains.append(f":{fw_chain} - [0:0]")
        head = f'-A {fw_chain} -m comment --comment "{name} loadbalancer IP"'
        node_ip = ipaddress.ip_address(self.config.node_ips[0]) if self.config.node_ips else None
        allow_from_node = False
        for cidr in svc.source_ranges:
            self.nat_rules.append(f"{head} -s {cidr} -j {ext_chain}")
            if node_ip is not None and node_ip in ipaddress.ip_network(cidr):
                allow_from_node = True
        if allow_from_node:
            # A VIP-style LB IP is often local: node-to-LB traffic loops back with the LB IP as source.
            self.nat_rules.extend(f"{head} -s {ip} -j {ext_chain}" for ip in svc.load_balancer_ips)
        self.nat_rules.append(
            f'-A {fw_chain} -m comment --comment "other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"'
        )

    def _dispatch(
        self,
        svc: ServicePortInfo,
        chain: str,
        endpoints: tuple[Endpoint, ...],
        seps: dict[str, str],
    ) -> None:
        """`writeServiceToEndpointRules`: affinity checks first, then the probability ladder."""
        name = svc.name
        rules = self.nat_rules
        if svc.affinity_seconds:
            for ep in endpoints:
                sep = seps[ep.address]
                comment = self._comment(f'"{name} -> {ep.address}"')
                rules.append(
                    f"-A {chain}{comment} -m recent --name {sep} "
                    f"--rcheck --seconds {svc.affinity_seconds} --reap -j {sep}"
                )
        n = len(endpoints)
        for i, ep in enumerate(endpoints):
            sep = seps[ep.address]
            comment = self._comment(f'"{name} -> {ep.address}"')
            if i < n - 1:
                rules.append(
                    f"-A {chain}{comment} -m statistic --mode random --probability {probability(n - i)} -j {sep}"
                )
            else:
                rules.append(f"-A {chain}{comment} -j {sep}")

    def _endpoint_chain(self, svc: ServicePortInfo, ep: Endpoint, sep: str) -> None:
        name, proto = svc.name, svc.proto
        self.nat_chains.append(f":{sep} - [0:0]")
        head = f"-A {sep}{self._comment(name)}"
        # Hairpin: a pod reaching itself through the VIP must be SNATed or it would answer itself.
        self.nat_rules.append(f"{head} -s {ep.ip} -j KUBE-MARK-MASQ")
        affinity = f" -m recent --name {sep} --set" if svc.affinity_seconds else ""
        self.nat_rules.append(
            f"{head}{affinity} -m {proto} -p {proto} -j DNAT --to-destination {ep.address}"
        )

    def _nodeports_jump(self) -> None:
        """The tail call to KUBE-NODEPORTS, which must stay the last rule of nat KUBE-SERVICES."""
        node_ips = self.config.nodeport_ips
        if node_ips is None:
            extra = "" if self.localhost_nodeports else " ! -d 127.0.0.0/8"
            self.nat_rules.append(
                f"-A KUBE-SERVICES -m comment --comment {NODEPORTS_COMMENT} -m addrtype --dst-type LOCAL{extra} -j KUBE-NODEPORTS"
            )
            return
        for ip in node_ips:
            if ipaddress.ip_address(ip).is_loopback and not self.localhost_nodeports:
                continue  # kube-proxy logs an error and skips it
            self.nat_rules.append(
                f"-A KUBE-SERVICES -m comment --comment {NODEPORTS_COMMENT} -d {ip} -j KUBE-NODEPORTS"
            )

    def _forward_rules(self) -> None:
        mark = self.mark
        if not self.config.tcp_be_liberal:
            nfacct = f" -m nfacct --nfacct-name {NFACCT_INVALID}" if self.config.nfacct else ""
            self.filter_rules.append(
                f"-A KUBE-FORWARD -m conntrack --ctstate INVALID{nfacct} -j DROP"
            )
        self.filter_rules += [
            f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark {mark}/{mark} -j ACCEPT',
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
            "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        ]


def rule_set_size(text: str, config: ProxyConfig) -> tuple[int, int]:
    """(``-A`` rules, 0) of rendered restore text: iptables has no sets.

    >>> rule_set_size("*nat\\n-A KUBE-SERVICES -j RETURN\\nCOMMIT\\n", ProxyConfig(hostname_override="n"))
    (1, 0)
    """
    return sum(line.startswith("-A ") for line in text.splitlines()), 0
