"""``resolv.conf`` as glibc reads it, and the names glibc's search list makes it ask for.

A Pod's resolv.conf (written by kubelet) searches three cluster domains with ``ndots:5``, so
a name with fewer than five dots is tried under each of them before it is tried as given:

>>> conf = ResolvConf.for_pod("default")
>>> print(conf.to_text())
search default.svc.cluster.local svc.cluster.local cluster.local
nameserver 10.96.0.10
options ndots:5
>>> for name in search_candidates("api.example.com", conf):
...     print(name)
api.example.com.default.svc.cluster.local.
api.example.com.svc.cluster.local.
api.example.com.cluster.local.
api.example.com.
>>> search_candidates("api.example.com.", conf)
['api.example.com.']
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

MAXNS = 3
"""glibc uses at most three nameservers (``MAXNS``)."""
MAX_NDOTS, MAX_TIMEOUT, MAX_ATTEMPTS = 15, 30, 5
"""Caps glibc puts on ``ndots``, ``timeout`` and ``attempts`` (``RES_MAXNDOTS`` …)."""

FLAG_OPTIONS = (
    "inet6",
    "rotate",
    "edns0",
    "single-request-reopen",
    "single-request",
    "no_tld_query",
    "no-tld-query",
    "no-reload",
    "use-vc",
    "trust-ad",
)
"""Boolean options glibc knows; matched as prefixes of a word, as glibc's ``strncmp`` does."""


@dataclass
class ResolvConf:
    """The settings glibc's stub resolver takes from ``/etc/resolv.conf``."""

    nameservers: list[str] = field(default_factory=lambda: ["127.0.0.1"])
    search: list[str] = field(default_factory=list)
    ndots: int = 1
    timeout: int = 5
    attempts: int = 2
    flags: set[str] = field(default_factory=set)

    @classmethod
    def for_pod(
        cls,
        namespace: str,
        zone: str = "cluster.local",
        nameserver: str = "10.96.0.10",
        host_search: list[str] | None = None,
        ndots: int = 5,
    ) -> ResolvConf:
        """The file kubelet writes for a ``ClusterFirst`` Pod in `namespace`."""
        search = [f"{namespace}.svc.{zone}", f"svc.{zone}", zone, *(host_search or [])]
        return cls(nameservers=[nameserver], search=search, ndots=ndots)

    def to_text(self) -> str:
        """The settings as resolv.conf lines."""
        lines = [f"search {' '.join(self.search)}"] if self.search else []
        lines += [f"nameserver {ns}" for ns in self.nameservers]
        options = [f"ndots:{self.ndots}"] if self.ndots != 1 else []
        options += [f"timeout:{self.timeout}"] if self.timeout != 5 else []
        options += [f"attempts:{self.attempts}"] if self.attempts != 2 else []
        options += sorted(self.flags)
        if options:
            lines.append(f"options {' '.join(options)}")
        return "\n".join(lines)


def _keyword(line: str, word: str) -> str | None:
    """The rest of `line` if it starts with `word` and a blank (glibc's ``MATCH``)."""
    if line.startswith(word) and line[len(word) : len(word) + 1] in (" ", "\t"):
        return line[len(word) :].strip(" \t")
    return None


def _atoi(text: str) -> int:
    """C's ``atoi``: leading digits, 0 if none."""
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return int(digits or 0)


def parse_resolv_conf(text: str) -> ResolvConf:
    """Read resolv.conf text the way glibc's ``res_init`` does.

    The last ``search`` or ``domain`` line wins; unparsable nameservers are skipped and at
    most three are used; unknown lines and options are ignored; numbers are capped.

    >>> conf = parse_resolv_conf('''
    ... # a comment
    ... domain corp.example
    ... search a.example b.example
    ... nameserver 10.0.0.1
    ... nameserver not-an-ip
    ... options ndots:20 timeout:2 rotate
    ... ''')
    >>> conf.search, conf.nameservers, conf.ndots, conf.timeout, sorted(conf.flags)
    (['a.example', 'b.example'], ['10.0.0.1'], 15, 2, ['rotate'])
    >>> parse_resolv_conf("").nameservers
    ['127.0.0.1']
    """
    conf = ResolvConf(nameservers=[])
    for raw in text.splitlines():
        line = raw.rstrip("\n")
        if line.startswith((";", "#")):
            continue
        if (rest := _keyword(line, "domain")) is not None:
            if rest:
                conf.search = [rest.split()[0]]
        elif (rest := _keyword(line, "search")) is not None:
            if rest:
                conf.search = rest.split()
        elif (rest := _keyword(line, "nameserver")) is not None:
            address = rest.split()[0].split("%")[0] if rest else ""
            try:
                ipaddress.ip_address(address)
            except ValueError:
                continue
            conf.nameservers.append(address)
        elif (rest := _keyword(line, "options")) is not None:
            _set_options(conf, rest.split())
    # glibc keeps only MAXNS servers and falls back to the local one when none is given.
    conf.nameservers = conf.nameservers[:MAXNS] or ["127.0.0.1"]
    return conf


def _set_options(conf: ResolvConf, words: list[str]) -> None:
    for word in words:
        if word.startswith("ndots:"):
            conf.ndots = min(_atoi(word[6:]), MAX_NDOTS)
        elif word.startswith("timeout:"):
            conf.timeout = min(_atoi(word[8:]), MAX_TIMEOUT)
        elif word.startswith("attempts:"):
            conf.attempts = min(_atoi(word[9:]), MAX_ATTEMPTS)
        else:
            known = next((flag for flag in FLAG_OPTIONS if word.startswith(flag)), None)
            if known:
                conf.flags.add(known.replace("_", "-"))


ANSWER, NXDOMAIN, NODATA, SERVFAIL, OTHER = "answer", "nxdomain", "nodata", "servfail", "other"
"""Verdicts on one candidate name, as glibc's ``h_errno`` sorts them."""


def run_search(name: str, conf: ResolvConf, ask: Callable[[str], str]) -> str | None:
    """Walk glibc's ``res_search`` order, calling ``ask(candidate)`` for a verdict each time;
    return the candidate that got an answer, or None.

    With at least ``ndots`` dots the name is tried as given first; a trailing dot means only
    as given. NXDOMAIN, NODATA and SERVFAIL move on to the next search domain; any other
    failure ends the search list, and the name as given is still tried if it was not yet.
    """
    dots = name.count(".")
    as_is = name if name.endswith(".") else f"{name}."
    tried_as_is = root_on_list = False
    if dots >= conf.ndots or name.endswith("."):
        if ask(as_is) == ANSWER:
            return as_is
        if name.endswith("."):
            return None
        tried_as_is = True
    for domain in conf.search:
        domain = domain.removeprefix(".").rstrip(".")
        # An empty entry is the root: glibc asks the bare name there and not again at the end.
        root_on_list = root_on_list or not domain
        candidate = f"{name}.{domain}." if domain else as_is
        verdict = ask(candidate)
        if verdict == ANSWER:
            return candidate
        if verdict not in (NXDOMAIN, NODATA, SERVFAIL):
            break
    bare_allowed = dots or not conf.search or "no-tld-query" not in conf.flags
    if not (tried_as_is or root_on_list) and bare_allowed and ask(as_is) == ANSWER:
        return as_is
    return None


def search_candidates(name: str, conf: ResolvConf) -> list[str]:
    """Every absolute name glibc tries for `name`, in order, when each gets NXDOMAIN.

    >>> conf = ResolvConf(search=["corp.example"], ndots=1)
    >>> search_candidates("www.example.com", conf)
    ['www.example.com.', 'www.example.com.corp.example.']
    >>> search_candidates("intranet", conf)
    ['intranet.corp.example.', 'intranet.']
    """
    asked: list[str] = []

    def ask(candidate: str) -> str:
        asked.append(candidate)
        return NXDOMAIN

    run_search(name, conf, ask)
    return asked


def query_plan(name: str, conf: ResolvConf, families: str = "AF_UNSPEC") -> list[tuple[str, str]]:
    """(name, type) of every query ``getaddrinfo`` sends for `name` when nothing answers.

    AF_UNSPEC asks A and AAAA for each candidate (in parallel, A first); AF_INET only A.

    >>> len(query_plan("api.example.com", ResolvConf.for_pod("default")))
    8
    >>> query_plan("db.", ResolvConf.for_pod("default"), "AF_INET")
    [('db.', 'A')]
    """
    types = {"AF_UNSPEC": ("A", "AAAA"), "AF_INET": ("A",), "AF_INET6": ("AAAA",)}[families]
    return [(candidate, t) for candidate in search_candidates(name, conf) for t in types]
