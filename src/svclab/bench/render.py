"""Rendering time for 10,000 Services × 5 endpoints, per data plane, and its ratio to 1,000 Services.

The clusters come from `svclab.proxy.cost.synthetic_state` (building them is not timed). Each
size is rendered a few times and the fastest run is kept, since other processes share the CPU.
The goal (issue 4): under 2 s for 10,000 Services and linear growth (ratio ≈ 10).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from svclab.api.state import ClusterState
from svclab.proxy import modes
from svclab.proxy.config import ProxyConfig
from svclab.proxy.cost import CONFIG, synthetic_state

ENDPOINTS_PER_SERVICE = 5
BUDGET_SECONDS = 120.0
"""Stop repeating once the benchmark has run this long (a slow machine still finishes)."""


def _fastest(
    render: Callable[[ClusterState, ProxyConfig], str],
    state: ClusterState,
    repeats: int,
    deadline: float,
) -> tuple[float, int]:
    """Seconds of the fastest of up to `repeats` renders (at least one), and the output size."""
    best, size = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        size = len(render(state, CONFIG))
        best = min(best, time.perf_counter() - started)
        if time.perf_counter() > deadline:
            break
    return best, size


def run(quick: bool = False) -> list[dict]:
    """Rows per mode: seconds for the small and large cluster, and large/small."""
    small, large = (100, 1000) if quick else (1000, 10000)
    deadline = time.perf_counter() + BUDGET_SECONDS
    states = {n: synthetic_state(n, ENDPOINTS_PER_SERVICE) for n in (small, large)}
    rows = []
    for mode in modes.MODES:
        small_s, _ = _fastest(mode.render, states[small], 5, deadline)
        large_s, size = _fastest(mode.render, states[large], 3, deadline)
        rows.append(
            {
                "mode": mode.name,
                "services": large,
                "endpoints": large * ENDPOINTS_PER_SERVICE,
                "seconds": round(large_s, 3),
                f"seconds_{small}": round(small_s, 3),
                "ratio": round(large_s / small_s, 2),
                "output_mb": round(size / 1e6, 1),
                "under_2s": large_s < 2.0,
            }
        )
    return rows


def main() -> None:
    """Print the table (``--quick`` for 100 vs 1,000 Services)."""
    from svclab.report.tables import format_table

    print(format_table(run(quick="--quick" in sys.argv[1:])))


if __name__ == "__main__":
    main()
