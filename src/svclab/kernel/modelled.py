"""The lab's connections drawn by svclab's tracer and sampler: the fallback where no kernel runs.

The tracer walks the rules the kernel would run; the sampler draws one branch per connection
with the rules' own probabilities (conntrack and ClientIP affinity included). `Simulation` turns
each branch into what a client of the lab's topology would see: a DNAT is answered by the Pod
behind it, which sees the node's address when the branch masquerades; REJECT is refused; DROP
times out.

>>> from svclab.kernel.topology import PodPlan, TopologyPlan
>>> rules = '''*nat
... :KUBE-SERVICES - [0:0]
... -A KUBE-SERVICES -m tcp -p tcp -d 10.96.0.10 --dport 80 -j DNAT --to-destination 10.244.1.2:8080
... COMMIT
... '''
>>> plan = TopologyPlan(("192.168.0.2",), "203.0.113.10", (PodPlan("web-a", "10.244.1.2", (8080,)),))
>>> config = ProxyConfig(hostname_override="node-a", node_ips=["192.168.0.2"])
>>> sim = Simulation("iptables", rules, config, plan, "pod")
>>> [d.connection for d in sim.connect_many("10.96.0.10", 80, 1)]
[Connection(outcome='ok', pod='web-a', client_seen='10.244.1.2:32768', retransmits=0)]
>>> [d.connection.outcome for d in sim.connect_many("10.96.0.99", 80, 1)]  # no rule, no host
['timeout']
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import dataclass

from svclab.kernel.drive import Connection
from svclab.kernel.observe import ConntrackEntry, RuleCounter
from svclab.kernel.topology import TopologyPlan, source_address
from svclab.proxy import modes
from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import Outcome, Packet, SourceKind, TraceResult
from svclab.proxy.sampler import EPHEMERAL_PORTS, Sampler

SOURCE_KINDS = {"node": SourceKind.NODE, "client": SourceKind.EXTERNAL, "pod": SourceKind.POD}
"""The lab's sources as the tracer names them (the client is a host outside the cluster)."""


def trace(mode: str, rules: str, packet: Packet, config: ProxyConfig, source: str) -> TraceResult:
    """The tracer of `mode` on `packet` coming from `source` (node, client or pod)."""
    return modes.trace(mode, rules, packet, config, SOURCE_KINDS[source])


def sampler(mode: str, rules: str, config: ProxyConfig, source: str, seed: int) -> Sampler:
    """A sampler of `mode` over `rules` for connections from `source`."""
    return Sampler.for_mode(mode, rules, config, seed=seed, source=SOURCE_KINDS[source])


@dataclass(frozen=True)
class Draw:
    """One simulated connection: the branch the sampler drew and what the client saw."""

    packet: Packet
    sport: int
    outcome: Outcome
    connection: Connection

    def conntrack(self) -> ConntrackEntry | None:
        """The entry the kernel would keep for it, or None.

        Only connections that got through are kept: the entry of a SYN that is dropped or
        rejected is never confirmed. The client closes each connection at once, so the kernel
        lists it in TIME_WAIT. A masqueraded reply port is not modelled (the source port stays).

        >>> packet = Packet("203.0.113.10", "192.168.0.2", 30080)
        >>> draw = Draw(packet, 40000, Outcome("DNAT", 1.0, "10.244.1.2:8080", masquerade=True),
        ...             Connection("ok", "web-a", "192.168.0.2:40000"))
        >>> entry = draw.conntrack()
        >>> entry.original, entry.dnat, entry.snat
        ('203.0.113.10:40000 -> 192.168.0.2:30080', '10.244.1.2:8080', '192.168.0.2')
        """
        if self.connection.outcome != "ok":
            return None
        p = self.packet
        backend = self.outcome.destination or f"{p.dst}:{p.dport}"
        ip, _, port = backend.rpartition(":")
        return ConntrackEntry(p.proto, "TIME_WAIT", p.src, p.dst, self.sport, p.dport,
                              ip, self.connection.client_ip, int(port), self.sport)  # fmt: skip


class Simulation:
    """The lab's node, client and Pods as the tracer and sampler see them.

    One sampler serves every address, so ClientIP affinity spans a Service's addresses, as it
    does in the kernel.
    """

    def __init__(
        self,
        mode: str,
        rules: str,
        config: ProxyConfig,
        plan: TopologyPlan,
        source: str,
        seed: int = 0,
    ) -> None:
        self.sampler = sampler(mode, rules, config, source, seed)
        self.plan = plan
        self.source_ip = source_address(plan, source)
        self.listeners = {(pod.ip, port): pod.name for pod in plan.pods for port in pod.ports}
        self.hosts = {*plan.node_ips, *(pod.ip for pod in plan.pods)}
        self._sent = 0

    def connect_many(self, ip: str, port: int, count: int) -> list[Draw]:
        """`count` connections to ``ip:port``, each from a fresh source port, closed at once."""
        packet = Packet(self.source_ip, ip, port)
        draws = []
        for _ in range(count):
            sport = EPHEMERAL_PORTS[self._sent % len(EPHEMERAL_PORTS)]
            self._sent += 1
            outcome = self.sampler.connect(packet, sport)
            self.sampler.close(packet, sport)
            draws.append(Draw(packet, sport, outcome, self._answer(packet, sport, outcome)))
        return draws

    def _answer(self, packet: Packet, sport: int, outcome: Outcome) -> Connection:
        if outcome.verdict == "REJECT":
            return Connection("refused")
        if outcome.verdict == "DROP":
            return Connection("timeout")
        seen = self.plan.node_ips[0] if outcome.masquerade else packet.src
        if outcome.destination:
            ip, _, port = outcome.destination.rpartition(":")
        else:  # no rule decided: the packet goes where it was addressed
            ip, port = packet.dst, str(packet.dport)
        pod = self.listeners.get((ip, int(port)))
        if pod:
            return Connection("ok", pod, f"{seen}:{sport}")
        # A host that exists resets a closed port; any other address leaves by the node's
        # uplink, and the client, which forwards nothing, drops it.
        if ip in self.hosts or ipaddress.ip_address(ip).is_loopback:
            return Connection("refused")
        return Connection("timeout")


def endpoint_choices(draws: list[Draw], rules: str) -> list[RuleCounter]:
    """First packets per iptables endpoint choice (``-j KUBE-SEP-…``), as the sampler drew them.

    The kernel's ``iptables-save -c`` counts every rule; the tracer knows first packets only,
    so only these nat-table jumps, which see nothing else, are counted (bytes are not modelled).
    They come in the order of `rules`, the text the draws were traced on.

    >>> rule = "-A KUBE-SVC-X -j KUBE-SEP-A"
    >>> packet = Packet("203.0.113.10", "10.96.0.10", 80)
    >>> outcome = Outcome("DNAT", 0.5, "10.244.1.2:80", rules=("-A KUBE-SERVICES -j KUBE-SVC-X", rule))
    >>> draws = [Draw(packet, 40000 + i, outcome, Connection("ok")) for i in range(3)]
    >>> endpoint_choices(draws, rule)
    [RuleCounter(table='nat', rule='-A KUBE-SVC-X -j KUBE-SEP-A', packets=3, bytes=0)]
    """
    counts = Counter(
        rule for draw in draws for rule in draw.outcome.rules if "-j KUBE-SEP-" in rule
    )
    ordered = sorted(counts, key=rules.find)
    return [RuleCounter("nat", rule, counts[rule], 0) for rule in ordered]
