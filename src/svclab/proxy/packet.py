"""What every data-plane tracer takes and returns: a `Packet`, a `TraceResult`, the `Tracer` shape.

A trace follows the first packet of a connection through the rules. Random choices
(`statistic`, `numgen`) split it into `Outcome` branches, each with its probability.

>>> packet = Packet("10.0.0.2", "172.30.0.41", 80)
>>> packet.proto
'tcp'
>>> result = TraceResult(packet, SourceKind.POD, (
...     Outcome("DNAT", 0.5, "10.180.0.1:80", rules=("-A KUBE-SERVICES ...",)),
...     Outcome("DNAT", 0.5, "10.180.0.2:80", masquerade=True),
... ), rules=("-A KUBE-SERVICES ...",), evaluated=3)
>>> result.verdict, result.destinations, result.masquerade
('DNAT', {'10.180.0.1:80': 0.5, '10.180.0.2:80': 0.5}, None)
>>> print(result.format())
packet: tcp 10.0.0.2 -> 172.30.0.41:80 (from a pod)
verdict: DNAT
destinations:
  10.180.0.1:80  p=0.5000000000  masquerade: no
  10.180.0.2:80  p=0.5000000000  masquerade: yes
rules evaluated: 3
visited rules:
  -A KUBE-SERVICES ...
>>> Packet("10.0.0.2", "172.30.0.41", 0)
Traceback (most recent call last):
...
svclab.errors.ManifestError: packet: --dport: 0 is not a port (1-65535)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from svclab.errors import ManifestError
from svclab.proxy.config import ProxyConfig

PROTOCOLS = ("tcp", "udp", "sctp")
VERDICTS = ("DNAT", "ACCEPT", "DROP", "REJECT", "NO-MATCH")
"""DNAT: sent to a backend. ACCEPT: accepted by a kube-proxy rule without DNAT (e.g. a health-check
port). DROP/REJECT: refused by a rule. NO-MATCH: no kube-proxy rule decided anything."""


def _packet_error(field: str, rule: str) -> ManifestError:
    return ManifestError("packet", "", field, rule)


class SourceKind(StrEnum):
    """Where a first packet comes from: that decides the netfilter hooks it meets."""

    POD = "pod"
    """A pod on this node (forwarded: PREROUTING, FORWARD or INPUT, POSTROUTING)."""
    NODE = "node"
    """The node itself (locally generated: OUTPUT, POSTROUTING)."""
    EXTERNAL = "external"
    """Another host (forwarded like a pod's packet, but outside the cluster CIDR)."""


@dataclass(frozen=True, slots=True)
class Packet:
    """The first packet of a connection: source and destination IP, destination port, protocol."""

    src: str
    dst: str
    dport: int
    proto: str = "tcp"

    def __post_init__(self) -> None:
        # Normalise here so every tracer compares canonical strings.
        for name, flag in (("src", "--src"), ("dst", "--dst")):
            value = getattr(self, name)
            try:
                address = ipaddress.ip_address(str(value).strip())
            except ValueError:
                raise _packet_error(flag, f"{value!r} is not an IP address") from None
            object.__setattr__(self, name, str(address))
        try:
            port = int(self.dport)
        except (TypeError, ValueError):
            raise _packet_error("--dport", f"{self.dport!r} is not a port (1-65535)") from None
        if not 1 <= port <= 65535:
            raise _packet_error("--dport", f"{self.dport!r} is not a port (1-65535)")
        object.__setattr__(self, "dport", port)
        proto = str(self.proto).lower()
        if proto not in PROTOCOLS:
            raise _packet_error("--proto", f"{self.proto!r} is not one of tcp, udp, sctp")
        object.__setattr__(self, "proto", proto)
        if ipaddress.ip_address(self.src).version != ipaddress.ip_address(self.dst).version:
            raise _packet_error("--src", "source and destination must be the same IP family")


def infer_source(packet: Packet, config: ProxyConfig) -> SourceKind:
    """Guess where `packet` comes from: a node address means the node, the cluster CIDR a pod.

    >>> config = ProxyConfig(hostname_override="n", node_ips=["192.168.0.2"], cluster_cidr="10.0.0.0/8")
    >>> [infer_source(Packet(src, "1.2.3.4", 80), config).value
    ...  for src in ("192.168.0.2", "127.0.0.1", "10.1.2.3", "203.0.113.5")]
    ['node', 'node', 'pod', 'external']
    """
    if config.is_local_address(packet.src):
        return SourceKind.NODE
    cidr = config.cluster_cidr_v4
    if cidr and ipaddress.ip_address(packet.src) in ipaddress.ip_network(cidr):
        return SourceKind.POD
    return SourceKind.EXTERNAL


@dataclass(frozen=True, slots=True)
class Outcome:
    """One branch of a trace: what happens to the packet, and how likely that branch is."""

    verdict: str
    probability: float
    destination: str | None = None
    """``ip:port`` after DNAT; None when not DNATed."""
    masquerade: bool = False
    rules: tuple[str, ...] = ()
    """The rules this branch matched, in order."""
    affinity: tuple[str, ...] = ()
    """Session-affinity records this branch refreshes for the source IP (iptables `recent` list
    names, nft affinity set names); a sampler applies them when it picks the branch."""


@dataclass(frozen=True, slots=True)
class TraceResult:
    """Every branch the first packet can take, and the rules the walk matched."""

    packet: Packet
    source: SourceKind
    outcomes: tuple[Outcome, ...]
    rules: tuple[str, ...] = ()
    """Every rule matched while walking all branches, in walk order."""
    evaluated: int = 0
    """Rules (or map lookups) evaluated, matching or not: the first-packet cost."""
    lookups: int = 0
    """Hash lookups besides the rules (IPVS: ipset matches and the virtual-server lookup)."""

    @property
    def verdict(self) -> str:
        """The common verdict of all branches, or the distinct ones joined by ``|``."""
        verdicts = list(dict.fromkeys(o.verdict for o in self.outcomes)) or ["NO-MATCH"]
        return "|".join(verdicts)

    @property
    def destinations(self) -> dict[str, float]:
        """DNAT destination → probability (branches to the same backend summed)."""
        merged: dict[str, float] = {}
        for outcome in self.outcomes:
            if outcome.destination is not None:
                merged[outcome.destination] = (
                    merged.get(outcome.destination, 0.0) + outcome.probability
                )
        return merged

    @property
    def masquerade(self) -> bool | None:
        """Whether the packet is masqueraded; None when it depends on the branch."""
        values = {o.masquerade for o in self.outcomes}
        return values.pop() if len(values) == 1 else None

    def format(self) -> str:
        """Human-readable report, as ``svclab trace`` prints it."""
        p = self.packet
        lines = [
            f"packet: {p.proto} {p.src} -> {p.dst}:{p.dport} (from {_SOURCE_TEXT[self.source]})",
            f"verdict: {self.verdict}",
        ]
        if any(o.destination for o in self.outcomes):
            lines.append("destinations:")
        for o in self.outcomes:
            masq = "yes" if o.masquerade else "no"
            if o.destination is not None:
                lines.append(f"  {o.destination}  p={o.probability:.10f}  masquerade: {masq}")
            elif len(self.outcomes) > 1:
                lines.append(f"  {o.verdict}  p={o.probability:.10f}")
        if not any(o.destination for o in self.outcomes):
            lines.append(f"masquerade: {'yes' if self.masquerade else 'no'}")
        lines.append(f"rules evaluated: {self.evaluated}")
        lines.append("visited rules:" if self.rules else "visited rules: none")
        lines.extend(f"  {rule}" for rule in self.rules)
        return "\n".join(lines)


class Tracer(Protocol):
    """A mode's tracer over rendered text: what `svclab.proxy.modes` builds and a sampler draws from."""

    @property
    def affinity_timeouts(self) -> Mapping[str, float]:
        """Affinity record name → seconds a client stays in it."""
        ...

    def trace(
        self,
        packet: Packet,
        source: SourceKind | None = None,
        affinity: frozenset[str] = frozenset(),
    ) -> TraceResult:
        """Every branch of `packet`, given the affinity records holding its source."""
        ...


_SOURCE_TEXT = {
    SourceKind.POD: "a pod",
    SourceKind.NODE: "the node itself",
    SourceKind.EXTERNAL: "outside the cluster",
}
