"""Simulated requests per second of the discrete-event engine (goal: 10⁶ requests in < 5 s).

Each case is one client group through a rolling update; the hardest cases are those where
every request is a separate random draw (ClusterIP, new connection per request) or a
separate DNS lookup (TTL 0).
"""

from __future__ import annotations

import time

from svclab.sim.rollout import rolling_update
from svclab.sim.traffic import Clients, Discovery, Resolver, simulate

CASES = [
    (Discovery.CLUSTER_IP, Resolver.HONOUR_TTL, False, 30.0),
    (Discovery.CLUSTER_IP, Resolver.HONOUR_TTL, True, 30.0),
    (Discovery.DNS, Resolver.HONOUR_TTL, False, 5.0),
    (Discovery.DNS, Resolver.HONOUR_TTL, False, 0.0),
    (Discovery.DNS, Resolver.RESOLVE_ONCE, True, 30.0),
]


def run(quick: bool = False) -> list[dict]:
    """One row per case: requests simulated, seconds taken, requests per second."""
    clients, duration = (100, 100.0) if quick else (1000, 100.0)  # x 10 req/s = 10^6 requests
    timeline = rolling_update(replicas=3)
    rows = []
    for discovery, resolver, reuse, ttl in CASES:
        group = Clients(discovery, resolver, reuse, count=clients, rate=10.0, ttl=ttl)
        started = time.perf_counter()
        (result,) = simulate(timeline, [group], until=duration, seed=1)
        seconds = time.perf_counter() - started
        rows.append(
            {
                "case": f"{group.label} ttl={ttl:g}",
                "requests": result.requests,
                "seconds": round(seconds, 3),
                "requests_per_s": int(result.requests / seconds),
            }
        )
    return rows


def main() -> None:
    """Print the table."""
    from svclab.report.tables import format_table

    print(format_table(run()))


if __name__ == "__main__":
    main()
