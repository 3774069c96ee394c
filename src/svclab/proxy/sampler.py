"""Simulated connections through traced rules: conntrack, session affinity and a virtual clock.

Each new connection is traced (or taken from a cache) and one branch is drawn with the rules' own
probabilities. A connection with the same 5-tuple as an established one keeps its backend, as
conntrack does; the rules are not consulted again. Branches that refresh an affinity record
(iptables ``recent --set``, nftables ``update @set { ip saddr }``) do so at the virtual time, and
later first packets from that client see it while it is younger than the record's timeout.

>>> rules = '''*nat
... :KUBE-SERVICES - [0:0]
... -A KUBE-SERVICES -m tcp -p tcp -d 172.30.0.1 --dport 80 -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.0.0.1:80
... -A KUBE-SERVICES -m tcp -p tcp -d 172.30.0.1 --dport 80 -j DNAT --to-destination 10.0.0.2:80
... COMMIT
... '''
>>> from svclab.proxy.config import ProxyConfig
>>> sampler = Sampler.for_mode("iptables", rules, ProxyConfig(hostname_override="n"), seed=1)
>>> counts = sampler.run(Packet("10.9.0.1", "172.30.0.1", 80), 1000)
>>> sorted(counts), 400 < counts["10.0.0.1:80"] < 600
(['10.0.0.1:80', '10.0.0.2:80'], True)
>>> first = sampler.connect(Packet("10.9.0.1", "172.30.0.1", 80), sport=40000)
>>> all(sampler.connect(Packet("10.9.0.1", "172.30.0.1", 80), sport=40000) == first for _ in range(20))
True
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from svclab.proxy import modes
from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import Outcome, Packet, SourceKind, Tracer, TraceResult

TraceFunction = Callable[[Packet, frozenset[str]], TraceResult]
"""Trace a first packet, given the affinity records that currently hold its source."""


EPHEMERAL_PORTS = range(32768, 61000)
"""Linux's default ``ip_local_port_range``: where new source ports come from."""


class Sampler:
    """Connections per backend, drawn from a tracer's branches, with conntrack and affinity."""

    def __init__(
        self, trace: TraceFunction, timeouts: Mapping[str, float], *, seed: int = 0
    ) -> None:
        self._trace = trace
        self.timeouts = dict(timeouts)
        """Affinity record name → seconds a client stays in it."""
        self.rng = random.Random(seed)
        self.now = 0.0
        """The virtual clock, in seconds."""
        self.conntrack: dict[tuple[str, str, int, str, int], Outcome] = {}
        """Established flows: (proto, src, sport, dst, dport) → the branch their first packet took."""
        self.affinity: dict[str, dict[str, float]] = {}
        """Affinity record name → client IP → when it was last refreshed."""
        self._cache: dict[tuple[Packet, frozenset[str]], TraceResult] = {}
        self._next_port: dict[str, int] = {}

    @classmethod
    def for_mode(
        cls,
        mode: str,
        text: str,
        config: ProxyConfig,
        *,
        seed: int = 0,
        source: SourceKind | None = None,
    ) -> Sampler:
        """A sampler over `text` as `mode`'s tracer reads it (see `svclab.proxy.modes`).

        iptables: kube-proxy's built-in-chain jumps are added, as in its `trace`; nftables: sets
        with a timeout hold affinity.

        >>> text = '''add table ip t
        ... add chain ip t pre { type nat hook prerouting priority -100 ; }
        ... add set ip t seen-a { type ipv4_addr ; flags dynamic,timeout ; timeout 10s ; }
        ... add set ip t seen-b { type ipv4_addr ; flags dynamic,timeout ; timeout 10s ; }
        ... add chain ip t a
        ... add chain ip t b
        ... add rule ip t pre ip saddr @seen-a goto a
        ... add rule ip t pre ip saddr @seen-b goto b
        ... add rule ip t pre numgen random mod 2 vmap { 0 : goto a , 1 : goto b }
        ... add rule ip t a update @seen-a { ip saddr }
        ... add rule ip t a meta l4proto tcp dnat to 10.1.0.1:80
        ... add rule ip t b update @seen-b { ip saddr }
        ... add rule ip t b meta l4proto tcp dnat to 10.1.0.2:80
        ... '''
        >>> sampler = Sampler.for_mode("nftables", text, ProxyConfig(hostname_override="n"), seed=1)
        >>> sampler.timeouts
        {'seen-a': 10.0, 'seen-b': 10.0}
        >>> packet = Packet("10.9.0.1", "172.30.0.1", 80)
        >>> sampler.run(packet, 100, interval=9)  # each connection refreshes the record
        Counter({'10.1.0.1:80': 100})
        >>> sampler.advance(1)
        >>> sorted(sampler.run(packet, 100, interval=11))  # each finds it expired
        ['10.1.0.1:80', '10.1.0.2:80']
        """
        return cls.over(modes.get(mode).tracer(text, config), seed=seed, source=source)

    @classmethod
    def over(cls, tracer: Tracer, *, seed: int = 0, source: SourceKind | None = None) -> Sampler:
        """A sampler drawing from `tracer`'s branches for packets from `source` (default: guessed)."""
        return cls(
            lambda packet, fresh: tracer.trace(packet, source, fresh),
            tracer.affinity_timeouts,
            seed=seed,
        )

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.now += seconds

    def connect(self, packet: Packet, sport: int) -> Outcome:
        """Open (or reuse) the connection ``packet`` from source port `sport`; return its branch."""
        key = (packet.proto, packet.src, sport, packet.dst, packet.dport)
        established = self.conntrack.get(key)
        if established is not None:
            return established
        fresh = frozenset(
            name
            for name, clients in self.affinity.items()
            if packet.src in clients
            and self.now - clients[packet.src] < self.timeouts.get(name, math.inf)
        )
        result = self._cache.get((packet, fresh))
        if result is None:
            result = self._cache[(packet, fresh)] = self._trace(packet, fresh)
        outcome = self._draw(result.outcomes)
        for name in outcome.affinity:
            self.affinity.setdefault(name, {})[packet.src] = self.now
        self.conntrack[key] = outcome
        return outcome

    def close(self, packet: Packet, sport: int) -> None:
        """Forget an established flow (its conntrack entry ends)."""
        self.conntrack.pop((packet.proto, packet.src, sport, packet.dst, packet.dport), None)

    def run(
        self,
        packets: Packet | Sequence[Packet],
        n: int,
        *,
        interval: float = 0.0,
        close: bool = True,
    ) -> Counter[str]:
        """Open `n` new connections (cycling through `packets`), `interval` virtual seconds apart.

        Each gets a fresh ephemeral source port; with `close`, each flow ends before the next one
        starts. Returns connections per DNAT destination (or per verdict when not DNATed).
        """
        cycle = [packets] if isinstance(packets, Packet) else list(packets)
        counts: Counter[str] = Counter()
        for i in range(n):
            packet = cycle[i % len(cycle)]
            sport = self._fresh_port(packet.src)
            outcome = self.connect(packet, sport)
            counts[outcome.destination or outcome.verdict] += 1
            if close:
                self.close(packet, sport)
            self.advance(interval)
        return counts

    def _fresh_port(self, src: str) -> int:
        offset = self._next_port.get(src, 0)
        self._next_port[src] = (offset + 1) % len(EPHEMERAL_PORTS)
        return EPHEMERAL_PORTS[offset]

    def _draw(self, outcomes: Sequence[Outcome]) -> Outcome:
        total = sum(o.probability for o in outcomes)
        point = self.rng.random() * total
        for outcome in outcomes:
            point -= outcome.probability
            if point < 0:
                return outcome
        return outcomes[-1]
