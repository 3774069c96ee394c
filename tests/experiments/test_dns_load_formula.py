"""The formula the DNS page gives for reason 3 agrees with what the experiment measures."""

from __future__ import annotations

import math

import pytest

from svclab.experiments import dns_load

RATE, DURATION, NODES = 5.0, 60.0, 10


@pytest.fixture(scope="module")
def measured() -> list[dict]:
    return dns_load.run(rate=RATE, duration=DURATION, nodes=NODES).rows


def test_direct_load_is_clients_times_rate_over_requests_per_ttl(measured: list[dict]) -> None:
    """Counted queries match the formula within three standard deviations of sampling noise
    (caches start warm at a random age) and 3 % (a request that lands exactly when a copy
    expires may, in floating point, still find it fresh)."""
    for row in measured:
        expected = dns_load.direct_qps(row["clients"], RATE, row["ttl"]) * DURATION
        counted = row["qps_direct"] * DURATION
        assert abs(counted - expected) <= 0.03 * expected + 3 * math.sqrt(expected) + 1, row


def test_the_page_example_is_clients_over_ttl_not_times_rate(measured: list[dict]) -> None:
    """1000 clients at 5 requests/s with a 30 s TTL: about 33 queries/s, not 1000 × 5 ÷ 30."""
    row = next(r for r in measured if r["clients"] == 1000 and r["ttl"] == 30.0)
    assert row["qps_direct"] == pytest.approx(1000 / 30, rel=0.05)
    assert row["qps_direct"] < 1000 * RATE / 30 / 4


def test_node_caches_never_exceed_their_bound(measured: list[dict]) -> None:
    for row in measured:
        bound = dns_load.node_cache_qps_bound(row["clients"], RATE, row["ttl"], NODES)
        assert row["qps_node_cache"] <= bound * 1.02 + 1 / DURATION, row
    zero = next(r for r in measured if r["clients"] == 1000 and r["ttl"] == 0.0)
    assert zero["qps_node_cache"] == pytest.approx(NODES / dns_load.NODE_CACHE_MIN_TTL, rel=0.05)
