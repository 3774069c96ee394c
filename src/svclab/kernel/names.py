"""Names of everything the kernel lab creates: one prefix per run, so cleanup never guesses.

A run is ``svclab-<pid>-<token>``: the pid tells `svclab kernel cleanup` whether the run that
made a namespace is still alive; the random token keeps two runs of one process apart.

>>> run = RunName(pid=4242, token="a1b2c3")
>>> run.netns("node"), run.link("n0")
('svclab-4242-a1b2c3-node', 'sla1b2c3-n0')
>>> parse_netns("svclab-4242-a1b2c3-pod3")
RunName(pid=4242, token='a1b2c3')
>>> parse_netns("svclab-x-node") is None, parse_netns("kube-node") is None
(True, True)
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field

NETNS_PREFIX = "svclab-"
"""Every network namespace svclab creates starts with this; nothing else is ever touched."""

_NETNS = re.compile(r"^svclab-(\d+)-([0-9a-f]{6})-[a-z0-9]+$")

IFNAMSIZ = 15
"""Longest Linux interface name."""


@dataclass(frozen=True)
class RunName:
    """The unique name of one lab run, and the names it gives its namespaces and links."""

    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: secrets.token_hex(3))

    @property
    def prefix(self) -> str:
        """The prefix of this run's namespaces (and its pod server's process name)."""
        return f"{NETNS_PREFIX}{self.pid}-{self.token}-"

    def netns(self, role: str) -> str:
        """A namespace name for `role` (``node``, ``client``, ``pod0``…)."""
        return f"{self.prefix}{role}"

    def link(self, role: str) -> str:
        """An interface name for `role`, short enough for the kernel (15 characters).

        >>> RunName(1, "abcdef").link("n999")
        'slabcdef-n999'
        """
        name = f"sl{self.token}-{role}"
        if len(name) > IFNAMSIZ:
            raise ValueError(f"interface name {name!r} is longer than {IFNAMSIZ} characters")
        return name


def parse_netns(name: str) -> RunName | None:
    """The run a namespace belongs to, or None if svclab did not name it."""
    match = _NETNS.match(name)
    return RunName(int(match[1]), match[2]) if match else None
