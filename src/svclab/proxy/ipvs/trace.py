"""Run kube-proxy's IPVS-mode rules on a first packet: iptables with ipset matches, then IPVS.

Like the other modes' tracers it takes the text `render` prints: `load` reads the virtual
servers, the sets and the iptables rules back from it. The walk uses the rendered rules
themselves (the restore input and its built-in-chain jumps) and the sets' members; it knows
nothing of Services. Hooks, as the kernel meets them with
``net.ipv4.vs.conntrack=1``:

- from a pod or another host: nat PREROUTING; if the destination is local (a node address or
  an address on ``kube-ipvs0``), filter INPUT and then IPVS (it hooks LOCAL_IN), which picks a
  real server; nat POSTROUTING then decides masquerading;
- from the node: nat OUTPUT, filter OUTPUT, then as above from filter INPUT.

Each real server of the virtual server is one outcome; its probability is its share of a long
run of new connections under the scheduler, i.e. its weight share (exact for rr and wrr).
`TraceResult.evaluated` counts iptables rules evaluated; `lookups` counts hash lookups (one per
``-m set`` match evaluated, plus IPVS's own service lookup) — the scaling lesson's cost.

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.proxy.config import ProxyConfig
>>> from svclab.proxy.ipvs.render import build, render
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
>>> config = ProxyConfig(hostname_override="node-1", node_ips=["192.168.0.2"],
...                      cluster_cidr="10.0.0.0/8")
>>> text = render(state, config)
>>> result = trace(text, Packet("10.0.0.5", "10.20.30.41", 80), config)
>>> result.verdict, result.destinations, result.masquerade
('DNAT', {'10.180.0.1:80': 0.5, '10.180.0.2:80': 0.5}, False)
>>> trace(text, Packet("203.0.113.9", "10.20.30.41", 80), config).masquerade
True
>>> loaded = load(text, config)  # the text holds the state: servers, sets, rules
>>> loaded.restore == build(state, config).restore, loaded.lookup("TCP", "10.20.30.41", 80).scheduler
(True, 'rr')
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, replace

from svclab.errors import ManifestError
from svclab.proxy.config import ProxyConfig
from svclab.proxy.ipvs.render import IPSet, IPVSState, RealServer, VirtualServer
from svclab.proxy.packet import Outcome, Packet, SourceKind, TraceResult, infer_source
from svclab.proxy.rules.iptables import JumpRule, Rule, Table, parse, tokenize

MAX_DEPTH = 16


@dataclass(frozen=True, slots=True)
class _Packet:
    src: str
    dst: str
    dport: int
    proto: str
    mark: int = 0


class _Walker:
    """Evaluates rules of one `IPVSState` for packets; counts rules and set lookups."""

    def __init__(self, ipvs: IPVSState) -> None:
        self.ipvs = ipvs
        self.tables: dict[str, Table] = parse(ipvs.restore)
        for jump in reversed(ipvs.jumps):  # each was inserted at the top: last one ensured is first
            line = f"-A {jump.chain} {jump.args}"
            self.tables[jump.table].chain(jump.chain).append(
                Rule(line, jump.chain, tokenize(line)[2:])
            )
        self.members = {s.name: (s.type, frozenset(s.entries)) for s in ipvs.ipsets}
        self.bound = frozenset(ipvs.ipset("KUBE-IPVS-IPS").entries)
        self.rules = 0
        self.lookups = 0
        self.matched: list[str] = []

    def local(self, ip: str) -> bool:
        return ip in self.bound or self.ipvs.config.is_local_address(ip)

    def run(
        self, table: str, chain: str, pkt: _Packet, depth: int = 0
    ) -> tuple[str | None, _Packet]:
        """Walk `chain`: the verdict (ACCEPT, DROP, REJECT, MASQUERADE) or None, and the packet."""
        if depth > MAX_DEPTH:
            raise ManifestError("iptables rules", chain, "", "jump loop")
        for rule in self.tables[table].chains.get(chain, []):
            self.rules += 1
            target, matched = self._match(rule, pkt)
            if not matched:
                continue
            self.matched.append(rule.raw)
            if target == "RETURN":
                return None, pkt
            if target in ("ACCEPT", "DROP", "REJECT", "MASQUERADE"):
                return target, pkt
            if target == "MARK":
                args = rule.args
                if "--or-mark" in args:
                    pkt = replace(pkt, mark=pkt.mark | int(args[args.index("--or-mark") + 1], 16))
                else:
                    pkt = replace(pkt, mark=pkt.mark ^ int(args[args.index("--xor-mark") + 1], 16))
            elif target:
                verdict, pkt = self.run(table, target, pkt, depth + 1)
                if verdict:
                    return verdict, pkt
        return None, pkt

    def _match(self, rule: Rule, pkt: _Packet) -> tuple[str | None, bool]:
        args, i, target = rule.args, 0, None
        negate = False
        while i < len(args):
            option, value = args[i], args[i + 1] if i + 1 < len(args) else ""
            if option == "!":
                negate, i = True, i + 1
                continue
            result: bool | None = None
            step = 2
            if option in ("-s", "-d"):
                ip = pkt.src if option == "-s" else pkt.dst
                result = ipaddress.ip_address(ip) in ipaddress.ip_network(value, strict=False)
            elif option == "-p":
                result = pkt.proto == value
            elif option == "--match-set":
                result = self._in_set(value, args[i + 2], pkt)
                step = 3
            elif option in ("--src-type", "--dst-type"):
                result = self.local(pkt.src if option == "--src-type" else pkt.dst)
            elif option == "--physdev-is-in":
                result, step = False, 1  # pods here are not bridged: no physdev input
            elif option == "--mark":
                want, _, mask = value.partition("/")
                result = pkt.mark & int(mask, 16) == int(want, 16)
            elif option == "--ctstate":
                result = "NEW" in value.split(",")  # a first packet
            elif option == "--vaddr":
                result = pkt.dst == value
            elif option == "--vproto":
                result = pkt.proto == value
            elif option == "--vport":
                result = pkt.dport == int(value)
            elif option == "-j":
                target = value
            elif option in ("--or-mark", "--xor-mark", "-m", "--comment"):
                pass
            elif option == "--random-fully":
                step = 1
            else:
                raise ManifestError(
                    "iptables rules", rule.chain, rule.raw, f"cannot evaluate {option!r}"
                )
            if result is not None and result == negate:
                return target, False
            negate = False
            i += step
        return target, True

    def _in_set(self, name: str, dirs: str, pkt: _Packet) -> bool:
        """One ipset lookup: build the key from the packet as `dirs` says and test it."""
        self.lookups += 1
        kind, members = self.members[name]
        pick = {"src": pkt.src, "dst": pkt.dst}
        parts = dirs.split(",")
        if kind == "bitmap:port":
            return str(pkt.dport) in members
        ip = pick[parts[0]]
        if kind == "hash:ip":
            return ip in members
        key = f"{ip},{pkt.proto}:{pkt.dport}"
        if kind == "hash:ip,port":
            return key in members
        other = pick[parts[2]]
        if kind == "hash:ip,port,ip":
            return f"{key},{other}" in members
        return any(  # hash:ip,port,net
            m.startswith(key + ",")
            and ipaddress.ip_address(other) in ipaddress.ip_network(m[len(key) + 1 :])
            for m in members
        )


class IPVSTracer:
    """Rendered IPVS-mode text, read back once, ready to trace many packets (used by the sampler).

    Virtual-server persistence (ClientIP affinity) is not modelled here: `affinity_timeouts` is
    empty, so a sampler draws every connection afresh.
    """

    def __init__(self, text: str, config: ProxyConfig) -> None:
        self.ipvs = _cached_load(text, config)
        self.affinity_timeouts: dict[str, float] = {}

    def trace(
        self,
        packet: Packet,
        source: SourceKind | None = None,
        affinity: frozenset[str] = frozenset(),
    ) -> TraceResult:
        """Every real server a first packet can reach, whether it is masqueraded, and the cost."""
        return _trace(self.ipvs, packet, source)


def trace(
    text: str, packet: Packet, config: ProxyConfig, source: SourceKind | None = None
) -> TraceResult:
    """Trace `packet` through the IPVS-mode state `text` (what `render` prints)."""
    return IPVSTracer(text, config).trace(packet, source)


def _trace(ipvs: IPVSState, packet: Packet, source: SourceKind | None) -> TraceResult:
    kind = source or infer_source(packet, ipvs.config)
    walker = _Walker(ipvs)
    pkt = _Packet(packet.src, packet.dst, packet.dport, packet.proto)
    hooks = (
        [("nat", "OUTPUT"), ("filter", "OUTPUT")]
        if kind is SourceKind.NODE
        else [("nat", "PREROUTING")]
    )
    verdict: str | None = None
    for table, chain in hooks:
        verdict, pkt = walker.run(table, chain, pkt)
        if verdict in ("DROP", "REJECT"):
            return _result(
                packet, kind, walker, (Outcome(verdict, 1.0, rules=tuple(walker.matched)),)
            )
    if not walker.local(pkt.dst):
        return _result(
            packet, kind, walker, (Outcome("NO-MATCH", 1.0, rules=tuple(walker.matched)),)
        )
    verdict, pkt = walker.run("filter", "INPUT", pkt)
    if verdict in ("DROP", "REJECT"):
        return _result(packet, kind, walker, (Outcome(verdict, 1.0, rules=tuple(walker.matched)),))
    walker.lookups += 1  # IPVS: `ip_vs_service_find`, one hash lookup on (protocol, address, port)
    vs = ipvs.lookup(pkt.proto, pkt.dst, pkt.dport)
    if vs is None or not vs.real_servers:
        # No virtual server, or one without real servers: the packet reaches the local stack,
        # where nothing listens on the VIP (a TCP client sees a reset).
        return _result(
            packet, kind, walker, (Outcome("NO-MATCH", 1.0, rules=tuple(walker.matched)),)
        )
    before = tuple(walker.matched)
    total = sum(rs.weight for rs in vs.real_servers)
    outcomes = []
    rules, lookups = walker.rules, walker.lookups
    for rs in vs.real_servers:
        # POSTROUTING sees the translated destination; run it per real server (same cost each).
        walker.rules, walker.lookups, walker.matched = rules, lookups, []
        dnat = replace(pkt, dst=rs.ip, dport=rs.port)
        post, _ = walker.run("nat", "POSTROUTING", dnat)
        outcomes.append(
            Outcome(
                "DNAT",
                rs.weight / total,
                rs.address,
                post == "MASQUERADE",
                rules=before + tuple(walker.matched),
            )
        )
    return _result(packet, kind, walker, tuple(outcomes))


def _result(
    packet: Packet, kind: SourceKind, walker: _Walker, outcomes: tuple[Outcome, ...]
) -> TraceResult:
    walked = dict.fromkeys(rule for outcome in outcomes for rule in outcome.rules)
    return TraceResult(packet, kind, outcomes, tuple(walked), walker.rules, walker.lookups)


_SECTIONS = (
    "# --- ipvsadm -Ln\n",
    "# --- ipset save\n",
    "# --- iptables: jumps kube-proxy ensures in built-in chains\n",
    "# --- iptables-restore --noflush input\n",
)


def load(text: str, config: ProxyConfig) -> IPVSState:
    """The `IPVSState` that `render` printed as `text`, read back (its service names aside)."""
    starts = [text.find(header) for header in _SECTIONS]
    if -1 in starts or starts != sorted(starts):
        raise ManifestError("IPVS state", "", "", "not the text `svclab render ipvs` prints")
    ends = [*starts[1:], len(text)]
    listing, sets, jumps, restore = (
        text[start + len(header) : end]
        for header, start, end in zip(_SECTIONS, starts, ends, strict=True)
    )
    return IPVSState(
        _virtual_servers(listing.splitlines()[3:]),
        _ipsets(sets.splitlines()),
        tuple(_jump(line) for line in jumps.splitlines()),
        restore,
        config,
    )


@functools.lru_cache(maxsize=8)
def _cached_load(text: str, config: ProxyConfig) -> IPVSState:
    return load(text, config)


def _virtual_servers(lines: list[str]) -> tuple[VirtualServer, ...]:
    servers: list[VirtualServer] = []
    for line in filter(None, (line.rstrip() for line in lines)):
        if line.startswith("  -> "):  # a real server of the virtual server above
            address, _, weight = line.split()[1:4]
            ip, _, port = address.rpartition(":")
            real = (*servers[-1].real_servers, RealServer(ip, int(port), int(weight)))
            servers[-1] = replace(servers[-1], real_servers=real)
            continue
        protocol, address, scheduler, *flags = line.split()
        ip, _, port = address.rpartition(":")
        persistent = int(flags[flags.index("persistent") + 1]) if "persistent" in flags else 0
        servers.append(VirtualServer(protocol, ip, int(port), scheduler, persistent))
    return tuple(servers)


def _ipsets(lines: list[str]) -> tuple[IPSet, ...]:
    kinds: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for line in lines:
        verb, name, rest = line.split(" ", 2)
        if verb == "create":
            kinds[name], members[name] = rest.split()[0], []
        else:
            members[name].append(rest)
    return tuple(IPSet(name, kinds[name], tuple(members[name])) for name in kinds)


def _jump(line: str) -> JumpRule:
    _, _, table, _, chain, args = line.split(" ", 5)  # iptables -t TABLE -I CHAIN ARGS
    return JumpRule(table, chain, args)


def rule_set_size(text: str, config: ProxyConfig) -> tuple[int, int]:
    """(iptables rules, ipset members + virtual servers + real servers) of rendered `text`."""
    ipvs = _cached_load(text, config)
    rules = sum(line.startswith("-A ") for line in ipvs.restore.splitlines())
    elements = sum(len(s.entries) for s in ipvs.ipsets) + sum(
        1 + len(vs.real_servers) for vs in ipvs.virtual_servers
    )
    return rules, elements
