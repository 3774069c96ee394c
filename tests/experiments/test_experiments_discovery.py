"""The env-limits and headless-clients experiments: the claims their figures' captions make."""

from __future__ import annotations

import pytest

from svclab import experiments
from svclab.cluster.envsize import exec_limit


@pytest.fixture(scope="module")
def limits():
    return experiments.run("env-limits", counts=(10, 1000, 10_000), repeats=3)


def test_services_add_eight_variables_each_unless_links_are_off(limits) -> None:
    for row in limits.where(links=True):
        assert row["variables"] == 8 * (row["services"] + 1)
    off = limits.where(links=False)
    assert len({(row["variables"], row["env_bytes"]) for row in off}) == 1
    assert all(row["starts"] for row in off)


def test_only_environments_over_the_limit_fail_to_start(limits) -> None:
    for row in limits.rows:
        assert row["starts"] == (row["exec_bytes"] <= exec_limit())
        assert (row["shell_ms"] is None) == (not row["starts"])
    threshold = limits.data["threshold"]
    failing = [row["services"] for row in limits.where(links=True, starts=False)]
    if threshold is None:
        assert failing == []
    else:
        assert failing and min(failing) >= threshold.services
        near = max(row["services"] for row in limits.where(links=True, starts=True))
        assert near < threshold.services


def test_the_shell_starts_slower_as_the_environment_grows(limits) -> None:
    timed = [row for row in limits.where(links=True) if row["shell_ms"] is not None]
    assert timed[-1]["shell_ms"] > 5 * max(timed[0]["shell_ms"], 0.5)


def test_figures_draw_in_both_languages(limits) -> None:
    for lang in ("en", "zh_CN"):
        assert limits.figure(lang)._repr_png_()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def clients():
    return experiments.run("headless-clients", requests=100)


def test_a_kept_connection_through_the_cluster_ip_stays_on_one_pod(clients) -> None:
    for phase in ("before", "after"):
        row = clients.one(client="clusterip", phase=phase)
        assert row["pods_reached"] == 1 and row["top_pod_pct"] == 100
        assert row["new_pod_requests"] == 0 or phase == "before"


def test_per_request_round_robin_over_headless_answers_spreads_evenly(clients) -> None:
    for name in ("headless-once", "headless-refresh"):
        per_pod = clients.one(client=name, phase="before")["per_pod"][:3]
        assert max(per_pod) - min(per_pod) <= 1


def test_only_the_client_that_resolves_again_finds_the_new_pod(clients) -> None:
    assert clients.one(client="headless-once", phase="after")["new_pod_requests"] == 0
    refreshed = clients.one(client="headless-refresh", phase="after")
    assert refreshed["pods_reached"] == 4 and 0 < refreshed["new_pod_requests"] < 100 / 4
    assert clients.one(client="clusterip", phase="after")["new_pod_requests"] == 0


def test_real_request_counts_are_bounded() -> None:
    with pytest.raises(ValueError, match="requests 1-5000"):
        experiments.run("headless-clients", requests=10_000)
