"""Run an `nft -f` ruleset on a packet: parse the transaction, then walk its base chains by hook.

The tracer executes the rendered text itself (not a second model of kube-proxy): base chains
run by hook and priority, set and verdict-map lookups, `numgen random mod N` split the packet
into branches of probability 1/N, `fib … type local` asks the config for the node's addresses,
marks are set and tested bit by bit, and `masquerade` in postrouting decides SNAT. The packet
is the first of its connection, so `ct state new` holds. Dynamic (affinity) sets hold the
packet's source only when the caller says so (`NFTablesTracer.trace`'s `affinity`), and each
branch lists the sets its `update @set { ip saddr }` statements refresh: a sampler keeps the
sets' contents over time.

>>> text = '''
... add table ip t
... add chain ip t pre { type nat hook prerouting priority -100 ; }
... add map ip t svc { type ipv4_addr . inet_proto . inet_service : verdict ; }
... add rule ip t pre ip daddr . meta l4proto . th dport vmap @svc
... add chain ip t lb
... add rule ip t lb numgen random mod 2 vmap { 0 : goto a , 1 : goto b }
... add chain ip t a
... add rule ip t a meta l4proto tcp dnat to 10.1.0.1:8080
... add chain ip t b
... add rule ip t b meta l4proto tcp dnat to 10.1.0.2:8080
... add element ip t svc { 10.96.0.1 . tcp . 80 : goto lb }
... '''
>>> from svclab.proxy.config import ProxyConfig
>>> result = trace(text, Packet("10.0.0.5", "10.96.0.1", 80), ProxyConfig(hostname_override="n"))
>>> result.verdict, result.destinations
('DNAT', {'10.1.0.1:8080': 0.5, '10.1.0.2:8080': 0.5})
>>> result.rules[0]
'pre: ip daddr . meta l4proto . th dport vmap @svc => goto lb'
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import Outcome, Packet, SourceKind, TraceResult, infer_source
from svclab.proxy.rules.nftables import (
    Chain,
    NftError,
    NftRule,
    NftTable,
    Ruleset,
    load,
    normal_part,
    parse_time,
    part_matches,
    split_top,
    tokenize,
)

_MAX_DEPTH = 64  # nft refuses deeper jump stacks too; also stops a loop in hand-written text


# --- compiling rules --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _State:
    """A branch of the walk: the packet as rewritten so far, its mark, and what it met."""

    daddr: str
    dport: int
    mark: int = 0
    dnat: str | None = None
    masquerade: bool = False
    matched: tuple[str, ...] = ()
    evaluated: int = 0
    affinity: tuple[str, ...] = ()
    """Sets an ``update @set { ip saddr }`` refreshed on the way."""


@dataclass(frozen=True, slots=True)
class _Env:
    """What a rule may ask besides the packet state: source, protocol, table, node, affinity."""

    src: str
    proto: str
    table: NftTable
    config: ProxyConfig
    affinity: frozenset[str] = frozenset()


# A compiled expression maps (env, state) to branches: (probability, state, verdict or None).
# An empty list means the rule did not match; verdict None means "go on with the next expression".
_Branch = tuple[Fraction, _State, str | None]
_Expr = Callable[[_Env, _State], list[_Branch]]
_ONE = Fraction(1)


def _selector(tokens: list[str], i: int) -> tuple[Callable[[_Env, _State], str], int]:
    """A packet field reference starting at tokens[i]; returns a getter and the next index."""
    pair = " ".join(tokens[i : i + 2])
    if pair in ("ip saddr", "ip6 saddr"):
        return (lambda env, st: env.src), i + 2
    if pair in ("ip daddr", "ip6 daddr"):
        return (lambda env, st: st.daddr), i + 2
    if pair == "meta l4proto":
        return (lambda env, st: env.proto), i + 2
    if pair in ("th dport", "tcp dport", "udp dport", "sctp dport"):
        return (lambda env, st: str(st.dport)), i + 2
    if pair in ("fib daddr", "fib saddr") and tokens[i + 2 : i + 3] == ["type"]:
        pick = (lambda env, st: st.daddr) if pair == "fib daddr" else (lambda env, st: env.src)
        return (
            lambda env, st: "local" if env.config.is_local_address(pick(env, st)) else "unicast"
        ), i + 3
    if pair == "ct state":
        return (lambda env, st: "new"), i + 2  # the first packet of a connection
    raise NftError(f"unsupported expression at {' '.join(tokens[i : i + 3])!r}")


def _values(tokens: list[str], i: int) -> tuple[list[str], int]:
    """A literal (``x``) or anonymous set (``{ x , y }``); returns the values and next index."""
    if tokens[i] != "{":
        return [normal_part(v) for v in tokens[i].split(",")], i + 1
    end = tokens.index("}", i)
    return [normal_part(v) for v in tokens[i + 1 : end] if v != ","], end + 1


def _verdict_of(text: str) -> str:
    """A map value that must be a verdict (the only kind of map kube-proxy writes)."""
    if text.split()[0] not in ("jump", "goto", "accept", "drop", "return", "continue"):
        raise NftError(f"unsupported verdict {text!r}")
    return text


def _compile(tokens: list[str], rule: NftRule) -> list[_Expr]:
    """Turn the tokens of one rule into expressions (matches, statements, verdicts)."""
    program: list[_Expr] = []
    i = 0
    while i < len(tokens):
        word = tokens[i]
        if word in ("jump", "goto"):
            verdict = f"{word} {tokens[i + 1]}"
            program.append(lambda env, st, v=verdict: [(_ONE, st, v)])
            i += 2
        elif word in ("accept", "drop", "reject", "return", "continue"):
            program.append(lambda env, st, v=word: [(_ONE, st, v)])
            i += 1
        elif word == "counter":
            i += 1
        elif word == "masquerade":
            i += 1
            while i < len(tokens) and tokens[i] in ("fully-random", "random", "persistent", ","):
                i += 1
            program.append(lambda env, st: [(_ONE, replace(st, masquerade=True), "accept")])
        elif word == "dnat":
            i += 1 + (tokens[i + 1] in ("ip", "ip6"))
            if tokens[i] != "to":
                raise NftError(f"unsupported dnat form in {rule.text!r}")
            program.append(_dnat(tokens[i + 1]))
            i += 2
        elif word == "update":
            expr, i = _update(tokens, i, rule)
            program.append(expr)
        elif word == "mark":
            expr, i = _mark(tokens, i)
            program.append(expr)
        elif word == "numgen":
            expr, i = _numgen(tokens, i, rule)
            program.append(expr)
        elif word in ("tcp", "udp", "sctp") and tokens[i + 1 : i + 2] == ["dport"]:
            proto = word
            getter, i = _selector(tokens, i)
            wanted, i = _values(tokens, i)
            program.append(
                lambda env, st, p=proto, g=getter, w=wanted: (
                    [(_ONE, st, None)] if env.proto == p and g(env, st) in w else []
                )
            )
        else:
            expr, i = _relation(tokens, i)
            program.append(expr)
    return program


def _relation(tokens: list[str], i: int) -> tuple[_Expr, int]:
    """``sel [. sel]* (vmap @m | @s | [!=|==] value | { set })``."""
    getters = []
    while True:
        getter, i = _selector(tokens, i)
        getters.append(getter)
        if tokens[i : i + 1] != ["."]:
            break
        i += 1

    def key(env: _Env, st: _State) -> tuple[str, ...]:
        return tuple(g(env, st) for g in getters)

    op = tokens[i]
    if op == "vmap" and tokens[i + 1].startswith("@"):
        name = tokens[i + 1][1:]

        def vmap(env: _Env, st: _State) -> list[_Branch]:
            element = env.table.named_set(name).lookup(key(env, st))
            return [] if element is None else [(_ONE, st, _verdict_of(element.value))]

        return vmap, i + 2
    if op.startswith("@"):
        name = op[1:]

        def member(env: _Env, st: _State) -> list[_Branch]:
            wanted = key(env, st)
            found = env.table.named_set(name).lookup(wanted) or (
                name in env.affinity and wanted == (env.src,)
            )
            return [(_ONE, st, None)] if found else []

        return member, i + 1
    if len(getters) > 1:
        raise NftError(f"unsupported comparison of a concatenation at {op!r}")
    getter = getters[0]
    negate = op == "!="
    i += op in ("!=", "==")
    wanted, i = _values(tokens, i)

    def compare(env: _Env, st: _State) -> list[_Branch]:
        value = getter(env, st)
        hit = any(part_matches(w, value) for w in wanted)
        return [(_ONE, st, None)] if hit != negate else []

    return compare, i


def _mark(tokens: list[str], i: int) -> tuple[_Expr, int]:
    """``mark set mark (or|xor) V``, ``mark and M (==|!=) V`` or ``mark V``."""
    if tokens[i + 1 : i + 3] == ["set", "mark"] and tokens[i + 3] in ("or", "xor", "and"):
        operand, op = int(tokens[i + 4], 0), tokens[i + 3]
        apply = {"or": int.__or__, "xor": int.__xor__, "and": int.__and__}[op]
        return (lambda env, st: [(_ONE, replace(st, mark=apply(st.mark, operand)), None)]), i + 5
    if tokens[i + 1] == "set":
        value = int(tokens[i + 2], 0)
        return (lambda env, st: [(_ONE, replace(st, mark=value), None)]), i + 3
    mask, j = 0xFFFFFFFF, i + 1
    if tokens[j] == "and":
        mask, j = int(tokens[j + 1], 0), j + 2
    negate = tokens[j] == "!="
    j += tokens[j] in ("==", "!=")
    wanted = int(tokens[j], 0)
    return (
        lambda env, st: [(_ONE, st, None)] if ((st.mark & mask) == wanted) != negate else []
    ), j + 1


def _numgen(tokens: list[str], i: int, rule: NftRule) -> tuple[_Expr, int]:
    """``numgen random mod N vmap { k : verdict , … }``: one branch per key, each 1/N likely."""
    if tokens[i + 1 : i + 3] != ["random", "mod"] or tokens[i + 4 : i + 6] != ["vmap", "{"]:
        raise NftError(f"unsupported numgen form in {rule.text!r}")
    modulus = int(tokens[i + 3])
    end = tokens.index("}", i)
    entries = []
    for entry in split_top(tokens[i + 6 : end], ","):
        index = entry.index(":")
        entries.append((int(entry[0]), _verdict_of(" ".join(entry[index + 1 :]))))
    share = Fraction(1, modulus)
    # Values with no entry (e.g. mod 3 with two entries) fall through as a non-match branch.
    missing = share * (modulus - len({k for k, _ in entries if k < modulus}))

    def numgen(env: _Env, st: _State) -> list[_Branch]:
        branches = [(share, st, verdict) for k, verdict in entries if k < modulus]
        if missing:
            branches.append((missing, st, "no-match"))
        return branches

    return numgen, end + 1


def _update(tokens: list[str], i: int, rule: NftRule) -> tuple[_Expr, int]:
    """``update @set { ip saddr }``: the branch puts its source in the set (ClientIP affinity)."""
    name = tokens[i + 1][1:] if tokens[i + 1].startswith("@") else ""
    key = tokens[i + 2 : i + 6]
    if not name or key not in (["{", "ip", "saddr", "}"], ["{", "ip6", "saddr", "}"]):
        raise NftError(f"unsupported update form in {rule.text!r}")

    def update(env: _Env, st: _State) -> list[_Branch]:
        env.table.named_set(name)  # like nft, refuse a set that does not exist
        return [(_ONE, replace(st, affinity=(*st.affinity, name)), None)]

    return update, i + 6


def _dnat(target: str) -> _Expr:
    ip, _, port = (
        target.rpartition(":") if target.count(":") == 1 or "]:" in target else (target, "", "")
    )
    ip = ip.strip("[]")

    def dnat(env: _Env, st: _State) -> list[_Branch]:
        dport = int(port) if port else st.dport
        shown = f"[{ip}]:{dport}" if ":" in ip else f"{ip}:{dport}"
        return [(_ONE, replace(st, daddr=ip, dport=dport, dnat=shown), "accept")]

    return dnat


def _program(rule: NftRule) -> list[_Expr]:
    """The rule compiled (once: the result is kept on the rule)."""
    if rule.compiled is None:
        try:
            rule.compiled = _compile(tokenize(rule.text), rule)
        except (IndexError, ValueError):
            raise NftError(f"chain {rule.chain!r}: cannot read rule {rule.text!r}") from None
    return rule.compiled


# --- running ----------------------------------------------------------------------------------


def _run_rule(env: _Env, rule: NftRule, prob: Fraction, st: _State, depth: int) -> list[_Branch]:
    """Branches after one rule: verdict None = next rule, "return" = leave the chain."""
    st = replace(st, evaluated=st.evaluated + 1)
    pending: list[tuple[int, Fraction, _State]] = [(0, prob, st)]
    done: list[_Branch] = []
    program = _program(rule)
    while pending:
        index, p, state = pending.pop(0)
        if index == len(program):
            done.append((p, _matched(state, rule, None), None))
            continue
        branches = program[index](env, state)
        if not branches:  # this expression did not match: the rule is skipped
            done.append((p, state, None))
        for share, new, verdict in branches:
            if verdict is None:
                pending.append((index + 1, p * share, new))
            elif verdict == "no-match":
                done.append((p * share, new, None))
            else:
                new = _matched(new, rule, verdict)
                done.extend(_follow(env, rule, p * share, new, verdict, depth))
    return done


def _matched(st: _State, rule: NftRule, verdict: str | None) -> _State:
    shown = f"{rule.chain}: {rule.text}"
    if verdict is not None and " vmap " in f" {rule.text} ":
        shown += f" => {verdict}"  # which element of the verdict map decided
    return replace(st, matched=(*st.matched, shown))


def _follow(
    env: _Env, rule: NftRule, p: Fraction, st: _State, verdict: str, depth: int
) -> list[_Branch]:
    word, _, target = verdict.partition(" ")
    if word not in ("jump", "goto"):
        return [(p, st, verdict)]
    if depth >= _MAX_DEPTH:
        raise NftError(f"chain {rule.chain!r}: jumps nested deeper than {_MAX_DEPTH}")
    results = []
    for q, sub, sub_verdict in _run_chain(env, env.table.chain(target), p, st, depth + 1):
        if sub_verdict in (None, "return"):
            # Back from a jump: next rule. Back from a goto: leave this chain too.
            results.append((q, sub, None if word == "jump" else "return"))
        else:
            results.append((q, sub, sub_verdict))
    return results


def _run_chain(env: _Env, chain: Chain, prob: Fraction, st: _State, depth: int) -> list[_Branch]:
    """Branches leaving `chain`: verdict None when it ran to its end or returned."""
    return _run_rules(env, chain.rules, 0, prob, st, depth)


def _run_rules(
    env: _Env, rules: list[NftRule], start: int, prob: Fraction, st: _State, depth: int
) -> list[_Branch]:
    for index in range(start, len(rules)):
        branches = _run_rule(env, rules[index], prob, st, depth)
        if len(branches) == 1 and branches[0][2] is None:
            prob, st = branches[0][0], branches[0][1]
            continue
        results: list[_Branch] = []
        for p, new, verdict in branches:
            if verdict is None:
                results.extend(_run_rules(env, rules, index + 1, p, new, depth))
            elif verdict in ("return", "continue"):
                results.append((p, new, None))
            else:
                results.append((p, new, verdict))
        return results
    return [(prob, st, None)]


def _hook_chains(ruleset: Ruleset, family: str, hook: str) -> list[tuple[NftTable, Chain]]:
    chains = [
        (table, chain)
        for table in ruleset.tables.values()
        if table.family in (family, "inet")
        for chain in table.chains.values()
        if chain.hook == hook
    ]
    return sorted(chains, key=lambda tc: tc[1].priority or 0)


def _run_hook(
    ruleset: Ruleset,
    hook: str,
    packet: Packet,
    config: ProxyConfig,
    affinity: frozenset[str],
    prob: Fraction,
    st: _State,
) -> list[_Branch]:
    """Run every base chain on `hook` in priority order; verdict set only for drop/reject."""
    family = "ip" if ipaddress.ip_address(packet.src).version == 4 else "ip6"
    branches: list[_Branch] = [(prob, st, None)]
    for table, chain in _hook_chains(ruleset, family, hook):
        env = _Env(packet.src, packet.proto, table, config, affinity)
        next_branches: list[_Branch] = []
        for p, state, final in branches:
            if final is not None:
                next_branches.append((p, state, final))
                continue
            for q, new, verdict in _run_chain(env, chain, p, state, 0):
                # accept ends this base chain only; the next chain or hook still sees the packet.
                next_branches.append((q, new, verdict if verdict in ("drop", "reject") else None))
        branches = next_branches
    return branches


def _walk(
    ruleset: Ruleset,
    packet: Packet,
    config: ProxyConfig,
    source: SourceKind,
    affinity: frozenset[str],
) -> list[_Branch]:
    start = _State(packet.dst, packet.dport)
    first = "output" if source is SourceKind.NODE else "prerouting"
    finished: list[_Branch] = []
    for p, st, final in _run_hook(ruleset, first, packet, config, affinity, _ONE, start):
        if final is not None:
            finished.append((p, st, final))
            continue
        local = config.is_local_address(st.daddr)
        if source is SourceKind.NODE:
            # Locally generated: OUTPUT, POSTROUTING, then INPUT when delivered to this host.
            hooks = ["postrouting", "input"] if local else ["postrouting"]
        else:
            hooks = ["input"] if local else ["forward", "postrouting"]
        branches: list[_Branch] = [(p, st, None)]
        for hook in hooks:
            branches = [
                b
                for p2, st2, f in branches
                for b in (
                    [(p2, st2, f)]
                    if f is not None
                    else _run_hook(ruleset, hook, packet, config, affinity, p2, st2)
                )
            ]
        finished.extend(branches)
    return finished


@functools.lru_cache(maxsize=4)
def _cached_load(text: str) -> Ruleset:
    return load(text)


class NFTablesTracer:
    """A loaded ruleset, ready to trace many packets (used by `trace` and the sampler).

    >>> text = '''add table ip t
    ... add chain ip t pre { type nat hook prerouting priority -100 ; }
    ... add set ip t seen-a { type ipv4_addr ; flags dynamic,timeout ; timeout 3h ; }
    ... add chain ip t a
    ... add chain ip t b
    ... add rule ip t pre ip saddr @seen-a goto a
    ... add rule ip t pre numgen random mod 2 vmap { 0 : goto a , 1 : goto b }
    ... add rule ip t a update @seen-a { ip saddr }
    ... add rule ip t a meta l4proto tcp dnat to 10.1.0.1:80
    ... add rule ip t b meta l4proto tcp dnat to 10.1.0.2:80
    ... '''
    >>> from svclab.proxy.config import ProxyConfig
    >>> tracer = NFTablesTracer(text, ProxyConfig(hostname_override="n"))
    >>> tracer.affinity_timeouts
    {'seen-a': 10800.0}
    >>> packet = Packet("10.0.0.5", "10.96.0.1", 80)
    >>> [(o.destination, o.affinity) for o in tracer.trace(packet).outcomes]
    [('10.1.0.1:80', ('seen-a',)), ('10.1.0.2:80', ())]
    >>> tracer.trace(packet, affinity=frozenset({"seen-a"})).destinations
    {'10.1.0.1:80': 1.0}
    """

    def __init__(self, text: str, config: ProxyConfig) -> None:
        self.config = config
        self.ruleset = _cached_load(text)

    @functools.cached_property
    def affinity_timeouts(self) -> dict[str, float]:
        """Set name → its ``timeout`` in seconds, for every set declared with one."""
        return {
            named.name: parse_time(named.timeout)
            for table in self.ruleset.tables.values()
            for named in table.sets.values()
            if named.timeout
        }

    def trace(
        self,
        packet: Packet,
        source: SourceKind | None = None,
        affinity: frozenset[str] = frozenset(),
    ) -> TraceResult:
        """Every way the first packet of a connection can go through the ruleset.

        The packet takes the hooks netfilter would run for its source (a node address: output
        and postrouting; otherwise prerouting, then input if the destination is this node's,
        else forward and postrouting), each hook's base chains in priority order. `source`
        overrides where the packet is guessed to come from; `affinity` names the dynamic sets
        that hold `packet.src` (what ``ip saddr @set`` finds), as a sampler tracks them.
        """
        kind = source or infer_source(packet, self.config)
        branches = _walk(self.ruleset, packet, self.config, kind, affinity)
        outcomes = []
        for p, st, final in branches:
            verdict = final.upper() if final is not None else "DNAT" if st.dnat else "NO-MATCH"
            outcomes.append(
                Outcome(
                    verdict,
                    float(p),
                    st.dnat if final is None else None,
                    st.masquerade and final is None,
                    st.matched,
                    st.affinity,
                )
            )
        rules = tuple(dict.fromkeys(rule for _, st, _ in branches for rule in st.matched))
        evaluated = round(sum(p * st.evaluated for p, st, _ in branches))
        return TraceResult(packet, kind, tuple(outcomes), rules, evaluated)


def trace(
    text: str,
    packet: Packet,
    config: ProxyConfig,
    source: SourceKind | None = None,
    affinity: frozenset[str] = frozenset(),
) -> TraceResult:
    """Trace `packet` through the ruleset `text` (see `NFTablesTracer.trace`)."""
    return NFTablesTracer(text, config).trace(packet, source, affinity)
