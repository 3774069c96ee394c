"""How often a hand-picked ClusterIP or NodePort is already taken, with and without the static band.

A cluster has allocated some share of its range automatically; then someone creates a
Service with a ``clusterIP`` or ``nodePort`` chosen by hand from the bottom of the range (the
static band of KEP-3070 and KEP-3668). Each run fills a fresh allocator, with its own seed,
and tries several picks at each fill level; a pick collides when the value is already taken.

>>> rows = collision_rates("NodePort", fills=(0.5,), runs=4, picks=10)
>>> [(r["banded"], r["fill_pct"], r["trials"], r["collisions"]) for r in rows]
[(True, 50, 40, 0), (False, 50, 40, 14)]
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence

from matplotlib.figure import Figure

from svclab.cluster.allocators import (
    ClusterIPAllocator,
    NodePortAllocator,
    cluster_ip_offset,
    node_port_offset,
)
from svclab.report.result import Result, say

KINDS = ("ClusterIP", "NodePort")
SERVICE_CIDR = "10.96.0.0/22"
"""A small service CIDR (1,022 addresses, a static band of 64) so that filling it takes
milliseconds; the rates depend on how full the range is, not on its size."""
NODE_PORT_RANGE = "30000-32767"
FILLS = (0.1, 0.5, 0.8, 0.9, 0.95, 0.98, 0.99)
"""Shares of the range allocated automatically before the hand-picked value is tried."""


def _allocator(kind: str, seed: int, banded: bool) -> ClusterIPAllocator | NodePortAllocator:
    if kind == "ClusterIP":
        return ClusterIPAllocator(SERVICE_CIDR, seed, banded=banded)
    if kind == "NodePort":
        return NodePortAllocator(NODE_PORT_RANGE, seed, banded=banded)
    raise ValueError(f"unknown kind {kind!r}; choose from {', '.join(KINDS)}")


def hand_picked_values(kind: str) -> list[str] | list[int]:
    """The values someone choosing by hand takes from: the bottom of the range, as large as the
    static band (the same values whether or not the allocator keeps the band free).

    >>> picks = hand_picked_values("NodePort")
    >>> picks[0], picks[-1], len(picks)
    (30000, 30085, 86)
    >>> hand_picked_values("ClusterIP")[:2], len(hand_picked_values("ClusterIP"))
    (['10.96.0.1', '10.96.0.2'], 64)
    """
    if kind == "NodePort":
        ports = NodePortAllocator(NODE_PORT_RANGE)
        return list(range(ports.first, ports.first + node_port_offset(ports.size)))
    network = ipaddress.ip_network(SERVICE_CIDR)
    first = int(network.network_address) + 1
    count = cluster_ip_offset(network.num_addresses)
    return [str(ipaddress.ip_address(first + i)) for i in range(count)]


_BAND_COLUMNS = {
    "range": {"en": "range", "zh_CN": "范围"},
    "size": {"en": "values", "zh_CN": "可分配数"},
    "band": {"en": "static band", "zh_CN": "静态段"},
    "offset": {"en": "band size", "zh_CN": "静态段大小"},
}


def band_sizes(
    cidrs: Sequence[str] = ("10.96.0.0/12", "10.96.0.0/16", "10.96.0.0/24", "10.96.0.0/28"),
    port_ranges: Sequence[str] = ("30000-32767",),
    lang: str = "en",
) -> list[dict]:
    """The static band of service CIDRs and NodePort ranges, read from the allocators.

    >>> [row["band size"] for row in band_sizes()]
    [256, 256, 16, 0, 86]
    """
    allocators = [ClusterIPAllocator(c) for c in cidrs] + [
        NodePortAllocator(r) for r in port_ranges
    ]
    names = [*cidrs, *port_ranges]
    rows = []
    for name, allocator in zip(names, allocators, strict=True):
        band = allocator.static_band
        values = {
            "range": name,
            "size": allocator.size,
            "band": f"{band[0]} – {band[1]}" if band else "—",
            "offset": allocator.offset,
        }
        rows.append({say(_BAND_COLUMNS[k], lang): v for k, v in values.items()})
    return rows


def collision_rates(
    kind: str,
    fills: Sequence[float] = FILLS,
    *,
    runs: int = 20,
    picks: int = 50,
    seed: int = 0,
) -> list[dict]:
    """One row per (banded, fill): trials, collisions and the collision rate in percent.

    ``banded=True`` rows use the allocator as Kubernetes 1.35 does; ``banded=False`` rows
    allocate anywhere in the range, as before the static band existed.
    """
    if not fills or not all(0 <= f < 1 for f in fills):
        raise ValueError(f"fills must be shares in [0, 1), got {tuple(fills)}")
    choices = hand_picked_values(kind)
    rows = []
    for banded in (True, False):
        collisions = dict.fromkeys(fills, 0)
        for run in range(runs):
            allocator = _allocator(kind, seed + run, banded)
            rng = random.Random(f"{seed}-{run}")
            allocated = 0
            for fill in sorted(fills):
                while allocated < round(fill * allocator.size):
                    allocator.allocate()
                    allocated += 1
                hits = (allocator.is_allocated(v) for v in rng.choices(choices, k=picks))  # type: ignore[arg-type]
                collisions[fill] += sum(hits)
        trials = runs * picks
        rows += [
            {
                "kind": kind,
                "banded": banded,
                "fill_pct": round(100 * fill),
                "trials": trials,
                "collisions": collisions[fill],
                "rate_pct": round(100 * collisions[fill] / trials, 1),
            }
            for fill in fills
        ]
    return rows


def band_fill_limit(kind: str) -> float:
    """The share of the range that can be allocated automatically before the band is touched.

    >>> round(band_fill_limit("NodePort"), 4), round(band_fill_limit("ClusterIP"), 4)
    (0.9689, 0.9374)
    """
    allocator = _allocator(kind, 0, True)
    return (allocator.size - allocator.offset) / allocator.size


_LABELS = {
    "banded": {"en": "with the static band (1.26+ / 1.29+)", "zh_CN": "有静态段（1.26+ / 1.29+）"},
    "plain": {"en": "without the band (random anywhere)", "zh_CN": "无静态段（全范围随机）"},
    "limit": {"en": "upper band full", "zh_CN": "上段（动态段）已满"},
    "x": {"en": "share of the range allocated automatically (%)", "zh_CN": "已自动分配的比例（%）"},
    "y": {"en": "hand-picked values already taken (%)", "zh_CN": "手选值已被占用的比例（%）"},
    "title": {
        "en": "Choosing a ClusterIP or NodePort by hand, from the bottom of the range",
        "zh_CN": "从范围底部手工选择 ClusterIP 或 NodePort",
    },
}


def measure(**kwargs: object) -> Result:
    """`collision_rates` for both kinds, as a `Result` whose figure has one panel per kind."""
    rows = [row for kind in KINDS for row in collision_rates(kind, **kwargs)]  # type: ignore[arg-type]
    return Result("static-band-collisions", rows, draw=_draw)


def _draw(result: Result, fig: Figure, lang: str) -> None:
    axes = fig.subplots(1, len(KINDS), sharey=True)
    for ax, kind in zip(axes, KINDS, strict=True):
        for banded, key, style in ((True, "banded", "-o"), (False, "plain", "--s")):
            rows = [r for r in result.rows if r["kind"] == kind and r["banded"] is banded]
            ax.plot(
                [r["fill_pct"] for r in rows],
                [r["rate_pct"] for r in rows],
                style,
                label=say(_LABELS[key], lang),
            )
        ax.axvline(
            100 * band_fill_limit(kind),
            color="grey",
            linestyle=":",
            label=say(_LABELS["limit"], lang),
        )
        ax.set_title(kind)
        ax.set_xlabel(say(_LABELS["x"], lang))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(say(_LABELS["y"], lang))
    axes[0].legend(loc="upper left", fontsize=8)
    fig.suptitle(say(_LABELS["title"], lang))
