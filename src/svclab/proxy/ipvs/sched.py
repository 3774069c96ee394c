"""IPVS schedulers, simulated: the real server each new connection gets (rr, wrr, lc, sh, …).

Each follows the kernel's `net/netfilter/ipvs/ip_vs_<name>.c` (a simulation: this kernel has no
IPVS). Destinations are tried in the order given (the kernel's list order; kube-proxy adds them
in Go map order, so on a real node that order is arbitrary). A weight of 0 takes a server out.

Connection counts drive lc/wlc/sed/nq as the kernel counts them: a connection is *active* from
its start for `duration` seconds, then *inactive* for `inactive_seconds` (IPVS's TCP TIME_WAIT
timeout is 2 minutes); the overhead of a server is ``active * 256 + inactive`` (lc, wlc) or
``active + 1`` (sed, nq).

With `persistence` > 0 (kube-proxy's ClientIP affinity: ``persistent <timeout>``), a client IP
keeps its server while its template lives: the template outlives the client's last connection
by `persistence` seconds (simplified from IPVS's template timer, which restarts per connection).

>>> servers = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
>>> conns = [Connection("192.0.2.1", start=i) for i in range(6)]
>>> schedule("rr", servers, conns)
['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']
>>> schedule("wrr", servers, conns, weights=[3, 1, 2])
['10.0.0.1:80', '10.0.0.1:80', '10.0.0.3:80', '10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']
>>> schedule("rr", servers, conns, persistence=10800)[:3]
['10.0.0.1:80', '10.0.0.1:80', '10.0.0.1:80']
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from svclab.errors import ManifestError

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "sed", "nq", "sh")
"""The schedulers simulated here (the kernel also has lblc, lblcr, dh, fo, ovf, mh)."""
INACTIVE_SECONDS = 120.0
"""How long a finished TCP connection still counts as inactive (IPVS TIME_WAIT: 2 minutes)."""
SH_TAB_BITS = 8
"""`IP_VS_SH_TAB_BITS`: the source-hash table has 256 buckets."""
_GOLDEN_RATIO_32 = 0x61C88647  # the kernel's `hash_32` multiplier


@dataclass(frozen=True, slots=True)
class Connection:
    """A new connection: client IP, arrival time and how long it stays open (seconds)."""

    client: str
    start: float = 0.0
    duration: float = 0.0


def hash_32(value: int, bits: int) -> int:
    """The kernel's `hash_32`: multiply by the 32-bit golden ratio, keep the top `bits` bits.

    >>> hash_32(0, 8), hash_32(1, 8)
    (0, 97)
    """
    return ((value * _GOLDEN_RATIO_32) & 0xFFFFFFFF) >> (32 - bits)


def sh_buckets(weights: Sequence[int]) -> list[int | None]:
    """`ip_vs_sh_reassign`: the 256 buckets, each the index of a server (weight w fills w in a row).

    >>> sh_buckets([2, 1])[:6]
    [0, 0, 1, 0, 0, 1]
    """
    if not weights:
        return [None] * (1 << SH_TAB_BITS)
    buckets: list[int | None] = []
    index, filled = 0, 0
    for _ in range(1 << SH_TAB_BITS):
        buckets.append(index)
        filled += 1
        if filled >= weights[index]:  # weight 0 still takes one bucket, as in the kernel
            index, filled = (index + 1) % len(weights), 0
    return buckets


def schedule(
    scheduler: str,
    servers: Sequence[str],
    connections: Iterable[Connection],
    *,
    weights: Sequence[int] | None = None,
    persistence: float = 0,
    inactive_seconds: float = INACTIVE_SECONDS,
) -> list[str | None]:
    """The server (``ip:port``) each connection is sent to, in order; None when none is available.

    Connections must come in order of `start`.

    >>> conns = [Connection("192.0.2.1", start=i, duration=100) for i in range(4)]
    >>> schedule("lc", ["a:1", "b:1"], conns)
    ['a:1', 'b:1', 'a:1', 'b:1']
    >>> schedule("sh", ["a:1", "b:1"], [Connection("192.0.2.7")] * 3)
    ['b:1', 'b:1', 'b:1']
    """
    if scheduler not in SCHEDULERS:
        raise ManifestError(
            "ipvs",
            "",
            "scheduler",
            f"{scheduler!r} is not simulated; choose from {', '.join(SCHEDULERS)}",
        )
    w = list(weights) if weights is not None else [1] * len(servers)
    if len(w) != len(servers):
        raise ManifestError("ipvs", "", "weights", "need one weight per server")
    state = _State(len(servers))
    buckets = sh_buckets(w) if scheduler == "sh" else []
    templates: dict[str, tuple[int, float]] = {}  # client IP -> (server, expiry)
    chosen: list[str | None] = []
    last = -math.inf
    for conn in connections:
        if conn.start < last:
            raise ManifestError("ipvs", "", "connections", "must be sorted by start time")
        last = conn.start
        state.expire(conn.start)
        template = templates.get(conn.client)
        if persistence and template and template[1] > conn.start and w[template[0]] > 0:
            pick: int | None = template[0]
        elif scheduler == "sh":
            pick = _sh(buckets, w, conn.client)
        else:
            pick = _PICKERS[scheduler](state, w)
        if pick is None:
            chosen.append(None)
            continue
        end = conn.start + conn.duration
        state.open(pick, end, end + inactive_seconds)
        if persistence:
            previous = templates[conn.client][1] if conn.client in templates else -math.inf
            templates[conn.client] = (pick, max(previous, end + persistence))
        chosen.append(servers[pick])
    return chosen


class _State:
    """Per-server connection lists and the round-robin / weighted round-robin positions."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.active: list[list[float]] = [[] for _ in range(n)]  # end times
        self.inactive: list[list[float]] = [[] for _ in range(n)]  # expiry times
        self.last = -1  # rr: the server picked last (the list head before any)
        self.cw = 0  # wrr: current weight

    def open(self, server: int, end: float, expiry: float) -> None:
        self.active[server].append(end)
        self.inactive[server].append(expiry)

    def expire(self, now: float) -> None:
        for i in range(self.n):
            self.active[i] = [t for t in self.active[i] if t > now]
            self.inactive[i] = [t for t in self.inactive[i] if t > now]

    def counts(self, i: int) -> tuple[int, int]:
        """(active, inactive) connections of server `i`."""
        active = len(self.active[i])
        return active, len(self.inactive[i]) - active


def _rr(state: _State, w: list[int]) -> int | None:
    """`ip_vs_rr_schedule`: the next server after the last one, skipping weight 0."""
    for step in range(1, state.n + 1):
        i = (state.last + step) % state.n
        if w[i] > 0:
            state.last = i
            return i
    return None


def _wrr(state: _State, w: list[int]) -> int | None:
    """`ip_vs_wrr_schedule`: weighted round-robin stepping the current weight down by the gcd."""
    top = max(w, default=0)
    if top <= 0:
        return None
    step = math.gcd(*w)
    for _ in range(state.n * (top // step + 1)):
        state.last = (state.last + 1) % state.n
        if state.last == 0:
            state.cw -= step
            if state.cw <= 0:
                state.cw = top
        if w[state.last] >= state.cw:
            return state.last
    return None


def _least(state: _State, w: list[int], overhead: str, idle_first: bool = False) -> int | None:
    """wlc, sed and nq (and lc with unit weights): least overhead per weight, first on ties.

    The kernel compares ``overhead_a * weight_b`` with ``overhead_b * weight_a`` (no division).
    """
    best: int | None = None
    best_overhead = 0
    for i in range(state.n):
        if w[i] <= 0:
            continue
        active, inactive = state.counts(i)
        if idle_first and active == 0:
            return i  # nq: an idle server is taken at once
        cost = (active << 8) + inactive if overhead == "conns" else active + 1
        if best is None or cost * w[best] < best_overhead * w[i]:
            best, best_overhead = i, cost
    return best


def _lc(state: _State, w: list[int]) -> int | None:
    """`ip_vs_lc_schedule`: least (active * 256 + inactive), weights only exclude (0)."""
    return _least(state, [1 if x > 0 else 0 for x in w], "conns")


def _sh(buckets: list[int | None], w: list[int], client: str) -> int | None:
    """`ip_vs_sh_schedule`: the bucket of the client's address; no fallback (weight 0 → none)."""
    pick = buckets[hash_32(int(ipaddress.ip_address(client)), SH_TAB_BITS)]
    return pick if pick is not None and w[pick] > 0 else None


_PICKERS = {
    "rr": _rr,
    "wrr": _wrr,
    "lc": _lc,
    "wlc": lambda s, w: _least(s, w, "conns"),
    "sed": lambda s, w: _least(s, w, "sed"),
    "nq": lambda s, w: _least(s, w, "sed", idle_first=True),
}
