"""IPVS scheduler simulation, checked against the kernel's algorithms (net/netfilter/ipvs/ip_vs_*.c)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svclab.errors import ManifestError
from svclab.proxy.ipvs.sched import Connection, hash_32, schedule, sh_buckets

SERVERS = ["a:80", "b:80", "c:80"]


def _burst(n: int, client: str = "192.0.2.1", duration: float = 0.0) -> list[Connection]:
    return [Connection(client, start=float(i), duration=duration) for i in range(n)]


@given(n=st.integers(1, 12), rounds=st.integers(1, 6))
def test_rr_is_exactly_even(n: int, rounds: int):
    """ip_vs_rr.c: each server in turn."""
    servers = [f"s{i}:80" for i in range(n)]
    counts = Counter(schedule("rr", servers, _burst(n * rounds)))
    assert set(counts.values()) == {rounds}


@given(weights=st.lists(st.integers(1, 6), min_size=1, max_size=6))
def test_wrr_full_cycle_follows_weights(weights: list[int]):
    """ip_vs_wrr.c: over one full cycle (sum of weights connections) each server gets its weight."""
    servers = [f"s{i}:80" for i in range(len(weights))]
    counts = Counter(schedule("wrr", servers, _burst(sum(weights)), weights=weights))
    assert [counts[s] for s in servers] == weights


def test_weight_zero_takes_a_server_out():
    assert "b:80" not in schedule("rr", SERVERS, _burst(9), weights=[1, 0, 1])
    assert schedule("wlc", SERVERS, _burst(2), weights=[0, 0, 0]) == [None, None]


def test_lc_prefers_the_server_with_fewest_active_connections():
    """ip_vs_lc.c: overhead = active * 256 + inactive; a long connection keeps its server busy."""
    conns = [Connection("192.0.2.1", 0, duration=1000), *_burst(4, duration=0.0)[1:]]
    picks = schedule("lc", SERVERS, conns, inactive_seconds=0)
    assert picks[0] == "a:80"
    assert "a:80" not in picks[1:]  # a holds an active connection the whole time


def test_wlc_uses_weights():
    """ip_vs_wlc.c: least overhead per weight; a weight-3 server takes three times the load."""
    picks = schedule("wlc", ["a:80", "b:80"], _burst(8, duration=1000), weights=[3, 1])
    assert Counter(picks) == {"a:80": 6, "b:80": 2}


def test_nq_takes_an_idle_server_at_once():
    """ip_vs_nq.c: a server with no active connection wins before any overhead comparison."""
    picks = schedule("nq", ["a:80", "b:80"], _burst(2, duration=1000), weights=[10, 1])
    assert picks == ["a:80", "b:80"]
    assert schedule("sed", ["a:80", "b:80"], _burst(2, duration=1000), weights=[10, 1]) == [
        "a:80",
        "a:80",
    ]


def test_sh_is_sticky_per_source_and_spreads_by_bucket():
    """ip_vs_sh.c: hash_32(source) picks one of 256 buckets filled by weight; same source, same server."""
    clients = [f"10.0.{i // 250}.{i % 250}" for i in range(2000)]
    picks = schedule("sh", SERVERS, [Connection(c, float(i)) for i, c in enumerate(clients)])
    again = schedule("sh", SERVERS, [Connection(c, float(i)) for i, c in enumerate(clients)])
    assert picks == again
    bucket_share = Counter(sh_buckets([1, 1, 1]))
    assert bucket_share == {0: 86, 1: 85, 2: 85}
    assert all(count > 400 for count in Counter(picks).values())


def test_hash_32_matches_the_kernel_constant():
    """include/linux/hash.h: hash_32(val, bits) = (val * 0x61C88647) >> (32 - bits)."""
    assert hash_32(1, 32) == 0x61C88647
    assert hash_32(0xFFFFFFFF, 32) == (0xFFFFFFFF * 0x61C88647) & 0xFFFFFFFF


def test_persistence_keeps_a_client_on_its_server_until_the_template_expires():
    """ClientIP affinity = IPVS `persistent <timeout>`: same server while the template lives."""
    conns = [Connection("192.0.2.1", t) for t in (0, 10, 20)] + [Connection("192.0.2.1", 500)]
    picks = schedule("rr", SERVERS, conns, persistence=60)
    assert picks[:3] == ["a:80"] * 3
    assert picks[3] == "b:80"  # 500 s > last use (20 s) + 60 s: a new choice


def test_rejects_unknown_scheduler_and_unsorted_connections():
    with pytest.raises(ManifestError, match="not simulated"):
        schedule("mh", SERVERS, [])
    with pytest.raises(ManifestError, match="sorted"):
        schedule("rr", SERVERS, [Connection("192.0.2.1", 5), Connection("192.0.2.1", 1)])
