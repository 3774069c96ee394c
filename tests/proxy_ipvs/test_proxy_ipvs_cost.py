"""Cost accounting for the scaling lesson: measured by the tracers on generated clusters.

The shapes asserted are the ones kube-proxy's design gives: iptables's KUBE-SERVICES is one rule
per service port, walked in order (pkg/proxy/iptables/proxier.go); nftables dispatches with one
verdict-map lookup (`service-ips`, pkg/proxy/nftables/proxier.go); IPVS finds the virtual server
by hash and its iptables rules are per set, not per Service (pkg/proxy/ipvs/proxier.go).
"""

from __future__ import annotations

import pytest

from svclab.errors import SvclabError
from svclab.proxy.cost import CONFIG, MODES, measure, service_ip, synthetic_state, table
from svclab.proxy.ipvs.render import build


def test_synthetic_state_is_deterministic_and_seeded():
    a, b, c = (
        synthetic_state(4, 3, seed=7),
        synthetic_state(4, 3, seed=7),
        synthetic_state(4, 3, seed=8),
    )
    nodes = [[e.node_name for e in s.endpoints] for s in a.endpoint_slices]
    assert nodes == [[e.node_name for e in s.endpoints] for s in b.endpoint_slices]
    assert nodes != [[e.node_name for e in s.endpoints] for s in c.endpoint_slices]
    addresses = [e.addresses[0] for s in a.endpoint_slices for e in s.endpoints]
    assert len(set(addresses)) == 12  # every endpoint distinct
    assert [s.spec.cluster_ip for s in a.services] == [service_ip(i) for i in range(4)]


def test_iptables_first_packet_cost_grows_with_the_position_of_the_service():
    """Each Service before the target adds one KUBE-SERVICES rule to the walk. (The tracer
    reports the probability-weighted cost rounded to an integer, hence the ±1.)"""
    costs = [measure("iptables", 40, 2, target=i)["first_packet"] for i in (0, 10, 20, 39)]
    assert costs == sorted(costs)
    assert abs((costs[3] - costs[0]) - 39) <= 1
    assert abs((costs[2] - costs[1]) - 10) <= 1


@pytest.mark.parametrize("mode", ["nftables", "ipvs"])
def test_first_packet_cost_is_flat_outside_iptables(mode: str):
    """nftables (verdict map) and IPVS (hash table) cost the same for 5 or 60 Services."""
    small, large = measure(mode, 5, 2), measure(mode, 60, 2)
    assert small["first_packet"] == large["first_packet"]
    assert small["lookups"] == large["lookups"]
    assert small["verdict"] == large["verdict"] == "DNAT"


def test_rule_set_size_is_linear_in_services_and_endpoints():
    """Doubling Services doubles the per-Service part of the rule set."""
    for mode in ("iptables", "nftables"):
        s1, s2, s4 = (measure(mode, n, 3)["size"] for n in (10, 20, 40))
        assert s4 - s2 == 2 * (s2 - s1) > 0, mode
    more_endpoints = [measure("iptables", 10, e)["rules"] for e in (1, 2, 3)]
    assert more_endpoints[2] - more_endpoints[1] == more_endpoints[1] - more_endpoints[0] > 0


def test_ipvs_size_is_linear_apart_from_hairpin_entries():
    """IPVS: one virtual server, its real servers and set members per Service; KUBE-LOOP-BACK
    holds only the endpoints that happen to be on this node (random placement), so leave it out."""

    def size(n: int) -> int:
        built = build(synthetic_state(n, 3), CONFIG)
        loop_back = len(built.ipset("KUBE-LOOP-BACK").entries)
        return measure("ipvs", n, 3)["size"] - loop_back

    s1, s2, s4 = size(10), size(20), size(40)
    assert s4 - s2 == 2 * (s2 - s1) > 0


def test_ipvs_iptables_rules_do_not_grow_with_services():
    assert measure("ipvs", 5, 2)["rules"] == measure("ipvs", 50, 2)["rules"]


def test_table_has_every_mode_and_size():
    rows = table((3, 6), 1)
    assert [(r["mode"], r["services"]) for r in rows] == [(m, n) for m in MODES for n in (3, 6)]


def test_bad_arguments():
    with pytest.raises(SvclabError):
        measure("ebpf", 3, 1)
    with pytest.raises(ValueError):
        measure("iptables", 0, 1)
