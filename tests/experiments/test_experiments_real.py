"""Real-network runs (real DNS server, resolvers, HTTP Pods and userspace proxy on loopback)
agree with the simulator in direction and rough size.

The ndots counts follow glibc's `resolv/res_query.c` search order; the TTL behaviour follows
CoreDNS's `cache` plugin as `svclab.dns.nodelocal` models it (see the MINTTL note below).
"""

from __future__ import annotations

import pytest

from svclab.cli import main
from svclab.errors import SvclabError
from svclab.experiments import dns_load, ndots, rolling_update

SMALL = {"clients": 4, "rate": 2.0, "duration": 60.0, "seed": 3}


@pytest.fixture(scope="module")
def rollouts():
    return rolling_update.run(real=True, **SMALL), rolling_update.run(**SMALL)


def _rows(result, **match):
    return result.one(**match)


def test_real_rollout_resolve_once_dns_fails_for_good_and_clusterip_recovers(rollouts):
    for result in rollouts:  # real first, then simulated: the same claims hold for both
        for reuse in (False, True):
            once = _rows(result, discovery="dns-rr", resolver="resolve-once", reuse=reuse)
            assert once["failed_pct_after_settle"] == 100.0
            assert once["recover_s"] == float("inf")
        for row in result.where(discovery="clusterip"):
            assert row["failed_after_settle"] == 0


def test_real_and_simulated_rollout_agree_in_size():
    """Per group: the same requests, failures within a factor of two (or both under 5 %)."""
    groups = (
        "dns-rr/honour-ttl/new-conn",
        "dns-rr/resolve-once/new-conn",
        "dns-rr/resolve-once/reuse",
        "clusterip/honour-ttl/new-conn",
        "clusterip/resolve-once/reuse",
    )
    options = {**SMALL, "clients": 10, "groups": groups}
    real, sim = rolling_update.run(real=True, **options), rolling_update.run(**options)
    for r, s in zip(real.rows, sim.rows, strict=True):
        assert r["requests"] == s["requests"] == 10 * 2 * 60
        if s["failed_pct"] >= 5:
            assert 0.5 < r["failed_pct"] / s["failed_pct"] < 2, (r, s)
        else:
            assert r["failed_pct"] < 5, (r, s)
        assert abs(r["dns_queries"] - s["dns_queries"]) <= 10


def test_real_rollout_ignoring_the_ttl_fails_more_than_honouring_it(rollouts):
    real, _ = rollouts
    honour = _rows(real, discovery="dns-rr", resolver="honour-ttl", reuse=False)
    ignore = _rows(real, discovery="dns-rr", resolver="ignore-ttl", reuse=False)
    assert ignore["failed"] > honour["failed"] > 0


def test_real_dns_load_matches_the_simulated_query_rate():
    r = dns_load.run(ttls=(0.0, 5.0, 30.0), client_counts=(10,), duration=30.0, real=True)
    for row in r.rows:
        assert row["qps_direct_real"] == pytest.approx(row["qps_direct"], rel=0.35, abs=0.1)
    direct = [row["qps_direct_real"] for row in r.rows]
    assert direct[0] > direct[1] > direct[2]
    # From TTL 5 s up the node cache keeps answers as the simulation assumes. Below it, the
    # real NodeLocalCache forwards every query (it has no 5 s floor, CoreDNS's MINTTL).
    for row in r.where(ttl=5.0) + r.where(ttl=30.0):
        assert row["qps_node_cache_real"] == pytest.approx(row["qps_node_cache"], rel=0.35, abs=0.1)


def test_real_ndots_counts_equal_the_query_plan():
    r = ndots.run(real=True, name="api.example.com")
    assert [row["queries_real"] for row in r.rows] == [row["queries"] for row in r.rows]


def test_real_runs_refuse_sizes_that_would_take_minutes():
    with pytest.raises(SvclabError, match="too long"):
        rolling_update.run(real=True)  # 12 groups x 30 clients x 10 req/s x 120 s
    with pytest.raises(SvclabError, match="too long"):
        dns_load.run(real=True)


def test_cli_ndots_name_option_does_not_clash_with_the_experiment_name(capsys):
    assert main(["experiment", "ndots", "--real", "--name", "db.example.org"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[-1] == "queries_real"
    assert [line.split()[-1] for line in lines[1:]] == ["8", "2", "2", "2", "4"]
