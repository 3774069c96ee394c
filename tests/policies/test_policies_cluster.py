"""The traffic-policies model cluster, and what each policy does to connections entering each
node, measured through each node's own iptables rules."""

from __future__ import annotations

import pytest

from svclab.api.manifests import to_manifest_dict
from svclab.experiments.policy_affinity import affinity_rules, stickiness
from svclab.experiments.policy_cluster import (
    controller_slices,
    load,
    rollout_on,
    without_pods_in,
)
from svclab.experiments.policy_health import balance
from svclab.experiments.policy_paths import CASES, Lab, grid, split_rows


@pytest.fixture(scope="module")
def lab() -> Lab:
    return Lab.of(load())


def test_manifest_slices_are_what_the_controller_writes() -> None:
    state = load()
    stored = sorted((to_manifest_dict(s) for s in state.endpoint_slices), key=str)
    written = sorted((to_manifest_dict(s) for s in controller_slices(state)), key=str)
    assert stored == written
    zones = {len({n.metadata.labels["topology.kubernetes.io/zone"] for n in state.nodes})}
    assert len(state.nodes) >= 3 and zones == {2}


@pytest.mark.parametrize("via", ["lb", "nodeport"])
def test_external_cluster_spreads_and_snats_local_keeps_the_client_or_drops(
    lab: Lab, via: str
) -> None:
    for node in ("node-1", "node-2", "node-3"):
        spread = lab.split("etp-cluster", node, 900, via=via)
        assert set(spread.shares) == {"web-1", "web-2", "web-3"}
        assert all(25 < share < 42 for share in spread.shares.values())
        assert spread.client_ip_kept_pct == 0.0  # every connection masqueraded
    assert lab.split("etp-local", "node-1", 100, via=via).shares == {"web-1": 100.0}
    local2 = lab.split("etp-local", "node-2", 400, via=via)
    assert set(local2.shares) == {"web-2", "web-3"} and local2.client_ip_kept_pct == 100.0
    assert lab.split("etp-local", "node-3", 100, via=via).dropped_pct == 100.0


def test_internal_local_drops_on_the_node_without_endpoints(lab: Lab) -> None:
    assert lab.split("itp-local", "node-3", 100).dropped_pct == 100.0
    assert lab.split("itp-local", "node-2", 100).same_zone_pct == 100.0
    assert len(lab.split("itp-cluster", "node-3", 300).shares) == 3


def test_terminating_local_endpoint_still_serves_during_a_rollout() -> None:
    rolling = Lab.of(rollout_on(load(), "node-1"))
    split = rolling.split("etp-local", "node-1", 100)
    assert split.shares == {"web-1": 100.0}  # the terminating Pod, not the unready new one
    assert rolling.split("itp-local", "node-1", 100).shares == {"web-1": 100.0}
    conditions = {
        ep.target_ref.name: (ep.conditions.ready, ep.conditions.serving, ep.conditions.terminating)
        for s in rolling.state.endpoint_slices
        if s.metadata.name == "web-local-1"
        for ep in s.endpoints
    }
    assert conditions["web-1"] == (False, True, True)
    assert conditions["web-1-new"] == (False, False, False)


def test_distribution_keeps_traffic_in_zone_and_falls_back_when_the_zone_is_empty(
    lab: Lab,
) -> None:
    for node in ("node-1", "node-2", "node-3"):
        assert lab.split("same-zone", node, 200).same_zone_pct == 100.0
    assert lab.split("same-node", "node-1", 100).shares == {"web-1": 100.0}
    assert lab.split("same-node", "node-3", 100).shares == {"web-1": 100.0}  # zone fallback
    empty = Lab.of(without_pods_in(load(), "zone-a"))
    fallback = empty.split("same-zone", "node-1", 400)
    assert set(fallback.shares) == {"web-2", "web-3"} and fallback.dropped_pct == 0.0


def test_load_balancer_with_health_checks_never_hits_the_empty_node() -> None:
    state = load()
    assert balance(state, "ignore", 300)["dropped"] > 25
    assert balance(state, "healthy", 300)["dropped"] == 0
    weighted = balance(state, "weighted", 600)
    assert all(28 < weighted[pod] < 39 for pod in ("web-1", "web-2", "web-3"))


def test_affinity_sticks_until_the_timeout_then_expires() -> None:
    for mode in ("iptables", "nftables"):
        rows = stickiness(load(), gaps=(10, 10_799, 10_801), clients=60, mode=mode)
        kept = [row["same_pod_pct"] for row in rows]
        assert kept[:2] == [100.0, 100.0] and kept[2] < 60


def test_affinity_rules_per_mode() -> None:
    rules = affinity_rules(load())
    assert any("--rcheck --seconds 10800" in line for line in rules["iptables"])
    assert any("timeout 10800s" in line for line in rules["nftables"])
    assert rules["ipvs"][0].endswith("persistent 10800")


def test_summary_grid_rows_and_figure(lab: Lab) -> None:
    result = grid(lab, list(CASES), 120)
    assert len(result.rows) == len(CASES) * 3
    # what the page's caption says of the figure
    dropped = {(r["case"], r["entry"]) for r in result.rows if r["dropped"] == 100.0}
    assert dropped == {("etp-local", "node-3"), ("itp-local", "node-3")}
    pods = {"web-1", "web-2", "web-3"}
    for row in result.rows:
        reached = {pod for pod in pods if row.get(pod)}
        if row["case"] in ("etp-cluster", "itp-cluster"):
            assert reached == pods
        if row["case"] in ("same-zone", "same-node"):
            zone = lab.node(row["entry"]).zone
            assert {lab.pod_zone[pod] for pod in reached} == {zone}
    for lang in ("en", "zh_CN"):
        texts = [t.get_text() for t in result.figure(lang).axes[0].texts]
        assert ("dropped" if lang == "en" else "丢弃") in texts


def test_split_rows_name_the_source_seen(lab: Lab) -> None:
    rows = split_rows(lab, ["etp-cluster", "etp-local"], 60, lang="zh_CN")
    assert {r["source_seen"] for r in rows} == {"节点 IP（SNAT）", "客户端 IP", "—"}


def test_nftables_rules_send_the_connections_to_the_same_places(lab: Lab) -> None:
    nft = Lab.of(load(), mode="nftables")
    for case in CASES:
        for node in ("node-1", "node-2", "node-3"):
            a, b = lab.split(case, node, 60), nft.split(case, node, 60)
            assert set(a.shares) == set(b.shares), (case, node)
            assert (a.dropped_pct, a.client_ip_kept_pct) == (b.dropped_pct, b.client_ip_kept_pct)
