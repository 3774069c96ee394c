"""The sampler over rendered iptables rules: probabilities, conntrack, ClientIP affinity and its timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from svclab.api.manifests import load_manifests
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import render
from svclab.proxy.iptables.trace import IPTablesTracer, trace
from svclab.proxy.packet import Packet
from svclab.proxy.sampler import Sampler

DATA = Path(__file__).parent.parent / "data" / "proxy" / "iptables"
CONFIG = ProxyConfig(
    hostname_override="node-a", node_ips=["192.168.0.2"], cluster_cidr="10.0.0.0/8"
)
STICKY, SPREAD = Packet("10.9.0.7", "172.30.0.50", 80), Packet("10.9.0.7", "172.30.0.51", 80)


@pytest.fixture(scope="module")
def rules() -> str:
    return render(ClusterState.from_manifests(load_manifests([DATA / "affinity.yaml"])), CONFIG)


def test_connections_spread_as_the_rules_say(rules):
    """4 endpoints, 4000 connections: each count within 4 standard deviations of 1000."""
    counts = Sampler.for_mode("iptables", rules, CONFIG, seed=7).run(SPREAD, 4000)
    assert sorted(counts) == [f"10.2.0.{i}:8080" for i in range(1, 5)]
    sigma = (4000 * 0.25 * 0.75) ** 0.5
    assert all(abs(c - 1000) < 4 * sigma for c in counts.values()), counts


def test_seed_makes_runs_repeatable(rules):
    runs = [Sampler.for_mode("iptables", rules, CONFIG, seed=3).run(SPREAD, 200) for _ in range(2)]
    assert runs[0] == runs[1]


def test_established_flow_keeps_its_backend(rules):
    """Conntrack: the same 5-tuple is not load-balanced again, even without affinity."""
    sampler = Sampler.for_mode("iptables", rules, CONFIG, seed=1)
    first = sampler.connect(SPREAD, sport=40000)
    assert {sampler.connect(SPREAD, sport=40000).destination for _ in range(200)} == {
        first.destination
    }
    # New source ports are new connections: they spread over all four.
    assert len({sampler.connect(SPREAD, sport=p).destination for p in range(41000, 41200)}) == 4


def test_client_ip_affinity_sticks_within_timeout(rules):
    """`recent --rcheck --seconds 60`: reconnecting every 59 s refreshes the record and sticks."""
    sampler = Sampler.for_mode("iptables", rules, CONFIG, seed=5)
    assert sampler.timeouts and set(sampler.timeouts.values()) == {60.0}
    counts = sampler.run(STICKY, 100, interval=59)
    assert len(counts) == 1


def test_client_ip_affinity_expires(rules):
    """Reconnecting every 61 s finds the record too old: the client is balanced again."""
    counts = Sampler.for_mode("iptables", rules, CONFIG, seed=5).run(STICKY, 100, interval=61)
    assert len(counts) == 3


def test_affinity_is_per_client(rules):
    """Different clients stick to their own backends, so together they cover all three."""
    sampler = Sampler.for_mode("iptables", rules, CONFIG, seed=2)
    clients = [Packet(f"10.9.1.{i}", "172.30.0.50", 80) for i in range(1, 61)]
    sampler.run(clients, 60)
    chosen = {c.src: sampler.connect(c, sport=60000).destination for c in clients}
    assert len(set(chosen.values())) == 3
    again = {c.src: sampler.connect(c, sport=60001).destination for c in clients}
    assert again == chosen


def test_affinity_branch_reported_by_tracer(rules):
    """The tracer names the recent list each branch sets, and honours a fresh one."""
    result = trace(rules, STICKY, CONFIG)
    assert all(
        len(o.affinity) == 1 and o.affinity[0].startswith("KUBE-SEP-") for o in result.outcomes
    )
    name = result.outcomes[1].affinity[0]
    pinned = IPTablesTracer(rules, CONFIG).trace(STICKY, affinity=frozenset({name}))
    assert [o.destination for o in pinned.outcomes] == [result.outcomes[1].destination]
