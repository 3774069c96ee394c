"""kube-proxy's IPVS mode, simulated: virtual servers as `ipvsadm -Ln` shows them, ipsets, iptables.

**Deprecated.** The IPVS proxier is deprecated since Kubernetes 1.35: kube-proxy logs "The ipvs
proxier is now deprecated and may be removed in a future release. Please use 'nftables'
instead." (PR #134539, KEP-5495 `keps/sig-network/5495-deprecate-ipvs-mode-in-kube-proxy`;
planned: a `KubeProxyIPVS` gate in 1.37, off by default in 1.40, code removed in 1.43).

**Simulation only.** This machine's kernel has no IPVS, so nothing here is loaded into a kernel:
`build` computes the state kube-proxy's `syncProxyRules` would program (kubernetes/kubernetes
`pkg/proxy/ipvs/proxier.go` at 3520f8d6, the 1.35 era), `render` prints it, and `trace` walks the
rendered iptables rules and the virtual-server table for one first packet.

What `render` prints, in order:

- `ipvsadm -Ln`: one virtual server per ClusterIP:port, externalIP:port, load-balancer IP:port
  and node IP:nodePort; real servers (weight 1, `Masq`) are the endpoints `CategorizeEndpoints`
  selects; scheduler ``rr`` unless another is given (kube-proxy does not validate the name);
  ClientIP affinity adds ``persistent <timeout>``. Sorted as ipvsadm sorts (`ipvs_cmp_services`:
  protocol, then address and port compared by 32-bit subtraction, wrap-around included). For
  ``mh`` kube-proxy also sets the source-hash flag (0x10), which this listing does not show.
- `ipset save`-like: every set kube-proxy creates, in its `ipsetInfo` order, with the parameters
  it passes to ``ipset create`` (a real ``ipset save`` may add ``bucketsize``/``initval``) and its
  members sorted as kube-proxy adds them.
- the ``iptables -I`` jumps kube-proxy ensures in built-in chains, then its `iptables-restore
  --noflush` input (`createAndLinkKubeChain`, `writeIptablesRules`, `acceptIPVSTraffic`).

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.proxy.config import ProxyConfig
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: svc1, namespace: ns1}
... spec: {clusterIP: 10.20.30.41, ports: [{name: p80, port: 80}]}
... ---
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {name: svc1-1, namespace: ns1, labels: {kubernetes.io/service-name: svc1}}
... addressType: IPv4
... endpoints: [{addresses: [10.180.0.1]}, {addresses: [10.180.0.2]}]
... ports: [{name: p80, port: 80}]
... '''))
>>> ipvs = build(state, ProxyConfig(hostname_override="node-1"))
>>> for line in render_ipvsadm(ipvs.virtual_servers).splitlines():  # ipvsadm pads with spaces
...     print(line.rstrip())
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.20.30.41:80 rr
  -> 10.180.0.1:80                Masq    1      0          0
  -> 10.180.0.2:80                Masq    1      0          0
>>> ipvs.ipset("KUBE-CLUSTER-IP").entries
('10.20.30.41,tcp:80',)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cmp_to_key, lru_cache

from svclab import KUBERNETES_VERSION
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.rules.iptables import JumpRule
from svclab.proxy.servicemap import (
    ServicePortInfo,
    build_service_ports,
    paused_gc,
)
from svclab.proxy.topology import categorize_endpoints

DEFAULT_SCHEDULER = "rr"
"""`defaultScheduler`: used when ``--ipvs-scheduler`` is empty."""
DEPRECATION = (
    "The IPVS proxier is deprecated since Kubernetes 1.35 (KEP-5495): "
    "kube-proxy recommends 'nftables' instead."
)

# (name, type, comment) in kube-proxy's `ipsetInfo` order (pkg/proxy/ipvs/proxier.go, ipset.go).
IPSETS = (
    (
        "KUBE-LOOP-BACK",
        "hash:ip,port,ip",
        "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    ),
    (
        "KUBE-CLUSTER-IP",
        "hash:ip,port",
        "Kubernetes service cluster ip + port for masquerade purpose",
    ),
    (
        "KUBE-EXTERNAL-IP",
        "hash:ip,port",
        "Kubernetes service external ip + port for masquerade and filter purpose",
    ),
    (
        "KUBE-EXTERNAL-IP-LOCAL",
        "hash:ip,port",
        "Kubernetes service external ip + port with externalTrafficPolicy=local",
    ),
    ("KUBE-LOAD-BALANCER", "hash:ip,port", "Kubernetes service lb portal"),
    (
        "KUBE-LOAD-BALANCER-FW",
        "hash:ip,port",
        "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    ),
    (
        "KUBE-LOAD-BALANCER-LOCAL",
        "hash:ip,port",
        "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-IP",
        "hash:ip,port,ip",
        "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        "hash:ip,port,net",
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    ),
    ("KUBE-NODE-PORT-TCP", "bitmap:port", "Kubernetes nodeport TCP port for masquerade purpose"),
    (
        "KUBE-NODE-PORT-LOCAL-TCP",
        "bitmap:port",
        "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
    ),
    ("KUBE-NODE-PORT-UDP", "bitmap:port", "Kubernetes nodeport UDP port for masquerade purpose"),
    (
        "KUBE-NODE-PORT-LOCAL-UDP",
        "bitmap:port",
        "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
    ),
    (
        "KUBE-NODE-PORT-SCTP-HASH",
        "hash:ip,port",
        "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    ),
    (
        "KUBE-NODE-PORT-LOCAL-SCTP-HASH",
        "hash:ip,port",
        "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    ),
    ("KUBE-HEALTH-CHECK-NODE-PORT", "bitmap:port", "Kubernetes health check node port"),
    ("KUBE-IPVS-IPS", "hash:ip", "Addresses on the ipvs interface"),
)
_COMMENT = {name: f'"{comment}"' for name, _, comment in IPSETS}

# `ipsetWithIptablesChain`: (set, table, from chain, target, match dirs, protocol), upstream order.
_SET_JUMPS = (
    ("KUBE-LOOP-BACK", "nat", "KUBE-POSTROUTING", "MASQUERADE", "dst,dst,src", ""),
    ("KUBE-LOAD-BALANCER", "nat", "KUBE-SERVICES", "KUBE-LOAD-BALANCER", "dst,dst", ""),
    ("KUBE-LOAD-BALANCER-LOCAL", "nat", "KUBE-LOAD-BALANCER", "RETURN", "dst,dst", ""),
    ("KUBE-NODE-PORT-LOCAL-TCP", "nat", "KUBE-NODE-PORT", "RETURN", "dst", "tcp"),
    ("KUBE-NODE-PORT-TCP", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst", "tcp"),
    ("KUBE-NODE-PORT-LOCAL-UDP", "nat", "KUBE-NODE-PORT", "RETURN", "dst", "udp"),
    ("KUBE-NODE-PORT-UDP", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst", "udp"),
    ("KUBE-NODE-PORT-LOCAL-SCTP-HASH", "nat", "KUBE-NODE-PORT", "RETURN", "dst,dst", "sctp"),
    ("KUBE-NODE-PORT-SCTP-HASH", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst,dst", "sctp"),
    (
        "KUBE-LOAD-BALANCER-FW",
        "filter",
        "KUBE-PROXY-FIREWALL",
        "KUBE-SOURCE-RANGES-FIREWALL",
        "dst,dst",
        "",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-CIDR",
        "filter",
        "KUBE-SOURCE-RANGES-FIREWALL",
        "RETURN",
        "dst,dst,src",
        "",
    ),
    (
        "KUBE-LOAD-BALANCER-SOURCE-IP",
        "filter",
        "KUBE-SOURCE-RANGES-FIREWALL",
        "RETURN",
        "dst,dst,src",
        "",
    ),
)

# `iptablesChains` and `iptablesJumpChain` (each ensured with `iptables -I`, i.e. at the top).
# KUBE-IPVS-FILTER lets these destinations through before rejecting new connections to other
# addresses on kube-ipvs0 (kubernetes/kubernetes#72236).
_IPVS_FILTER_RETURNS = (
    "KUBE-LOAD-BALANCER",
    "KUBE-CLUSTER-IP",
    "KUBE-EXTERNAL-IP",
    "KUBE-EXTERNAL-IP-LOCAL",
    "KUBE-HEALTH-CHECK-NODE-PORT",
)
_NAT_CHAINS = (
    "KUBE-SERVICES",
    "KUBE-POSTROUTING",
    "KUBE-NODE-PORT",
    "KUBE-LOAD-BALANCER",
    "KUBE-MARK-MASQ",
)
_FILTER_CHAINS = (
    "KUBE-FORWARD",
    "KUBE-NODE-PORT",
    "KUBE-PROXY-FIREWALL",
    "KUBE-SOURCE-RANGES-FIREWALL",
    "KUBE-IPVS-FILTER",
    "KUBE-IPVS-OUT-FILTER",
)
_JUMPS = (
    ("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals"),
    ("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals"),
    ("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules"),
    ("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules"),
    ("filter", "INPUT", "KUBE-NODE-PORT", "kubernetes health check rules"),
    ("filter", "INPUT", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
    ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
    ("filter", "INPUT", "KUBE-IPVS-FILTER", "kubernetes ipvs access filter"),
    ("filter", "OUTPUT", "KUBE-IPVS-OUT-FILTER", "kubernetes ipvs access filter"),
)
_PROTO_NUMBER = {"TCP": 6, "UDP": 17, "SCTP": 132}


@dataclass(frozen=True, slots=True)
class RealServer:
    """An IPVS destination: one endpoint of the Service."""

    ip: str
    port: int
    weight: int = 1

    @property
    def address(self) -> str:
        """``ip:port``."""
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True)
class VirtualServer:
    """An IPVS service: protocol, address, port, scheduler, persistence and its real servers."""

    protocol: str
    ip: str
    port: int
    scheduler: str = DEFAULT_SCHEDULER
    persistent: int = 0
    """ClientIP affinity timeout in seconds (IPVS `persistent`); 0 means none."""
    real_servers: tuple[RealServer, ...] = ()
    service: str = ""
    """The service port it implements (``ns/name:port``)."""

    @property
    def key(self) -> tuple[str, str, int]:
        """(protocol, ip, port): what the kernel hashes to find the service."""
        return self.protocol, self.ip, self.port


@dataclass(frozen=True, slots=True)
class IPSet:
    """One ipset kube-proxy manages, with its members as ipset prints them."""

    name: str
    type: str
    entries: tuple[str, ...] = ()

    @property
    def create_line(self) -> str:
        """``create ...`` with the parameters kube-proxy passes.

        >>> IPSet("KUBE-NODE-PORT-TCP", "bitmap:port").create_line
        'create KUBE-NODE-PORT-TCP bitmap:port range 0-65535'
        """
        if self.type == "bitmap:port":
            return f"create {self.name} {self.type} range 0-65535"
        return f"create {self.name} {self.type} family inet hashsize 1024 maxelem 65536"


@dataclass(frozen=True)
class IPVSState:
    """Everything kube-proxy's IPVS proxier programs for one node."""

    virtual_servers: tuple[VirtualServer, ...]
    ipsets: tuple[IPSet, ...]
    jumps: tuple[JumpRule, ...]
    restore: str
    """The `iptables-restore --noflush` input."""
    config: ProxyConfig = field(repr=False)
    _by_key: dict[tuple[str, str, int], VirtualServer] = field(init=False, repr=False)
    _members: dict[str, frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {vs.key: vs for vs in self.virtual_servers})
        object.__setattr__(self, "_members", {s.name: frozenset(s.entries) for s in self.ipsets})

    def ipset(self, name: str) -> IPSet:
        """The set called `name`."""
        return next(s for s in self.ipsets if s.name == name)

    def lookup(self, protocol: str, ip: str, port: int) -> VirtualServer | None:
        """The virtual server for a destination: one hash lookup, as `ip_vs_service_find`."""
        return self._by_key.get((protocol.upper(), ip, port))


def build(state: ClusterState, config: ProxyConfig, scheduler: str = "") -> IPVSState:
    """What kube-proxy's IPVS proxier programs for `state` (`syncProxyRules`, one full sync).

    An empty `scheduler` means ``rr`` (upstream logs "IPVS scheduler not specified, use rr by
    default").
    """
    return _Builder(config, scheduler or DEFAULT_SCHEDULER).build(
        build_service_ports(state, config)
    )


def render(state: ClusterState, config: ProxyConfig, scheduler: str = "") -> str:
    """The IPVS state as text: ``ipvsadm -Ln``, ``ipset save``, then the iptables rules."""
    with paused_gc():
        return _render(build(state, config, scheduler))


def _render(ipvs: IPVSState) -> str:
    header = (
        f"# kube-proxy IPVS mode (Kubernetes {KUBERNETES_VERSION}), simulated: "
        f"this kernel has no IPVS.\n# DEPRECATED: {DEPRECATION}\n"
    )
    jumps = "".join(f"iptables -t {j.table} -I {j.chain} {j.args}\n" for j in ipvs.jumps)
    return (
        header
        + "# --- ipvsadm -Ln\n"
        + render_ipvsadm(ipvs.virtual_servers)
        + "\n"
        + "# --- ipset save\n"
        + render_ipsets(ipvs.ipsets)
        + "# --- iptables: jumps kube-proxy ensures in built-in chains\n"
        + jumps
        + "# --- iptables-restore --noflush input\n"
        + ipvs.restore
    )


def render_ipvsadm(virtual_servers: Iterable[VirtualServer]) -> str:
    """`ipvsadm -Ln` for these virtual servers (no trailing newline), with zero connection counts.

    >>> print(render_ipvsadm([VirtualServer("UDP", "10.0.0.10", 53, persistent=10800)]))
    IP Virtual Server version 1.2.1 (size=4096)
    Prot LocalAddress:Port Scheduler Flags
      -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
    UDP  10.0.0.10:53 rr persistent 10800
    """
    lines = [
        "IP Virtual Server version 1.2.1 (size=4096)",
        "Prot LocalAddress:Port Scheduler Flags",
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
    ]
    for vs in sorted(virtual_servers, key=cmp_to_key(_cmp_services)):
        line = f"{vs.protocol}  {vs.ip}:{vs.port}"[:33] + f" {vs.scheduler}"
        if vs.persistent:
            line += f" persistent {vs.persistent}"
        lines.append(line)
        for rs in sorted(vs.real_servers, key=cmp_to_key(_cmp_dests)):
            lines.append(f"  -> {rs.address[:28]:<28} {'Masq':<7} {rs.weight:<6} {0:<10} {0:<10}")
    return "\n".join(lines)


def render_ipsets(ipsets: Iterable[IPSet]) -> str:
    """The sets as ``ipset save`` lists them: a ``create`` line, then one ``add`` per member.

    >>> print(render_ipsets([IPSet("KUBE-IPVS-IPS", "hash:ip", ("10.0.0.1",))]), end="")
    create KUBE-IPVS-IPS hash:ip family inet hashsize 1024 maxelem 65536
    add KUBE-IPVS-IPS 10.0.0.1
    """
    out = []
    for ipset in ipsets:
        out.append(ipset.create_line + "\n")
        out.extend(f"add {ipset.name} {entry}\n" for entry in ipset.entries)
    return "".join(out)


def _wrapped_difference(a: int, b: int) -> int:
    """C's ``int r = (uint32)a - (uint32)b``: the comparison ipvsadm's sort really makes."""
    r = (a - b) & 0xFFFFFFFF
    return r - (1 << 32) if r >= 1 << 31 else r


@lru_cache(maxsize=1 << 16)
def _ip_value(ip: str) -> int:
    # Sorting compares each address many times: parse it once.
    return int(ipaddress.IPv4Address(ip))


def _cmp_services(a: VirtualServer, b: VirtualServer) -> int:
    r = _PROTO_NUMBER.get(a.protocol, 0) - _PROTO_NUMBER.get(b.protocol, 0)
    if r == 0:
        r = _wrapped_difference(_ip_value(a.ip), _ip_value(b.ip))
    return r or a.port - b.port


def _cmp_dests(a: RealServer, b: RealServer) -> int:
    return _wrapped_difference(_ip_value(a.ip), _ip_value(b.ip)) or a.port - b.port


class _Builder:
    """One pass of upstream `syncProxyRules` over the service ports."""

    def __init__(self, config: ProxyConfig, scheduler: str) -> None:
        self.config = config
        self.scheduler = scheduler
        self.entries: dict[str, set[str]] = {name: set() for name, _, _ in IPSETS}
        self.servers: list[VirtualServer] = []
        self.bound: set[str] = set()
        self.no_node_access: list[tuple[str, str, int]] = []
        # NodePort virtual servers go on every IPv4 node address but loopback (`GetNodeIPs`,
        # `GetAllLocalAddressesExcept`); the first IPv4 node IP decides `allowFromNode`.
        v4 = [ip for ip in config.node_ips if ipaddress.ip_address(ip).version == 4]
        candidates = v4 if config.nodeport_ips is None else config.nodeport_ips
        self.node_ips = [
            ip
            for ip in candidates
            if ipaddress.ip_address(ip).version == 4 and not ipaddress.ip_address(ip).is_loopback
        ]
        self.primary_ip = v4[0] if v4 else None

    def build(self, ports: list[ServicePortInfo]) -> IPVSState:
        for port in ports:
            self._service_port(port)
        self.entries["KUBE-IPVS-IPS"] = self.bound
        ipsets = tuple(
            IPSet(name, kind, tuple(sorted(self.entries[name]))) for name, kind, _ in IPSETS
        )
        jumps = tuple(
            JumpRule(table, chain, f'-m comment --comment "{comment}" -j {target}')
            for table, chain, target, comment in _JUMPS
        )
        return IPVSState(tuple(self.servers), ipsets, jumps, self._restore(), self.config)

    def _add(self, set_name: str, entry: str) -> None:
        self.entries[set_name].add(entry)

    def _virtual(self, port: ServicePortInfo, ip: str, number: int, local_only: bool) -> None:
        cats = categorize_endpoints(port, self.config)
        # `syncEndpoint`: local endpoints when asked and present, else the cluster ones
        # (PR #97081 keeps pods on this node working without local endpoints).
        endpoints = cats.local if local_only and cats.local else cats.cluster
        self.servers.append(
            VirtualServer(
                port.protocol,
                ip,
                number,
                self.scheduler,
                port.affinity_seconds,
                tuple(RealServer(ep.ip, ep.port) for ep in endpoints),
                port.name,
            )
        )

    def _service_port(self, port: ServicePortInfo) -> None:
        proto, number = port.proto, port.port
        for ep in port.endpoints:
            if ep.is_local:  # hairpin: a pod reaching itself through the VIP is masqueraded
                self._add("KUBE-LOOP-BACK", f"{ep.ip},{proto}:{ep.port},{ep.ip}")
        self._add("KUBE-CLUSTER-IP", f"{port.cluster_ip},{proto}:{number}")
        self._virtual(port, port.cluster_ip, number, port.internal_policy_local)
        self.bound.add(port.cluster_ip)
        for ip in port.external_ips:
            local = "KUBE-EXTERNAL-IP-LOCAL" if port.external_policy_local else "KUBE-EXTERNAL-IP"
            self._add(local, f"{ip},{proto}:{number}")
            self._external_virtual(port, ip)
        for ip in port.load_balancer_ips:
            entry = f"{ip},{proto}:{number}"
            self._add("KUBE-LOAD-BALANCER", entry)
            if port.external_policy_local:
                self._add("KUBE-LOAD-BALANCER-LOCAL", entry)
            if port.source_ranges:
                self._source_ranges(port, ip, entry)
            self._external_virtual(port, ip)
        if port.node_port:
            if not self.node_ips:
                return  # upstream skips the NodePort (and the health check port) then
            self._node_port(port)
        if port.health_check_node_port:
            self._add("KUBE-HEALTH-CHECK-NODE-PORT", str(port.health_check_node_port))

    def _external_virtual(self, port: ServicePortInfo, ip: str) -> None:
        self._virtual(port, ip, port.port, port.external_policy_local)
        if ip not in self.config.node_ips:  # a node's own address is not added to kube-ipvs0
            self.bound.add(ip)

    def _source_ranges(self, port: ServicePortInfo, ip: str, entry: str) -> None:
        self._add("KUBE-LOAD-BALANCER-FW", entry)
        allow_from_node = False
        for cidr in port.source_ranges:
            self._add("KUBE-LOAD-BALANCER-SOURCE-CIDR", f"{entry},{cidr}")
            if self.primary_ip and ipaddress.ip_address(self.primary_ip) in ipaddress.ip_network(
                cidr
            ):
                allow_from_node = True
        if allow_from_node:
            self._add("KUBE-LOAD-BALANCER-SOURCE-IP", f"{entry},{ip}")
        else:  # the node itself must not reach the LB IP (kubernetes/kubernetes#119656)
            self.no_node_access.append((ip, port.proto, port.port))

    def _node_port(self, port: ServicePortInfo) -> None:
        proto, number = port.proto, port.node_port
        if proto == "sctp":
            entries = [f"{ip},sctp:{number}" for ip in self.node_ips]
            plain, local = "KUBE-NODE-PORT-SCTP-HASH", "KUBE-NODE-PORT-LOCAL-SCTP-HASH"
        else:
            entries = [str(number)]
            plain, local = (
                f"KUBE-NODE-PORT-{proto.upper()}",
                f"KUBE-NODE-PORT-LOCAL-{proto.upper()}",
            )
        for entry in entries:
            self._add(plain, entry)
            if port.external_policy_local:
                self._add(local, entry)
        for ip in self.node_ips:
            self._virtual(port, ip, number, port.external_policy_local)

    def _restore(self) -> str:
        """`writeIptablesRules`: nat chains and rules, then filter chains and rules."""
        config, mark = self.config, self.config.mark
        nat = ["*nat", *(f":{c} - [0:0]" for c in _NAT_CHAINS)]
        nat.append("-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN")
        flt = ["*filter", *(f":{c} - [0:0]" for c in _FILTER_CHAINS)]
        for name, table, chain, target, dirs, proto in _SET_JUMPS:
            if self.entries[name]:
                p = f"-p {proto} " if proto else ""
                rule = f"-A {chain} {p}{_commented_set(name, dirs)} -j {target}"
                (flt if table == "filter" else nat).append(rule)
        if self.entries["KUBE-CLUSTER-IP"]:
            cidr = config.cluster_cidr_v4
            if config.masquerade_all:
                rest = "dst,dst -j KUBE-MARK-MASQ"
            elif cidr:  # off-cluster traffic to a VIP may bounce off-node: masquerade it
                rest = f"dst,dst ! -s {cidr} -j KUBE-MARK-MASQ"
            else:  # the node reaching a VIP picks the VIP as source: masquerade that
                rest = "src,dst -j KUBE-MARK-MASQ"
            nat.append(f"-A KUBE-SERVICES {_commented_set('KUBE-CLUSTER-IP', rest)}")
        if self.entries["KUBE-EXTERNAL-IP"]:
            external = _commented_set("KUBE-EXTERNAL-IP", "dst,dst")
            nat.append(f"-A KUBE-SERVICES {external} -j KUBE-MARK-MASQ")
        for name in ("KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL"):
            if self.entries[name]:
                match = f"-A KUBE-SERVICES {_commented_set(name, 'dst,dst')}"
                # Off-machine traffic (not bridged, not local) and traffic to a local address.
                off_machine = "-m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL"
                nat.append(f"{match} {off_machine} -j ACCEPT")
                nat.append(f"{match} -m addrtype --dst-type LOCAL -j ACCEPT")
        nat.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT")
        nat.append("-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ")
        flt.append("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP")
        for ip, proto, port in self.no_node_access:
            vs = f"-m ipvs --vaddr {ip} --vproto {proto} --vport {port}"
            flt.append(f"-A KUBE-IPVS-OUT-FILTER -s {ip} {vs} -j DROP")
        for name in ("KUBE-CLUSTER-IP", "KUBE-LOAD-BALANCER"):  # `acceptIPVSTraffic`
            if self.entries[name]:
                nat.append(f"-A KUBE-SERVICES -m set --match-set {name} dst,dst -j ACCEPT")
        marked = f"-m mark --mark {mark}/{mark}"
        established = "-m conntrack --ctstate RELATED,ESTABLISHED"
        health = _commented_set("KUBE-HEALTH-CHECK-NODE-PORT", "dst")
        flt += [
            f'-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" {marked} '
            "-j ACCEPT",
            '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
            f"{established} -j ACCEPT",
            f"-A KUBE-NODE-PORT {health} -j ACCEPT",
        ]
        for name in _IPVS_FILTER_RETURNS:
            dirs = "dst" if name == "KUBE-HEALTH-CHECK-NODE-PORT" else "dst,dst"
            flt.append(f"-A KUBE-IPVS-FILTER -m set --match-set {name} {dirs} -j RETURN")
        new_to_vip = "-m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst"
        flt.append(f"-A KUBE-IPVS-FILTER {new_to_vip} -j REJECT")
        snat = '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
        nat += [
            f"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN",
            f"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}",
            f"-A KUBE-POSTROUTING {snat}" + (" --random-fully" if config.random_fully else ""),
            f"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}",
        ]
        return "\n".join([*nat, "COMMIT", *flt, "COMMIT"]) + "\n"


def _commented_set(name: str, rest: str) -> str:
    """``-m comment --comment "<the set's comment>" -m set --match-set <name> <rest>``."""
    return f"-m comment --comment {_COMMENT[name]} -m set --match-set {name} {rest}"
