"""The discrete-event engine and the vectorised clients: ordering, determinism, conservation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from svclab.sim.engine import Engine
from svclab.sim.lifecycle import PodSpan, Timeline
from svclab.sim.rollout import rolling_update
from svclab.sim.traffic import Clients, Discovery, Resolver, simulate

STATIC = Timeline((PodSpan("a", "10.0.0.1"), PodSpan("b", "10.0.0.2"), PodSpan("c", "10.0.0.3")))


def test_engine_runs_events_in_time_order_and_ties_in_scheduling_order():
    engine, seen = Engine(), []
    for name, t in (("late", 3.0), ("tie-1", 1.0), ("early", 0.5), ("tie-2", 1.0)):
        engine.at(t, lambda name=name: seen.append(name))
    engine.run(until=2.0)
    assert seen == ["early", "tie-1", "tie-2"]  # "late" is after `until`
    assert engine.now == 2.0
    with pytest.raises(ValueError):
        engine.at(1.0, lambda: None)  # the past


@pytest.mark.parametrize("reuse", [False, True])
@pytest.mark.parametrize("discovery", list(Discovery))
def test_every_request_is_counted_once(discovery, reuse):
    group = Clients(discovery, Resolver.HONOUR_TTL, reuse, count=17, rate=7.0, ttl=3.0)
    (r,) = simulate(rolling_update(), [group], until=40.0, seed=3)
    assert r.requests == 17 * 7 * 40  # each client's grid has exactly rate x duration points
    assert r.ok.sum() == r.load.sum()  # every success landed on a Pod


def test_same_seed_same_result_other_seed_other_draws():
    group = Clients(Discovery.CLUSTER_IP, count=20)
    a, b, c = (simulate(STATIC, [group], until=10.0, seed=s)[0] for s in (5, 5, 6))
    assert np.array_equal(a.load, b.load)
    assert not np.array_equal(a.load, c.load)


def test_clusterip_spreads_new_connections_evenly():
    (r,) = simulate(
        STATIC, [Clients(Discovery.CLUSTER_IP, count=100, rate=10.0)], until=30.0, seed=1
    )
    share = r.load.sum(axis=0) / r.ok.sum()
    assert np.allclose(share, 1 / 3, atol=0.02)  # 30,000 draws: 3 sigma is under 1 %


def test_ttl_zero_queries_once_per_request_and_ttl_bounds_queries():
    zero, five = simulate(
        STATIC,
        [
            Clients(Discovery.DNS, ttl=0.0, count=10, rate=4.0),
            Clients(Discovery.DNS, ttl=5.0, count=10, rate=4.0),
        ],
        until=20.0,
    )
    assert zero.dns_queries.sum() == zero.requests
    assert 10 * 20 / 5 - 10 <= five.dns_queries.sum() <= 10 * 20 / 5 + 10


def test_a_gone_pod_is_never_served_and_a_ready_one_is():
    tl = Timeline((PodSpan("a", "10.0.0.1", terminating=5.0, gone=5.0), PodSpan("b", "10.0.0.2")))
    (r,) = simulate(tl, [Clients(Discovery.DNS, Resolver.RESOLVE_ONCE, count=30)], until=20.0)
    assert r.load[6:, 0].sum() == 0
    assert r.load[6:, 1].sum() > 0


def test_rollout_replaces_every_pod_with_new_ips_from_the_cluster_controller():
    tl = rolling_update(replicas=3, start=10.0, ready_after=5.0, drain=2)
    old = [p for p in tl.pods if p.ready == 0.0]
    new = [p for p in tl.pods if p.ready > 0.0]
    assert len(old) == len(new) == 3
    assert {p.ip for p in old}.isdisjoint(p.ip for p in new)
    assert all(p.gone == p.terminating + 2 for p in old)
    # maxSurge 1 / maxUnavailable 0 (25 % of 3): never fewer than 3 ready endpoints
    for t in np.arange(0.0, 40.0, 0.5):
        assert len(tl.ready_at(float(t))) >= 3
    assert all(math.isinf(p.terminating) for p in new)
