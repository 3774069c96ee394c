"""`iptables-restore` text: read it into tables, chains and rules, sort it as upstream's tests do, and
the jump rules kube-proxy ensures in built-in chains outside it.

>>> tables = parse('''*nat
... :KUBE-SERVICES - [0:0]
... -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -d 172.30.0.41 -j KUBE-SVC-X
... COMMIT
... ''')
>>> rule = tables["nat"].chains["KUBE-SERVICES"][0]
>>> rule.args[:4], rule.comment
(['-m', 'comment', '--comment', 'ns1/svc1:p80 cluster IP'], 'ns1/svc1:p80 cluster IP')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from svclab.errors import ManifestError

_TOKEN = re.compile(r'"[^"]*"|\S+')
LAST_RULE_MARK = "must be the last rule"
"""Part of the comment on nat KUBE-SERVICES's final jump to KUBE-NODEPORTS."""


@dataclass(slots=True)
class Rule:
    """One ``-A CHAIN ...`` line: its text and its arguments after the chain name, unquoted."""

    raw: str
    chain: str
    args: list[str]

    @property
    def comment(self) -> str | None:
        """The ``--comment`` value, if any."""
        try:
            return self.args[self.args.index("--comment") + 1]
        except (ValueError, IndexError):
            return None


@dataclass(slots=True)
class Table:
    """A table's declared chains (in order), their rules, and ``-X`` deletions."""

    name: str
    declarations: dict[str, str] = field(default_factory=dict)
    chains: dict[str, list[Rule]] = field(default_factory=dict)
    deletions: list[str] = field(default_factory=list)

    def chain(self, name: str) -> list[Rule]:
        """The rules of `name`, creating it empty (built-in chains need no declaration)."""
        return self.chains.setdefault(name, [])


def tokenize(line: str) -> list[str]:
    """Split a rule line like a shell would for kube-proxy's output (double quotes only).

    >>> tokenize('-A X -m comment --comment "a b" -j Y')
    ['-A', 'X', '-m', 'comment', '--comment', 'a b', '-j', 'Y']
    """
    return [t[1:-1] if t.startswith('"') else t for t in _TOKEN.findall(line)]


def parse(text: str, into: dict[str, Table] | None = None) -> dict[str, Table]:
    """Parse restore text; with `into`, add to tables already read (as a second restore would)."""
    tables = into if into is not None else {}
    table: Table | None = None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = tables.setdefault(line[1:], Table(line[1:]))
        elif table is None:
            raise ManifestError(
                "iptables-restore input", "", f"line {number}", "rule outside a table"
            )
        elif line == "COMMIT":
            table = None
        elif line.startswith(":"):
            name = line[1:].split(None, 1)[0]
            table.declarations[name] = line
            table.chain(name)
        elif line.startswith("-A "):
            tokens = tokenize(line)
            table.chain(tokens[1]).append(Rule(line, tokens[1], tokens[2:]))
        elif line.startswith("-X "):
            table.deletions.append(line)
        else:
            raise ManifestError(
                "iptables-restore input", "", f"line {number}", f"cannot read {line!r}"
            )
    return tables


def _chain_order(name: str) -> tuple[int, str]:
    if name == "KUBE-NODEPORTS":
        return (0, name)
    if name == "KUBE-SERVICES":
        return (1, name)
    return (2 if name.startswith("KUBE-") else 3, name)


def _service_of(rule: Rule) -> str:
    """The service a rule belongs to: its comment up to the first space or colon."""
    return re.split(r"[ :]", rule.comment or "", maxsplit=1)[0]


def canonical_sort(text: str) -> str:
    """Sort restore text so it no longer depends on the order Services were processed in.

    The same idea as upstream's `sortIPTablesRules` (pkg/proxy/iptables/proxier_test.go): tables
    by name; chains KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* and then the rest, alphabetically;
    the KUBE-NODEPORTS and KUBE-SERVICES rules stably by service name, keeping nat KUBE-SERVICES's
    "must be the last rule" rule last. Other chains keep their rule order.

    >>> print(canonical_sort('''*nat
    ... :KUBE-SERVICES - [0:0]
    ... :KUBE-SVC-B - [0:0]
    ... :KUBE-NODEPORTS - [0:0]
    ... -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
    ... -A KUBE-SERVICES -m comment --comment "ns2/b cluster IP" -j KUBE-SVC-B
    ... -A KUBE-SVC-B -j KUBE-SEP-1
    ... -A KUBE-SERVICES -m comment --comment "ns1/a:p cluster IP" -j KUBE-SVC-A
    ... COMMIT
    ... *filter
    ... COMMIT
    ... '''), end="")
    *filter
    COMMIT
    *nat
    :KUBE-NODEPORTS - [0:0]
    :KUBE-SERVICES - [0:0]
    :KUBE-SVC-B - [0:0]
    -A KUBE-SERVICES -m comment --comment "ns1/a:p cluster IP" -j KUBE-SVC-A
    -A KUBE-SERVICES -m comment --comment "ns2/b cluster IP" -j KUBE-SVC-B
    -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
    -A KUBE-SVC-B -j KUBE-SEP-1
    COMMIT
    """
    out: list[str] = []
    for name, table in sorted(parse(text).items()):
        out.append(f"*{name}")
        order = sorted(table.chains, key=_chain_order)
        out.extend(table.declarations[c] for c in order if c in table.declarations)
        for chain in order:
            rules = table.chains[chain]
            if chain == "KUBE-NODEPORTS" or (chain == "KUBE-SERVICES" and name == "filter"):
                rules = sorted(rules, key=_service_of)
            elif chain == "KUBE-SERVICES":
                rules = sorted(
                    rules, key=lambda r: (LAST_RULE_MARK in (r.comment or ""), _service_of(r))
                )
            out.extend(rule.raw for rule in rules)
        out.extend(table.deletions)
        out.append("COMMIT")
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True)
class JumpRule:
    """A rule kube-proxy ensures in a built-in chain (`iptablesJumpChains`), outside the restore input."""

    table: str
    chain: str
    args: str

    @property
    def line(self) -> str:
        """The rule as an ``-A`` line."""
        return f"-A {self.chain} {self.args}"
