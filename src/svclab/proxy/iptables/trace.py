"""Run iptables-restore text on the first packet of a connection, hook by hook, as netfilter would.

The tracer parses the rules (kube-proxy's restore input plus its built-in-chain jumps) and
evaluates every match itself; it knows nothing of Services. A ``statistic`` match splits the walk
into two branches with their probabilities, so one trace lists every possible backend.

Hooks for a first packet (built-in chain policies are taken as ACCEPT):

- from the node itself: nat OUTPUT, filter OUTPUT, nat POSTROUTING, then filter INPUT if the
  (translated) destination is a local address;
- from a pod or another host: nat PREROUTING, then filter INPUT if the destination is local,
  else filter FORWARD and nat POSTROUTING.

>>> rules = '''*nat
... :KUBE-SERVICES - [0:0]
... :KUBE-SVC-A - [0:0]
... -A KUBE-SERVICES -m tcp -p tcp -d 172.30.0.1 --dport 80 -j KUBE-SVC-A
... -A KUBE-SVC-A -m statistic --mode random --probability 0.5000000000 -j DNAT --to-destination 10.0.0.1:8080
... -A KUBE-SVC-A -j DNAT --to-destination 10.0.0.2:8080
... COMMIT
... '''
>>> from svclab.proxy.config import ProxyConfig
>>> result = trace(rules, Packet("10.9.9.9", "172.30.0.1", 80), ProxyConfig(hostname_override="n"))
>>> result.verdict, result.destinations
('DNAT', {'10.0.0.1:8080': 0.5, '10.0.0.2:8080': 0.5})
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from svclab.errors import ManifestError
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import jump_rules_restore
from svclab.proxy.packet import Outcome, Packet, SourceKind, TraceResult, infer_source
from svclab.proxy.rules.iptables import Rule, Table, parse

MAX_DEPTH = 64
"""Deeper chain nesting means a jump loop (the kernel refuses those at load time)."""

Check = Callable[["_State"], bool]


@dataclass(frozen=True, slots=True)
class _State:
    """One branch of the walk: the packet as rewritten so far and what happened to it."""

    src_ip: str
    src: int
    dst_ip: str
    dst: int
    dport: int
    proto: str
    probability: float = 1.0
    mark: int = 0
    dnat: str | None = None
    masquerade: bool = False
    accepted: bool = False
    cost: int = 0
    rules: tuple[str, ...] = ()
    affinity: tuple[str, ...] = ()


@dataclass(slots=True)
class _Compiled:
    """A rule turned into checks and a target."""

    raw: str
    checks: list[Check] = field(default_factory=list)
    probability: float | None = None
    recent_check: str | None = None
    recent_set: str | None = None
    target: str | None = None
    target_args: dict[str, str] = field(default_factory=dict)


def _error(rule: Rule, message: str) -> ManifestError:
    return ManifestError("iptables rules", rule.chain, rule.raw, message)


class IPTablesTracer:
    """Parsed rules, ready to trace many packets (used by `trace` and the sampler)."""

    def __init__(self, text: str, config: ProxyConfig, *, jumps: bool = True) -> None:
        self.config = config
        self.tables: dict[str, Table] = parse(jump_rules_restore()) if jumps else {}
        parse(text, into=self.tables)
        self._compiled: dict[int, _Compiled] = {}
        self.affinity_timeouts: dict[str, float] = {}
        """``recent`` list name → its ``--rcheck --seconds`` window, read from the rules."""
        for table in self.tables.values():
            for rules in table.chains.values():
                for rule in rules:
                    if "--rcheck" in rule.args:
                        compiled = self._compile(rule)
                        seconds = (
                            rule.args[rule.args.index("--seconds") + 1]
                            if "--seconds" in rule.args
                            else "inf"
                        )
                        self.affinity_timeouts[compiled.recent_check or ""] = float(seconds)

    def trace(
        self,
        packet: Packet,
        source: SourceKind | None = None,
        affinity: frozenset[str] = frozenset(),
    ) -> TraceResult:
        """Every branch the first packet can take.

        `affinity` names the ``recent`` lists that hold `packet.src` within their window (what a
        ``--rcheck`` would find); a sampler tracks those lists.
        """
        kind = source or infer_source(packet, self.config)
        self._affinity = affinity
        src, dst = ipaddress.ip_address(packet.src), ipaddress.ip_address(packet.dst)
        start = _State(packet.src, int(src), packet.dst, int(dst), packet.dport, packet.proto)
        finished: list[tuple[_State, str]] = []
        first_hook = "OUTPUT" if kind is SourceKind.NODE else "PREROUTING"
        for state, verdict in self._run_from("nat", first_hook, 0, start, 0):
            if verdict in ("DROP", "REJECT"):
                finished.append((state, verdict))
            else:
                finished.extend(self._after_nat(state, kind))
        finished = [(state, verdict) for state, verdict in finished if state.probability > 0]
        outcomes = tuple(_outcome(state, verdict) for state, verdict in finished)
        walked: dict[str, None] = {}
        for outcome in outcomes:
            walked.update(dict.fromkeys(outcome.rules))
        # Expected rules evaluated by one first packet: each branch's count, weighted.
        cost = round(sum(state.probability * state.cost for state, _ in finished))
        return TraceResult(packet, kind, outcomes, tuple(walked), cost)

    def _after_nat(self, state: _State, kind: SourceKind) -> list[tuple[_State, str]]:
        """The filter hooks and nat POSTROUTING for one branch that left nat PREROUTING/OUTPUT."""
        local = self.config.is_local_address(state.dst_ip)
        if kind is SourceKind.NODE:
            hooks = [("filter", "OUTPUT"), ("nat", "POSTROUTING")] + (
                [("filter", "INPUT")] if local else []
            )
        elif local:
            hooks = [("filter", "INPUT")]
        else:
            hooks = [("filter", "FORWARD"), ("nat", "POSTROUTING")]
        finished: list[tuple[_State, str]] = []
        branches = [state]
        for table, chain in hooks:
            survivors = []
            for branch in branches:
                for result, verdict in self._run_from(table, chain, 0, branch, 0):
                    if verdict in ("DROP", "REJECT"):
                        finished.append((result, verdict))
                    elif verdict == "ACCEPT":
                        survivors.append(replace(result, accepted=True))
                    else:
                        survivors.append(result)
            branches = survivors
        for branch in branches:
            finished.append(
                (branch, "DNAT" if branch.dnat else ("ACCEPT" if branch.accepted else "NO-MATCH"))
            )
        return finished

    # -- chains -----------------------------------------------------------------------------

    def _run_from(
        self, table: str, chain: str, index: int, state: _State, depth: int
    ) -> list[tuple[_State, str | None]]:
        """Run `chain` from rule `index`; each result is (branch, verdict or None for "returned")."""
        if depth > MAX_DEPTH:
            raise ManifestError(
                "iptables rules", table, chain, "chains nest too deep (a jump loop?)"
            )
        rules = self.tables[table].chains.get(chain, []) if table in self.tables else []
        results: list[tuple[_State, str | None]] = []
        for i in range(index, len(rules)):
            rule = self._compile(rules[i])
            state = replace(state, cost=state.cost + 1)
            if not all(check(state) for check in rule.checks):
                continue
            if rule.recent_check is not None and rule.recent_check not in self._affinity:
                continue
            if rule.probability is None:
                return results + self._apply(table, chain, i, rule, state, depth)
            # statistic: the branch that takes the rule, then the one that goes on (no recursion,
            # so a 1000-endpoint ladder stays flat).
            taken = replace(state, probability=state.probability * rule.probability)
            results += self._apply(table, chain, i, rule, taken, depth)
            state = replace(state, probability=state.probability * (1 - rule.probability))
        return [*results, (state, None)]

    def _apply(
        self, table: str, chain: str, i: int, rule: _Compiled, state: _State, depth: int
    ) -> list[tuple[_State, str | None]]:
        state = replace(state, rules=(*state.rules, rule.raw))
        if rule.recent_set is not None:
            state = replace(state, affinity=(*state.affinity, rule.recent_set))
        target, args = rule.target, rule.target_args
        if target is None:
            return self._run_from(table, chain, i + 1, state, depth)
        if target == "MARK":
            mark = state.mark
            if "--or-mark" in args:
                mark |= int(args["--or-mark"], 0)
            if "--xor-mark" in args:
                mark ^= int(args["--xor-mark"], 0)
            if "--set-xmark" in args:  # how iptables-save prints both of the above
                value, _, mask = args["--set-xmark"].partition("/")
                mark = (mark & ~int(mask or "0xffffffff", 0)) ^ int(value, 0)
            return self._run_from(table, chain, i + 1, replace(state, mark=mark), depth)
        if target == "RETURN":
            return [(state, None)]
        if target in ("ACCEPT", "DROP", "REJECT"):
            return [(state, target)]
        if target == "DNAT":
            destination = args["--to-destination"]
            ip, _, port = destination.rpartition(":")
            ip = ip.strip("[]")
            dnat = replace(
                state,
                dnat=destination,
                dst_ip=ip,
                dst=int(ipaddress.ip_address(ip)),
                dport=int(port),
            )
            return [(dnat, "DNAT")]
        if target == "MASQUERADE":
            return [(replace(state, masquerade=True), "MASQUERADE")]
        if target not in self.tables[table].chains:
            raise _error(self.tables[table].chains[chain][i], f"unknown target {target!r}")
        results: list[tuple[_State, str | None]] = []
        for sub_state, verdict in self._run_from(table, target, 0, state, depth + 1):
            if verdict is None:
                results += self._run_from(table, chain, i + 1, sub_state, depth)
            else:
                results.append((sub_state, verdict))
        return results

    # -- matches ----------------------------------------------------------------------------

    def _compile(self, rule: Rule) -> _Compiled:
        compiled = self._compiled.get(id(rule))
        if compiled is None:
            compiled = self._compiled[id(rule)] = self._build(rule)
        return compiled

    def _build(self, rule: Rule) -> _Compiled:
        out = _Compiled(rule.raw)
        args = rule.args
        negate = False
        name = recent = ""
        i = 0
        while i < len(args):
            option = args[i]
            value = args[i + 1] if i + 1 < len(args) else ""
            if option == "!":
                negate = True
                i += 1
                continue
            step = 2
            if option in ("-s", "--source", "-d", "--destination"):
                out.checks.append(_address_check(option in ("-s", "--source"), value, negate))
            elif option in ("-p", "--protocol"):
                proto = value.lower()
                out.checks.append(_negated(lambda s, p=proto: s.proto == p, negate))
            elif option == "--dport":
                low, _, high = value.partition(":")
                lo, hi = int(low), int(high or low)
                out.checks.append(_negated(lambda s, lo=lo, hi=hi: lo <= s.dport <= hi, negate))
            elif option in ("--src-type", "--dst-type"):
                out.checks.append(self._addrtype_check(option == "--src-type", value, negate))
            elif option == "--mark":
                mark, _, mask = value.partition("/")
                want, bits = int(mark, 0), int(mask or "0xffffffff", 0)
                out.checks.append(_negated(lambda s, w=want, b=bits: s.mark & b == w, negate))
            elif option == "--ctstate":
                wanted = set(value.split(","))
                # A first packet is NEW; once DNATed, conntrack also reports the virtual DNAT state.
                out.checks.append(
                    _negated(
                        lambda s, w=wanted: bool(w & ({"NEW", "DNAT"} if s.dnat else {"NEW"})),
                        negate,
                    )
                )
            elif option == "--probability":
                out.probability = float(value)
            elif option == "--name":
                name = value
            elif option in ("--rcheck", "--set"):
                recent = option  # resolved after the loop: iptables-save puts --name last
                step = 1
            elif option in ("--reap", "--random-fully", "--rsource"):
                step = 1
            elif option in ("-j", "--jump"):
                out.target = value
            elif option in ("--to-destination", "--or-mark", "--xor-mark", "--set-xmark"):
                out.target_args[option] = value
            elif option in (
                "-m",
                "--match",
                "--comment",
                "--mode",
                "--seconds",
                "--nfacct-name",
                "--mask",
                "--reject-with",
            ):
                pass  # modules, comments, counters: no effect on the verdict
            else:
                raise _error(rule, f"the tracer does not model {option!r}")
            negate = False
            i += step
        if recent == "--rcheck":
            out.recent_check = name
        elif recent == "--set":
            out.recent_set = name
        return out

    def _addrtype_check(self, source: bool, kind: str, negate: bool) -> Check:
        if kind != "LOCAL":
            raise ManifestError("iptables rules", "", f"addrtype {kind}", "only LOCAL is modelled")
        local = self.config.is_local_address
        if source:
            return _negated(lambda s: local(s.src_ip), negate)
        return _negated(lambda s: local(s.dst_ip), negate)


def _outcome(state: _State, verdict: str) -> Outcome:
    return Outcome(
        verdict=verdict,
        probability=state.probability,
        destination=state.dnat if verdict == "DNAT" else None,
        masquerade=state.masquerade,
        rules=state.rules,
        affinity=state.affinity,
    )


def _negated(check: Check, negate: bool) -> Check:
    return (lambda s: not check(s)) if negate else check


def _address_check(source: bool, value: str, negate: bool) -> Check:
    network = ipaddress.ip_network(value, strict=False)
    low, high = int(network.network_address), int(network.broadcast_address)
    if source:
        return _negated(lambda s: low <= s.src <= high, negate)
    return _negated(lambda s: low <= s.dst <= high, negate)


def trace(
    text: str, packet: Packet, config: ProxyConfig, source: SourceKind | None = None
) -> TraceResult:
    """Trace `packet` through `text` (kube-proxy's restore input; its built-in jumps are added)."""
    return IPTablesTracer(text, config).trace(packet, source)
