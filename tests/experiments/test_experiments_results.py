"""Invariants of each experiment's result, its figures in both languages, and the CLI."""

from __future__ import annotations

import io

import pytest

from svclab import experiments
from svclab.cli import main
from svclab.errors import SvclabError
from svclab.experiments import dns_load, rolling_update


@pytest.fixture(scope="module")
def rollout():
    return rolling_update.run(clients=20, duration=90.0, seed=4)


def test_resolve_once_dns_keeps_failing_after_the_update(rollout):
    for reuse in (False, True):
        row = rollout.one(discovery="dns-rr", resolver="resolve-once", reuse=reuse)
        assert row["failed_after_settle"] > 0
        assert row["recover_s"] == float("inf")
        assert row["to_gone_pods"] >= row["failed"]  # each failure tried at least one gone Pod


def test_clusterip_has_no_failures_once_endpoints_updated(rollout):
    for row in rollout.where(discovery="clusterip"):
        assert row["failed_after_settle"] == 0
        assert row["failed_pct"] < 1


def test_ignoring_the_ttl_fails_more_than_honouring_it(rollout):
    for reuse in (False, True):
        honour = rollout.one(discovery="dns-rr", resolver="honour-ttl", reuse=reuse)
        ignore = rollout.one(discovery="dns-rr", resolver="ignore-ttl", reuse=reuse)
        assert ignore["failed"] > honour["failed"] > 0
        assert honour["recover_s"] < float("inf")


def test_a_proxy_balances_new_connections_but_not_kept_ones(rollout):
    fresh = rollout.one(discovery="clusterip", resolver="honour-ttl", reuse=False)
    kept = rollout.one(discovery="clusterip", resolver="honour-ttl", reuse=True)
    assert fresh["load_max_min"] < 1.5
    assert kept["load_max_min"] > fresh["load_max_min"]


def test_dns_load_falls_with_ttl_and_node_cache_caps_it():
    r = dns_load.run(ttls=(0.0, 1.0, 30.0), client_counts=(10, 100), duration=40.0)
    for n in (10, 100):
        direct = [row["qps_direct"] for row in r.where(clients=n)]
        assert direct[0] > direct[1] > direct[2]
    zero = r.one(ttl=0.0, clients=100)
    assert zero["qps_direct"] == 100 * 5.0  # every request (5/s per client) is a lookup
    assert (
        zero["qps_node_cache"] <= 10 / dns_load.NODE_CACHE_MIN_TTL + 10 / 40.0
    )  # per node per 5 s
    assert (
        r.one(ttl=30.0, clients=100)["qps_node_cache"] < r.one(ttl=30.0, clients=100)["qps_direct"]
    )


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_figures_draw_in_both_languages_without_glyph_warnings(rollout, lang):
    small = dns_load.run(ttls=(0.0, 5.0), client_counts=(10,), duration=10.0)
    for result in (rollout, small):
        fig = result.figure(lang)
        fig.savefig(io.BytesIO(), format="png")  # warnings are errors: a missing glyph would fail
        texts = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
        has_cjk = any("\u4e00" <= ch <= "\u9fff" for text in texts for ch in text)
        assert has_cjk == (lang == "zh_CN")


def test_unknown_language_and_experiment_are_clear_errors(rollout):
    with pytest.raises(ValueError, match="unknown language"):
        rollout.figure("fr")
    with pytest.raises(SvclabError, match="unknown experiment"):
        experiments.get("nope")


def test_cli_runs_an_experiment_and_prints_its_table(capsys, tmp_path):
    figure = tmp_path / "load.png"
    code = main(
        [
            "experiment",
            "dns-load",
            "--ttls",
            "0",
            "30",
            "--client-counts",
            "10",
            "--duration",
            "10",
            "--lang",
            "zh_CN",
            "--figure",
            str(figure),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].split() == ["ttl", "clients", "qps_direct", "qps_node_cache"]
    assert len(out.splitlines()) == 3
    assert figure.stat().st_size > 10_000


def test_cli_lists_experiments(capsys):
    assert main(["experiment", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == experiments.names()


def test_cli_real_mode_too_big_to_run_in_seconds_is_one_line_error(capsys):
    assert main(["experiment", "dns-load", "--real"]) == 2  # 1,110 clients x 5 TTLs
    err = capsys.readouterr().err
    assert "too long" in err and len(err.strip().splitlines()) == 1


def test_benchmark_rows_report_requests_per_second():
    from svclab.bench import sim

    rows = sim.run(quick=True)
    assert {row["requests"] for row in rows} == {100 * 10 * 100}
    assert all(row["requests_per_s"] > 0 for row in rows)


def test_ndots_five_sends_more_queries_than_a_trailing_dot():
    """glibc res_search order (resolv/res_query.c): with fewer than ndots dots, search first."""
    from svclab.experiments import ndots

    r = ndots.run(name="api.example.com")
    default, dot = r.one(fix="ndots:5 (default)"), r.one(fix="trailing dot")
    assert default["queries"] > dot["queries"] == 2
    assert default["nxdomain_first"] == default["queries"] - 2  # only the last A+AAAA answer
    assert r.one(fix="ndots:2")["queries"] == 2  # two dots reach ndots:2: asked as given first
    assert r.one(fix="AF_INET only")["queries"] * 2 == default["queries"]


def test_env_vars_order_pitfall_and_growth():
    from svclab.experiments import env_vars

    r = env_vars.run(service_counts=(0, 5, 20), ports=(1,))
    assert r.one(case="order", pod="started before the Service")["backend_vars"] == 0
    assert r.one(case="order", pod="recreated after it")["backend_vars"] > 0
    with_links = [row["variables"] for row in r.where(case="count", enable_service_links=True)]
    without = {row["variables"] for row in r.where(case="count", enable_service_links=False)}
    assert with_links[0] < with_links[1] < with_links[2]
    assert (with_links[2] - with_links[1]) == 3 * (
        with_links[1] - with_links[0]
    )  # linear in Services
    assert without == {with_links[0]}  # only the `kubernetes` Service is left


def test_groups_option_runs_only_the_named_groups_in_that_order():
    labels = ("clusterip/resolve-once/new-conn", "dns-rr/ignore-ttl/reuse")
    r = rolling_update.run(clients=5, duration=40.0, groups=labels)
    assert [f"{row['discovery']}/{row['resolver']}/" for row in r.rows] == [
        "clusterip/resolve-once/",
        "dns-rr/ignore-ttl/",
    ]
    with pytest.raises(ValueError, match="unknown client group"):
        rolling_update.run(clients=5, duration=40.0, groups=("dns-rr/typo/reuse",))


def test_resolve_once_fails_every_request_after_the_update_and_clusterip_none(rollout):
    # all three Pods were replaced: a client holding only the old IPs has nowhere to go
    for reuse in (False, True):
        once = rollout.one(discovery="dns-rr", resolver="resolve-once", reuse=reuse)
        assert once["failed_pct_after_settle"] == 100.0
    for row in rollout.where(discovery="clusterip"):
        assert row["failed_pct_after_settle"] == 0.0


def test_pods_view_kept_connections_leave_the_newest_pod_idle():
    r = rolling_update.run(
        clients=20,
        duration=60.0,
        seed=2,
        groups=("clusterip/honour-ttl/new-conn", "clusterip/honour-ttl/reuse"),
        view="pods",
    )
    fresh = r.where(clients="clusterip/honour-ttl/new-conn")
    kept = r.where(clients="clusterip/honour-ttl/reuse")
    for rows in (fresh, kept):
        assert sum(row["requests"] for row in rows) > 0
        assert all(row["share_after_settle_pct"] == 0 for row in rows if row["gone_s"] < 60)
        assert abs(sum(row["share_after_settle_pct"] for row in rows) - 100) < 0.5
    newest = max(kept, key=lambda row: row["ready_s"])
    assert newest["requests"] == 0  # ready after every kept connection was already made
    # new connections are drawn uniformly: every new Pod gets about a third
    assert all(25 < row["share_after_settle_pct"] < 42 for row in fresh if row["gone_s"] > 60)
    fig = r.figure("zh_CN")
    assert len(fig.axes) == 2 and "Pod" in fig.get_suptitle()
    with pytest.raises(ValueError, match="unknown view"):
        rolling_update.run(clients=5, duration=40.0, view="nodes")


def test_rows_hold_plain_python_values(rollout):
    # pages glue row values into prose: numpy scalars would render as "np.float64(36.0)"
    small = rolling_update.run(clients=5, duration=40.0, view="pods")
    for row in rollout.rows + small.rows:
        assert {type(v) for v in row.values()} <= {str, bool, int, float}, row


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_figures_show_in_notebooks_without_pyplot(lang):
    # IPython asks the object for `_repr_png_`; glue stores that PNG in the page
    from IPython.core.formatters import PNGFormatter

    small = dns_load.run(ttls=(0.0, 5.0), client_counts=(10,), duration=10.0)
    png = PNGFormatter()(small.figure(lang))
    assert png is not None and png[:4] == b"\x89PNG" and len(png) > 10_000
