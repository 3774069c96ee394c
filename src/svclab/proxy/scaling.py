"""How each mode's rules grow with the number of Services: the four measures of the scaling lesson.

For every mode and cluster size (`svclab.proxy.cost.synthetic_state`: ClusterIP Services of a
few endpoints each), one row of

- ``written``: rules written (iptables ``-A`` rules; nftables rules plus set and map elements;
  IPVS iptables rules plus ipset members, virtual and real servers) — `svclab.proxy.cost`;
- ``bytes``: the size of the text kube-proxy hands over (``iptables-restore`` input, ``nft -f``
  transaction, IPVS's restore input plus ipsets and ``ipvsadm`` state);
- ``render_s``: seconds svclab takes to render it (fastest of `REPEATS`);
- ``first_packet``: rules and lookups the first packet of a connection to the last Service is
  checked against, counted by the mode's tracer (plus IPVS's hash lookups).

>>> rows = table((10, 20), endpoints_per_service=2)
>>> [(r["mode"], r["services"]) for r in rows][:2]
[('iptables', 10), ('iptables', 20)]
>>> ipt = [r["first_packet"] for r in rows if r["mode"] == "iptables"]
>>> nft = [r["first_packet"] for r in rows if r["mode"] == "nftables"]
>>> ipt[1] > ipt[0], nft[1] == nft[0]
(True, True)
"""

from __future__ import annotations

import time
from collections.abc import Callable

import svclab.proxy.ipvs.render as ipvs
from svclab.api.state import ClusterState
from svclab.proxy import cost
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import render as render_iptables
from svclab.proxy.nftables.render import render as render_nftables

MODES = cost.MODES
SIZES = (10, 100, 1_000, 10_000)
ENDPOINTS = 5
REPEATS = 3
MEASURES = ("written", "bytes", "render_s", "first_packet")
RENDERERS: dict[str, Callable[[ClusterState, ProxyConfig], str]] = {
    "iptables": render_iptables,
    "nftables": render_nftables,
    "ipvs": ipvs.render,
}


def render_time(mode: str, state: ClusterState, repeats: int = REPEATS) -> tuple[float, int]:
    """Seconds of the fastest of `repeats` renders of `state` in `mode`, and the output's bytes."""
    best, size = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        text = RENDERERS[mode](state, cost.CONFIG)
        best = min(best, time.perf_counter() - started)
        size = len(text.encode())
    return best, size


def table(
    sizes: tuple[int, ...] = SIZES,
    endpoints_per_service: int = ENDPOINTS,
    repeats: int = REPEATS,
) -> list[dict]:
    """One row per mode and size with the four `MEASURES`, sorted by mode then size."""
    rows = []
    for n in sizes:
        state = cost.synthetic_state(n, endpoints_per_service)
        counted = {row["mode"]: row for row in cost.table_for(state, endpoints_per_service)}
        for mode in MODES:
            seconds, size = render_time(mode, state, repeats)
            row = counted[mode]
            rows.append(
                {
                    "mode": mode,
                    "services": n,
                    "endpoints": n * endpoints_per_service,
                    "written": row["size"],
                    "bytes": size,
                    "render_s": round(seconds, 4),
                    "first_packet": row["first_packet"] + row["lookups"],
                }
            )
    return sorted(rows, key=lambda row: (MODES.index(row["mode"]), row["services"]))
