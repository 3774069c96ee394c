"""Invariants of the traffic-policy and session-affinity experiments (built on rendered rules).

Expectations follow upstream kube-proxy: `pkg/proxy/iptables/proxier.go` (KUBE-EXT masquerade
for ETP Cluster, KUBE-SVL for Local, "has no local endpoints" DROP), the flow tests
`TestExternalTrafficPolicyLocal` / `TestInternalTrafficPolicy` in `proxier_test.go`,
`pkg/proxy/healthcheck/service_health.go` (503 without local ready endpoints),
`pkg/proxy/topology.go` (zone hints) and the ``recent`` affinity rules (`TestSessionAffinity`).
"""

from __future__ import annotations

import io

import pytest

from svclab.experiments import session_affinity, traffic_policy


@pytest.fixture(scope="module")
def policies():
    return traffic_policy.run(connections=1200, seed=3)


@pytest.fixture(scope="module")
def pods_view():
    return traffic_policy.run(connections=1200, seed=3, view="pods")


def test_etp_local_keeps_client_ip_and_never_masquerades_external_traffic(policies):
    for case in ("ETP Local", "ETP Local, no health check"):
        outcomes = policies.data["outcomes"][case]
        delivered = [m for m in outcomes if m.pod is not None]
        assert delivered and not any(m.masquerade for m in delivered)
        # ...and never leaves the node it entered
        where = {ip: n.name for n in policies.data["nodes"] for ip in n.pods}
        assert all(where[m.pod] == m.entry.name for m in delivered)
        assert policies.one(case=case)["client_ip_kept_pct"] == 100.0


def test_etp_cluster_spreads_evenly_over_pods_but_masquerades(policies, pods_view):
    row = policies.one(case="ETP Cluster")
    assert row["client_ip_kept_pct"] == 0.0 and row["dropped_pct"] == 0.0
    shares = [r["share_pct"] for r in pods_view.where(case="ETP Cluster")]
    assert all(abs(s - 100 / 3) < 5 for s in shares), shares  # 1200 draws: 3 sigma < 4 %
    # 1/3 of connections enter each node: 2/3 of node-1's, 1/3 of node-2's, all of node-3's
    # go to a Pod on another node
    assert abs(row["extra_hop_pct"] - 100 * 2 / 3) < 5


def test_etp_local_with_health_checks_skips_the_empty_node_and_follows_node_counts(
    policies, pods_view
):
    nodes = traffic_policy.run(connections=1, view="nodes")
    assert [(r["pods"], r["health_check"]) for r in nodes.rows] == [(1, 200), (2, 200), (0, 503)]
    row = policies.one(case="ETP Local")
    assert row["entry_nodes"] == 2 and row["dropped_pct"] == 0.0
    # the balancer halves traffic between two nodes: the lone Pod gets 50 %, the pair 25 % each
    shares = {r["node"]: r["share_pct"] for r in pods_view.where(case="ETP Local")}
    assert shares["node-1"] == 50.0
    assert [r["share_pct"] for r in pods_view.where(case="ETP Local", node="node-2")] == (
        pytest.approx([25, 25], abs=5)
    )


def test_etp_local_without_health_checks_drops_what_reaches_the_empty_node(policies):
    row = policies.one(case="ETP Local, no health check")
    assert row["dropped_pct"] == pytest.approx(100 / 3, abs=0.01)
    refused = [m for m in policies.data["outcomes"]["ETP Local, no health check"] if m.pod is None]
    assert {m.entry.name for m in refused} == {"node-3"} and {m.verdict for m in refused} == {
        "DROP"
    }


def test_itp_local_with_no_local_endpoint_drops(policies):
    outcomes = policies.data["outcomes"]["ITP Local"]
    from_empty = [m for m in outcomes if m.entry.name == "node-3"]
    assert from_empty and {m.verdict for m in from_empty} == {"DROP"}
    assert all(m.pod is not None for m in outcomes if m.entry.name != "node-3")
    assert policies.one(case="ITP Local")["extra_hop_pct"] == 0.0
    assert policies.one(case="ITP Cluster")["dropped_pct"] == 0.0


def test_prefer_close_stays_in_zone_and_overloads_the_pod_two_zones_share(policies, pods_view):
    row = policies.one(case="PreferClose")
    assert row["same_zone_pct"] == 100.0 and row["dropped_pct"] == 0.0
    assert policies.one(case="ITP Cluster")["same_zone_pct"] < 60
    # node-1 and node-3 (zone-a) both send everything to zone-a's single Pod
    assert pods_view.one(case="PreferClose", node="node-1")["share_pct"] == pytest.approx(
        200 / 3, abs=0.01
    )


def test_prefer_close_falls_back_to_every_endpoint_for_a_zone_without_any():
    """topologyModeFromHints: no ready endpoint hinted for this zone → use all endpoints."""
    r = traffic_policy.run(connections=900, zones=("zone-a", "zone-b", "zone-c"), view="pods")
    outcomes = r.data["outcomes"]["PreferClose"]
    from_c = {m.pod for m in outcomes if m.entry.name == "node-3"}
    assert from_c == {ip for n in r.data["nodes"] for ip in n.pods}


def test_traffic_policy_is_deterministic_for_a_seed():
    a, b = (traffic_policy.run(connections=300, seed=9).rows for _ in range(2))
    c = traffic_policy.run(connections=300, seed=10).rows
    assert a == b and a != c


def test_affinity_keeps_a_client_on_one_pod_until_the_timeout():
    r = session_affinity.run(clients=60, gaps=(1.0, 30.0, 59.0, 61.0, 300.0), timeout=60)
    within = [row for row in r.rows if row["idle_s"] < 60]
    beyond = [row for row in r.rows if row["idle_s"] > 60]
    assert all(row["clientip_same_pod_pct"] == 100.0 for row in within)
    # past the timeout the record is stale: back to a random pick among 3 Pods (1/3, 60 draws)
    assert all(row["clientip_same_pod_pct"] < 60 for row in beyond)
    assert all(row["none_same_pod_pct"] < 60 for row in r.rows)


def test_affinity_timeout_comes_from_the_rendered_rules():
    s = session_affinity.sampler(["10.244.0.2", "10.244.1.2"], timeout=42, seed=0)
    assert set(s.timeouts.values()) == {42.0}


def test_rollout_moves_affine_clients_only_when_their_pod_goes_and_skews_load():
    r = session_affinity.run(clients=60, gaps=(), view="rollout", seed=2)
    sticky, none = r.one(affinity="ClientIP"), r.one(affinity="None")
    # each of the 3 Pods is replaced once: an affine client moves at most 3 times
    assert 1 <= sticky["moves_per_client"] <= 3
    assert none["moves_per_client"] > 3 * sticky["moves_per_client"]
    assert sticky["refused"] == none["refused"] == 0
    # the displaced clients pile onto the survivors: the first new Pod ends up busiest
    assert sticky["load_max_min_after"] > 1.5 > none["load_max_min_after"]
    made = r.data["rollout"]["ClientIP"]
    settled = r.data["settled"]
    same = session_affinity.same_as_previous(made)
    # a client learns its Pod is gone at its next connection (within one interval); after
    # that nobody moves again
    later = same[same[:, 0] >= settled + r.data["interval"], 1]
    assert later.size and later.all()


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_policy_figures_draw_in_both_languages(policies, lang):
    small = session_affinity.run(clients=20, gaps=(10.0, 100.0))
    for result in (policies, small):
        fig = result.figure(lang)
        fig.savefig(io.BytesIO(), format="png")
        texts = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
        assert any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t) == (lang == "zh_CN")


def test_unknown_views_are_errors():
    with pytest.raises(ValueError, match="unknown view"):
        traffic_policy.run(view="zones")
    with pytest.raises(ValueError, match="unknown view"):
        session_affinity.run(view="zones")
