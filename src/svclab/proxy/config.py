"""kube-proxy's configuration: the flags that change the rules it writes, with its defaults.

Only IPv4 mode is modelled (kube-proxy runs one proxier per IP family; IPv6 values given to an
IPv4 proxier are ignored, as kube-proxy ignores them).

>>> config = ProxyConfig(hostname_override="node-1", node_ips=["192.168.0.2"],
...                      cluster_cidr="10.0.0.0/8")
>>> config.mark
'0x00004000'
>>> ProxyConfig(hostname_override="n", masquerade_mark="0x4000").mark
'0x4000'
>>> config.node_ips
('192.168.0.2',)
>>> ProxyConfig(hostname_override="n", node_ips=["10.1.1.300"])
Traceback (most recent call last):
...
svclab.errors.ManifestError: kube-proxy config: --node-ip: '10.1.1.300' is not an IP address
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from svclab.errors import ManifestError

LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000
"""Above this many endpoints kube-proxy drops per-endpoint comments (`largeClusterEndpointsThreshold`)."""

LOOPBACK_CIDR = ipaddress.ip_network("127.0.0.0/8")


def _error(flag: str, rule: str) -> ManifestError:
    return ManifestError("kube-proxy config", "", flag, rule)


def parse_ip(value: str, flag: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an IP address given for `flag`, or raise a one-line error naming the flag.

    >>> parse_ip("10.0.0.1", "--src")
    IPv4Address('10.0.0.1')
    >>> parse_ip("nope", "--src")
    Traceback (most recent call last):
    ...
    svclab.errors.ManifestError: kube-proxy config: --src: 'nope' is not an IP address
    """
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        raise _error(flag, f"{value!r} is not an IP address") from None


def parse_cidr(value: str, flag: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Parse a CIDR (host bits may be set, as Go's `ParseCIDR` allows) for `flag`.

    >>> parse_cidr("10.1.2.3/16", "--cluster-cidr")
    IPv4Network('10.1.0.0/16')
    """
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        raise _error(flag, f"{value!r} is not a CIDR") from None


@dataclass(frozen=True)
class ProxyConfig:
    """The kube-proxy flags svclab's renderers and tracers honour (flag names in comments)."""

    hostname_override: str = field(default_factory=socket.gethostname)  # --hostname-override
    """Node name: endpoints whose `nodeName` equals it are local."""
    node_ips: Sequence[str] = ()  # --node-ip (the node's own addresses, for addrtype LOCAL)
    cluster_cidr: str | None = None  # --cluster-cidr: the ClusterCIDR local-traffic detector
    masquerade_all: bool = False  # --masquerade-all
    masquerade_bit: int = 14  # --iptables-masquerade-bit
    masquerade_mark: str | None = None
    """The mark string verbatim (e.g. "0x4000", what upstream's test fake uses); overrides the bit."""
    nodeport_addresses: Sequence[str] = ()  # --nodeport-addresses (CIDRs or "primary")
    service_cidrs: Sequence[str] = ()  # --service-cluster-ip-range (nftables mode)
    random_fully: bool = True  # the iptables binary supports --random-fully
    localhost_nodeports: bool = True  # --iptables-localhost-nodeports
    large_cluster_threshold: int = LARGE_CLUSTER_ENDPOINTS_THRESHOLD
    nfacct: bool = False
    """The kernel has nfacct counters (kube-proxy >= 1.29 then adds ``-m nfacct`` rules, as upstream's
    test fake does). Off by default: the match needs ``xt_nfacct`` and pre-created counters."""
    tcp_be_liberal: bool = False
    """``net.netfilter.nf_conntrack_tcp_be_liberal`` is set: kube-proxy then writes no INVALID drop."""
    node_zone: str | None = None
    """The node's `topology.kubernetes.io/zone` label, for topology hints (None: no label)."""

    def __post_init__(self) -> None:
        # Normalise to tuples so a config is hashable and cannot change under a renderer.
        for name in ("node_ips", "nodeport_addresses", "service_cidrs"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        object.__setattr__(
            self, "node_ips", tuple(str(parse_ip(ip, "--node-ip")) for ip in self.node_ips)
        )
        if not self.hostname_override:
            raise _error("--hostname-override", "must not be empty")
        if self.cluster_cidr is not None:
            for cidr in self.cluster_cidr.split(","):
                parse_cidr(cidr, "--cluster-cidr")
        for cidr in self.nodeport_addresses:
            if cidr != "primary":
                parse_cidr(cidr, "--nodeport-addresses")
        for cidr in self.service_cidrs:
            parse_cidr(cidr, "--service-cidr")
        if not 0 <= self.masquerade_bit <= 31:
            raise _error("--masquerade-bit", f"{self.masquerade_bit} is not in 0-31")
        if self.masquerade_mark is not None:
            try:
                value = int(self.masquerade_mark, 16)
            except ValueError:
                value = 0
            if value <= 0 or value >= 1 << 32:
                raise _error(
                    "--masquerade-mark", f"{self.masquerade_mark!r} is not a 32-bit hex mark"
                )

    @property
    def mark(self) -> str:
        """The masquerade mark as written in rules.

        Real kube-proxy formats ``1 << bit`` with Go's ``%#08x``, giving ``0x00004000`` for bit 14;
        upstream's proxier tests hard-code ``0x4000`` in their fake proxier, so byte-equality with
        those tests needs ``masquerade_mark="0x4000"``.

        >>> ProxyConfig(hostname_override="n", masquerade_bit=0).mark
        '0x00000001'
        """
        if self.masquerade_mark is not None:
            return self.masquerade_mark
        return f"0x{1 << self.masquerade_bit:08x}"

    @property
    def cluster_cidr_v4(self) -> str | None:
        """The IPv4 ClusterCIDR of the local-traffic detector, normalised; None means no detector.

        >>> ProxyConfig(hostname_override="n", cluster_cidr="fd00::/48,10.0.0.1/8").cluster_cidr_v4
        '10.0.0.0/8'
        """
        if not self.cluster_cidr:
            return None
        for cidr in self.cluster_cidr.split(","):
            network = parse_cidr(cidr, "--cluster-cidr")
            if network.version == 4:
                return str(network)
        return None

    def _nodeport_networks(self) -> list[ipaddress.IPv4Network] | None:
        """The IPv4 `--nodeport-addresses` CIDRs; None means "match all" (upstream `MatchAll`).

        As upstream `NewNodePortAddresses`: other-family CIDRs are dropped, and no IPv4 CIDR at
        all, or a zero CIDR, means every address. "primary" stands for the first node IP.
        """
        networks: list[ipaddress.IPv4Network] = []
        for entry in self.nodeport_addresses:
            if entry == "primary":
                entry = f"{self.node_ips[0]}/32" if self.node_ips else "0.0.0.0/0"
            network = parse_cidr(entry, "--nodeport-addresses")
            if network.version != 4:
                continue
            if network.prefixlen == 0:
                return None
            networks.append(network)
        return networks or None

    @property
    def nodeport_ips(self) -> tuple[str, ...] | None:
        """The node addresses NodePorts listen on; None means every local address.

        The node's addresses are its `node_ips` plus loopback ``127.0.0.1``.

        >>> config = ProxyConfig(hostname_override="n", node_ips=["192.168.0.2", "10.0.0.5"],
        ...                      nodeport_addresses=["192.168.0.0/24", "2001:db8::/64"])
        >>> config.nodeport_ips
        ('192.168.0.2',)
        >>> ProxyConfig(hostname_override="n", nodeport_addresses=["2001:db8::/64"]).nodeport_ips is None
        True
        """
        networks = self._nodeport_networks()
        if networks is None:
            return None
        local = [*self.node_ips, "127.0.0.1"]
        return tuple(ip for ip in local if any(ipaddress.ip_address(ip) in net for net in networks))

    @property
    def localhost_nodeports_enabled(self) -> bool:
        """Localhost NodePorts are on only if asked for and `--nodeport-addresses` covers 127.0.0.0.

        >>> ProxyConfig(hostname_override="n", nodeport_addresses=["10.0.0.0/8"]).localhost_nodeports_enabled
        False
        >>> ProxyConfig(hostname_override="n").localhost_nodeports_enabled
        True
        """
        if not self.localhost_nodeports:
            return False
        networks = self._nodeport_networks()
        loopback = ipaddress.ip_address("127.0.0.0")
        return networks is None or any(
            loopback in net or net.network_address.is_loopback for net in networks
        )

    def is_local_address(self, ip: str) -> bool:
        """Whether the kernel would class `ip` as LOCAL (`-m addrtype --*-type LOCAL`).

        >>> config = ProxyConfig(hostname_override="n", node_ips=["192.168.0.2"])
        >>> config.is_local_address("192.168.0.2"), config.is_local_address("127.0.0.1")
        (True, True)
        >>> config.is_local_address("192.168.0.3")
        False
        """
        address = ipaddress.ip_address(ip)
        return ip in self.node_ips or (address.version == 4 and address in LOOPBACK_CIDR)
