"""The nft rule model and its parser: an `nft -f` transaction loaded into tables, chains, sets.

No backend owns it: the nftables tracer runs what `load` builds, and the render tests compare
dumps through `canonical`.

>>> ruleset = load("add table ip t\\nadd chain ip t c\\nadd rule ip t c counter accept")
>>> [(r.chain, r.text) for r in ruleset.tables["ip", "t"].chains["c"].rules]
[('c', 'counter accept')]
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from svclab.errors import SvclabError

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{},]|[^\s{},"]+')

# Named chain priorities of the ip/ip6/inet families (nft(8) "PRIORITY"), as knftables maps them.
_NAMED_PRIORITIES = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
}


class NftError(SvclabError):
    """Text that is not an `nft -f` ruleset svclab can load or run."""


def tokenize(text: str) -> list[str]:
    """Split nft text into words, quoted strings and braces/commas."""
    return _TOKEN.findall(text)


def _unquote(token: str) -> str:
    return token[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


_TIME_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": Fraction(1, 1000)}
_TIME = re.compile(r"(\d+)(ms|d|h|m|s)")


def parse_time(value: str) -> float:
    """An nft time such as a set's ``timeout``, in seconds: ``10800s``, ``1h30m``, ``250ms``.

    >>> parse_time("10800s"), parse_time("1h30m"), parse_time("250ms")
    (10800.0, 5400.0, 0.25)
    """
    parts = _TIME.findall(value)
    if not parts or "".join(number + unit for number, unit in parts) != value.strip():
        raise NftError(f"unknown time {value!r}")
    return float(sum(int(number) * _TIME_UNITS[unit] for number, unit in parts))


def parse_priority(value: str) -> int:
    """A chain priority as a number: ``-110``, ``filter``, ``dstnat-10``.

    >>> parse_priority("dstnat-10"), parse_priority("srcnat"), parse_priority("-110")
    (-110, 100, -110)
    """
    match = re.fullmatch(r"(-?\d+)|([a-z]+)\s*([+-]\s*\d+)?", value.strip())
    if not match:
        raise NftError(f"unknown chain priority {value!r}")
    if match.group(1):
        return int(match.group(1))
    if match.group(2) not in _NAMED_PRIORITIES:
        raise NftError(f"unknown chain priority {value!r}")
    return _NAMED_PRIORITIES[match.group(2)] + int((match.group(3) or "0").replace(" ", ""))


# --- the ruleset ------------------------------------------------------------------------------


@dataclass
class NftRule:
    """One rule: its text (without the comment) and comment."""

    chain: str
    text: str
    comment: str | None = None
    compiled: Any = field(default=None, repr=False, compare=False)
    """The tracer's compiled form of `text`, cached on first run."""


@dataclass
class Chain:
    """A regular chain, or a base chain when `hook` is set."""

    name: str
    type: str | None = None
    hook: str | None = None
    priority: int | None = None
    comment: str | None = None
    rules: list[NftRule] = field(default_factory=list)


@dataclass(frozen=True)
class Element:
    """A set or map element: key parts, optional verdict/value, optional comment."""

    key: tuple[str, ...]
    value: str | None = None
    comment: str | None = None


@dataclass
class NamedSet:
    """A named set or map, its declaration and elements (with an exact-match index)."""

    kind: str  # "set" or "map"
    name: str
    type: str
    flags: tuple[str, ...] = ()
    timeout: str | None = None
    comment: str | None = None
    elements: dict[tuple[str, ...], Element] = field(default_factory=dict)

    def lookup(self, key: tuple[str, ...]) -> Element | None:
        """The element matching `key`: exact, else by CIDR or range containment per part."""
        found = self.elements.get(key)
        if found is None and "interval" in self.flags:
            found = next((e for e in self.elements.values() if _key_matches(e.key, key)), None)
        return found


@dataclass
class NftTable:
    """One nftables table (family and name) with its chains and named sets/maps."""

    family: str
    name: str
    comment: str | None = None
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, NamedSet] = field(default_factory=dict)

    def chain(self, name: str) -> Chain:
        try:
            return self.chains[name]
        except KeyError:
            raise NftError(f"table {self.family} {self.name}: no such chain {name!r}") from None

    def named_set(self, name: str) -> NamedSet:
        try:
            return self.sets[name]
        except KeyError:
            message = f"table {self.family} {self.name}: no such set or map {name!r}"
            raise NftError(message) from None


@dataclass
class Ruleset:
    """The tables an `nft -f` transaction leaves behind (starting from an empty kernel)."""

    tables: dict[tuple[str, str], NftTable] = field(default_factory=dict)

    def dump(self) -> str:
        """Every table as upstream's `knftables.Fake.Dump()` writes it: objects, then contents.

        >>> print(load("add table ip t\\nadd chain ip t c\\nadd rule ip t c drop").dump())
        add table ip t
        add chain ip t c
        add rule ip t c drop
        <BLANKLINE>
        """
        lines: list[str] = []
        for table in self.tables.values():
            prefix = f"{table.family} {table.name}"
            comment = f" {{ comment {_quote(table.comment)} ; }}" if table.comment else ""
            lines.append(f"add table {prefix}{comment}")
            chains = sorted(table.chains.values(), key=lambda c: c.name)
            named = sorted(table.sets.values(), key=lambda s: s.name)
            lines.extend(f"add chain {prefix} {c.name}{_chain_spec(c)}" for c in chains)
            for kind in ("set", "map"):
                lines.extend(
                    f"add {kind} {prefix} {s.name}{_set_spec(s)}" for s in named if s.kind == kind
                )
            for chain in chains:
                for rule in chain.rules:
                    tail = f" comment {_quote(rule.comment)}" if rule.comment is not None else ""
                    lines.append(f"add rule {prefix} {chain.name} {rule.text}{tail}")
            for kind in ("set", "map"):
                for named_set in named:
                    if named_set.kind == kind:
                        lines.extend(
                            f"add element {prefix} {named_set.name} {_element_text(e)}"
                            for e in named_set.elements.values()
                        )
        return "\n".join(lines) + "\n"


def _chain_spec(chain: Chain) -> str:
    parts = []
    if chain.hook:
        parts.append(f" type {chain.type} hook {chain.hook} priority {chain.priority} ;")
    if chain.comment is not None:
        parts.append(f" comment {_quote(chain.comment)} ;")
    return " {" + "".join(parts) + " }" if parts else ""


def _set_spec(named_set: NamedSet) -> str:
    spec = f" {{ type {named_set.type} ;"
    if named_set.flags:
        spec += f" flags {','.join(named_set.flags)} ;"
    if named_set.timeout:
        spec += f" timeout {named_set.timeout} ;"
    if named_set.comment is not None:
        spec += f" comment {_quote(named_set.comment)} ;"
    return spec + " }"


def _element_text(element: Element) -> str:
    text = "{ " + " . ".join(element.key)
    if element.comment is not None:
        text += f" comment {_quote(element.comment)}"
    if element.value is not None:
        text += f" : {element.value}"
    return text + " }"


_OBJECT_ORDER = {"table": 10, "chain": 9, "rule": 8, "set": 7, "map": 6, "element": 5}


def sort_dump(text: str) -> str:
    """Upstream's canonical order for comparing dumps (`sortNFTablesTransaction`, helpers_test.go).

    Blank and ``#`` lines go; lines sort by object type (table, chain, rule, set, map, element),
    then by object name; rules keep their order within a chain, other lines sort as text.

    >>> print(sort_dump("add rule ip t b y\\nadd rule ip t a z\\nadd rule ip t b x\\n"
    ...                 "add chain ip t b\\n# a comment"))
    add chain ip t b
    add rule ip t a z
    add rule ip t b y
    add rule ip t b x
    """
    lines = [line for line in text.split("\n") if line and not line.startswith("#")]

    def key(line: str) -> tuple[int, str, str]:
        words = [*line.split(" "), "", "", "", "", ""]  # upstream assumes >= 5 words
        return (-_OBJECT_ORDER.get(words[1], 0), words[4], "" if words[1] == "rule" else line)

    return "\n".join(sorted(lines, key=key))


def canonical(text: str) -> str:
    """What `text` leaves in the kernel, in upstream's canonical test form.

    That is `sort_dump(load(text).dump())`: flushed rules and deleted objects are gone.

    >>> print(canonical("add table ip t\\nadd chain ip t c\\nadd rule ip t c drop\\n"
    ...                 "flush chain ip t c"))
    add table ip t
    add chain ip t c
    """
    return sort_dump(load(text).dump())


# --- loading a transaction --------------------------------------------------------------------

_LINE = re.compile(r"(add|create|insert|flush|delete)\s+(table|chain|rule|set|map|element)\s+(.*)")


def load(text: str) -> Ruleset:
    """Apply the commands of an `nft -f` transaction to an empty ruleset.

    Supports what kube-proxy's transactions use (add/create/flush/delete of tables, chains, sets,
    maps and elements; add/insert of rules) and fails, like `nft -f`, on references to objects
    that do not exist.

    >>> ruleset = load('''add table ip t
    ... add set ip t s { type ipv4_addr ; }
    ... add element ip t s { 10.0.0.1 }
    ... delete element ip t s { 10.0.0.1 }''')
    >>> ruleset.tables["ip", "t"].sets["s"].elements
    {}
    >>> load("add chain ip nope c")
    Traceback (most recent call last):
    ...
    svclab.proxy.rules.nftables.NftError: line 1: no such table ip nope
    """
    ruleset = Ruleset()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line)
        if not match:
            raise NftError(f"line {number}: unsupported command: {line[:80]}")
        verb, kind, rest = match.groups()
        try:
            _apply(ruleset, verb, kind, rest)
        except NftError as err:
            raise NftError(f"line {number}: {err}") from None
    return ruleset


def _apply(ruleset: Ruleset, verb: str, kind: str, rest: str) -> None:
    family, _, rest = rest.partition(" ")
    name, _, rest = rest.strip().partition(" ")
    if kind == "table":
        _apply_table(ruleset, verb, family, name, rest.strip())
        return
    table = ruleset.tables.get((family, name))
    if table is None:
        raise NftError(f"no such table {family} {name}")
    obj, _, spec = rest.strip().partition(" ")
    spec = spec.strip()
    if kind == "chain":
        _apply_chain(table, verb, obj, spec)
    elif kind == "rule":
        if verb not in ("add", "insert"):
            raise NftError(f"{verb} rule is not supported")
        _add_rule(table, obj, spec, insert=verb == "insert")
    elif kind in ("set", "map"):
        _apply_set(table, verb, kind, obj, spec)
    else:
        _apply_elements(table, verb, obj, spec)


def _braced(spec: str) -> list[str]:
    """The ``;``-separated statements of a ``{ … }`` object spec."""
    if not spec:
        return []
    if not (spec.startswith("{") and spec.endswith("}")):
        raise NftError(f"expected {{ … }}, got {spec[:40]!r}")
    return [
        part.strip()
        for part in re.split(r";(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", spec[1:-1])
        if part.strip()
    ]


def _comment_of(statement: str) -> str | None:
    tokens = tokenize(statement)
    return _unquote(tokens[1]) if tokens[0] == "comment" and len(tokens) == 2 else None


def _apply_table(ruleset: Ruleset, verb: str, family: str, name: str, spec: str) -> None:
    key = (family, name)
    exists = key in ruleset.tables
    if verb == "delete":
        if not exists:
            raise NftError(f"no such table {family} {name}")
        del ruleset.tables[key]
    elif verb in ("add", "create"):
        if verb == "create" and exists:
            raise NftError(f"table {family} {name} exists")
        if not exists:
            comment = None
            for statement in _braced(spec):
                comment = _comment_of(statement)
                if comment is None:
                    raise NftError(f"unsupported table option {statement!r}")
            ruleset.tables[key] = NftTable(family, name, comment)
    else:
        raise NftError(f"{verb} table is not supported")


def _apply_chain(table: NftTable, verb: str, name: str, spec: str) -> None:
    chain = table.chains.get(name)
    if verb in ("flush", "delete") and chain is None:
        raise NftError(f"no such chain {name!r}")
    if verb == "flush":
        chain.rules = []
    elif verb == "delete":
        del table.chains[name]
    elif verb == "create" and chain is not None:
        raise NftError(f"chain {name!r} exists")
    elif chain is None:
        chain = Chain(name)
        for statement in _braced(spec):
            base = re.fullmatch(r"type (\S+) hook (\S+) priority (.+)", statement)
            if base:
                chain.type, chain.hook = base.group(1), base.group(2)
                chain.priority = parse_priority(base.group(3))
            elif (comment := _comment_of(statement)) is not None:
                chain.comment = comment
            else:
                raise NftError(f"unsupported chain option {statement!r}")
        table.chains[name] = chain


def _add_rule(table: NftTable, chain_name: str, text: str, insert: bool) -> None:
    chain = table.chain(chain_name)
    comment = None
    quoted = re.search(r'\s+comment\s+("(?:[^"\\]|\\.)*")$', text)
    if quoted:
        comment, text = _unquote(quoted.group(1)), text[: quoted.start()]
    rule = NftRule(chain_name, text.strip(), comment)
    if insert:
        chain.rules.insert(0, rule)
    else:
        chain.rules.append(rule)


def _apply_set(table: NftTable, verb: str, kind: str, name: str, spec: str) -> None:
    existing = table.sets.get(name)
    if verb in ("flush", "delete") and (existing is None or existing.kind != kind):
        raise NftError(f"no such {kind} {name!r}")
    if verb == "flush":
        existing.elements = {}
    elif verb == "delete":
        del table.sets[name]
    elif verb == "create" and existing is not None:
        raise NftError(f"{kind} {name!r} exists")
    elif existing is None:
        named_set = NamedSet(kind, name, "")
        for statement in _braced(spec):
            word, _, value = statement.partition(" ")
            if word in ("type", "typeof"):
                named_set.type = value
            elif word == "flags":
                named_set.flags = tuple(f.strip() for f in value.split(","))
            elif word == "timeout":
                named_set.timeout = value
            elif (comment := _comment_of(statement)) is not None:
                named_set.comment = comment
            else:
                raise NftError(f"unsupported {kind} option {statement!r}")
        if not named_set.type:
            raise NftError(f"{kind} {name!r} has no type")
        table.sets[name] = named_set


def _apply_elements(table: NftTable, verb: str, name: str, spec: str) -> None:
    named_set = table.named_set(name)
    tokens = tokenize(spec)
    if len(tokens) < 3 or tokens[0] != "{" or tokens[-1] != "}":
        raise NftError(f"expected {{ element, … }} for {name!r}")
    for element in split_top(tokens[1:-1], ","):
        parsed = _parse_element(element)
        if verb == "delete":
            if parsed.key not in named_set.elements:
                raise NftError(f"no such element {' . '.join(parsed.key)!r} in {name!r}")
            del named_set.elements[parsed.key]
        elif verb == "create" and parsed.key in named_set.elements:
            raise NftError(f"element {' . '.join(parsed.key)!r} exists in {name!r}")
        elif verb in ("add", "create"):
            if (named_set.kind == "map") != (parsed.value is not None):
                raise NftError(f"element {' . '.join(parsed.key)!r} does not fit {name!r}")
            named_set.elements[parsed.key] = parsed
        else:
            raise NftError(f"{verb} element is not supported")


def split_top(tokens: list[str], separator: str) -> list[list[str]]:
    """Split tokens at `separator`, outside nested braces."""
    parts: list[list[str]] = [[]]
    depth = 0
    for token in tokens:
        depth += token == "{"
        depth -= token == "}"
        if token == separator and depth == 0:
            parts.append([])
        else:
            parts[-1].append(token)
    return [part for part in parts if part]


def _parse_element(tokens: list[str]) -> Element:
    value = None
    if ":" in tokens:
        index = tokens.index(":")
        tokens, value = tokens[:index], " ".join(tokens[index + 1 :])
    comment = None
    if len(tokens) >= 2 and tokens[-2] == "comment":
        comment, tokens = _unquote(tokens[-1]), tokens[:-2]
    key = tuple(normal_part(" ".join(part)) for part in split_top(tokens, "."))
    return Element(key, value, comment)


def normal_part(value: str) -> str:
    """A key part as the kernel compares it: canonical IP, decimal number, lower-case name."""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if value.isdigit():
        return str(int(value))
    return value.lower()


def part_matches(pattern: str, value: str) -> bool:
    if pattern == value:
        return True
    if "/" in pattern:
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            return False
    if "-" in pattern:
        low, _, high = pattern.partition("-")
        try:
            return _ordinal(low) <= _ordinal(value) <= _ordinal(high)
        except ValueError:
            return False
    return False


def _ordinal(value: str) -> int:
    return int(value) if value.isdigit() else int(ipaddress.ip_address(value))


def _key_matches(pattern: tuple[str, ...], key: tuple[str, ...]) -> bool:
    return len(pattern) == len(key) and all(map(part_matches, pattern, key))
