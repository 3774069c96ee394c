"""What the node's kernel recorded: per-rule packet counters and conntrack entries.

>>> line = ("tcp      6 119 TIME_WAIT src=203.0.113.10 dst=192.168.0.2 sport=40000 dport=30080 "
...         "src=10.244.1.2 dst=192.168.0.2 sport=8080 dport=40000 [ASSURED] mark=0 use=1")
>>> entry = parse_conntrack(line + "\\n")[0]
>>> entry.state, entry.original, entry.dnat, entry.snat
('TIME_WAIT', '203.0.113.10:40000 -> 192.168.0.2:30080', '10.244.1.2:8080', '192.168.0.2')
>>> for c in parse_rule_counters('''*nat
... :PREROUTING ACCEPT [3:180]
... [2:120] -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X
... [0:0] -A KUBE-SVC-X -j KUBE-SEP-Y
... COMMIT'''):
...     print(c.table, c.packets, c.bytes, c.rule)
nat 2 120 -A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X
nat 0 0 -A KUBE-SVC-X -j KUBE-SEP-Y
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from svclab.kernel.system import run

_COUNTED_RULE = re.compile(r"^\[(\d+):(\d+)\] (-A .*)$")
_NFT_COUNTER = re.compile(r"^\s*(.*?)\s*counter packets (\d+) bytes (\d+)\s*(.*)$")


@dataclass(frozen=True)
class ConntrackEntry:
    """One tracked flow: the original direction and the reply direction, as the kernel keeps it."""

    proto: str
    state: str
    src: str
    dst: str
    sport: int
    dport: int
    reply_src: str
    reply_dst: str
    reply_sport: int
    reply_dport: int

    @property
    def original(self) -> str:
        """The first packet as the client sent it."""
        return f"{self.src}:{self.sport} -> {self.dst}:{self.dport}"

    @property
    def dnat(self) -> str | None:
        """The backend ``ip:port`` the destination was rewritten to, if it was."""
        backend = (self.reply_src, self.reply_sport)
        return None if backend == (self.dst, self.dport) else f"{self.reply_src}:{self.reply_sport}"

    @property
    def snat(self) -> str | None:
        """The address the source was masqueraded to, if it was."""
        return None if self.reply_dst == self.src else self.reply_dst


@dataclass(frozen=True)
class RuleCounter:
    """A rule and how many packets and bytes matched it."""

    table: str
    rule: str
    packets: int
    bytes: int


def parse_conntrack(text: str) -> list[ConntrackEntry]:
    """Entries of ``conntrack -L`` output (TCP and UDP lines with both directions)."""
    entries = []
    for line in text.splitlines():
        words = line.split()
        pairs = [w.split("=", 1) for w in words if "=" in w]
        addrs = [v for k, v in pairs if k in ("src", "dst", "sport", "dport")]
        if len(addrs) < 8:
            continue
        state = next((w for w in words[3:] if w.isupper() and "=" not in w and w[0] != "["), "")
        s, d, sp, dp, rs, rd, rsp, rdp = addrs[:8]
        entries.append(
            ConntrackEntry(words[0], state, s, d, int(sp), int(dp), rs, rd, int(rsp), int(rdp))
        )
    return entries


def parse_rule_counters(text: str) -> list[RuleCounter]:
    """Rules with counters from ``iptables-save -c`` output."""
    table, counters = "", []
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif match := _COUNTED_RULE.match(line):
            counters.append(RuleCounter(table, match[3], int(match[1]), int(match[2])))
    return counters


def parse_nft_counters(text: str) -> list[RuleCounter]:
    """Rules carrying a ``counter`` statement in ``nft list ruleset`` output.

    kube-proxy's own nftables rules have none, so its ruleset yields an empty list.

    >>> parse_nft_counters('''table ip t {
    ...   chain c {
    ...     ip daddr 10.0.0.1 counter packets 4 bytes 240 accept
    ...   }
    ... }''')
    [RuleCounter(table='ip t', rule='ip daddr 10.0.0.1 accept', packets=4, bytes=240)]
    """
    table, counters = "", []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["table"]:
            table = " ".join(words[1:3])
        elif match := _NFT_COUNTER.match(line):
            rule = " ".join(part for part in (match[1], match[4]) if part)
            counters.append(RuleCounter(table, rule, int(match[2]), int(match[3])))
    return counters


def conntrack_entries(netns: str) -> list[ConntrackEntry]:
    """The node's conntrack table (``conntrack -L`` inside `netns`)."""
    return parse_conntrack(run(["conntrack", "-L"], netns=netns))


def rule_counters(netns: str, mode: str) -> list[RuleCounter]:
    """Per-rule counters in `netns`: ``iptables-save -c`` (iptables) or ``nft list ruleset``."""
    if mode == "iptables":
        return parse_rule_counters(run(["iptables-save", "-c"], netns=netns))
    return parse_nft_counters(run(["nft", "list", "ruleset"], netns=netns))


def saved_probability(written: str) -> str:
    """What ``iptables-save`` prints back for a rule written with ``--probability written``.

    The statistic match keeps the probability as a 32-bit integer, p × 2³¹ rounded, and prints
    it with 11 decimals (iptables' ``extensions/libxt_statistic.c``): kube-proxy's 1/3,
    ``0.3333333333``, comes back a hair larger.

    >>> saved_probability("0.3333333333"), saved_probability("0.5000000000")
    ('0.33333333349', '0.50000000000')
    """
    return f"{round(float(written) * 2**31) / 2**31:.11f}"
