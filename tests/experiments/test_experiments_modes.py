"""Invariants of the proxy-modes experiment: spread per mode, first-packet cost, userspace proxy.

Scheduler expectations follow the kernel's `net/netfilter/ipvs/ip_vs_rr.c` and `ip_vs_lc.c`;
iptables's `statistic --mode random` ladder and nftables's `numgen random mod N` follow
kube-proxy's `pkg/proxy/iptables/proxier.go` and `pkg/proxy/nftables/proxier.go`.
"""

from __future__ import annotations

import io

import pytest

from svclab.cli import main
from svclab.experiments import proxy_modes


@pytest.fixture(scope="module")
def spread():
    return proxy_modes.run(seed=5)


def test_ipvs_lc_spreads_long_lived_connections_better_than_random(spread):
    lc = spread.one(workload="long-lived", mode="IPVS lc")["load_max_mean"]
    for mode in ("iptables random", "nftables numgen", "IPVS rr"):
        assert lc < spread.one(workload="long-lived", mode=mode)["load_max_mean"]
    assert lc < 1.15


def test_every_mode_spreads_short_connections_evenly(spread):
    for row in spread.where(workload="short"):
        assert row["load_max_mean"] < 1.1, row
    # round-robin hands out connections strictly in turn: counts differ by at most one
    rr = spread.one(workload="short", mode="IPVS rr")
    assert rr["conn_max_min"] <= (rr["connections"] // 4 + 1) / (rr["connections"] // 4)


def test_random_modes_balance_connections_not_open_ones(spread):
    """Random picks even out the *count* (1/4 each) yet leave open connections uneven."""
    for mode in ("iptables random", "nftables numgen"):
        row = spread.one(workload="long-lived", mode=mode)
        assert row["load_max_mean"] > 1.15
    counts = spread.data["shares"][("short", "iptables random")]
    assert all(abs(c / sum(counts) - 0.25) < 0.03 for c in counts)  # ~3000 draws


def test_same_seed_same_spread():
    a, b = (proxy_modes.spread(3, seed=1)[0] for _ in range(2))
    assert a == b


def test_first_packet_cost_grows_with_services_only_in_iptables():
    r = proxy_modes.run(view="cost", sizes=(10, 50, 200), endpoints_per_service=2)
    ipt = [row["first_packet"] for row in r.where(mode="iptables")]
    assert ipt[0] < ipt[1] < ipt[2]
    for mode in ("nftables", "ipvs"):
        assert len({row["first_packet"] for row in r.where(mode=mode)}) == 1
        sizes = [row["size"] for row in r.where(mode=mode)]
        assert sizes[0] < sizes[1] < sizes[2]  # the rule set still grows
    assert {row["verdict"] for row in r.rows} == {"DNAT"}


def test_userspace_measurement_runs_every_case_over_real_sockets():
    rows = proxy_modes.userspace_overhead(budget=0.2)
    assert [(r["path"], r["connection"]) for r in rows] == [
        ("direct", "kept"),
        ("userspace proxy", "kept"),
        ("direct", "new per request"),
        ("userspace proxy", "new per request"),
    ]
    assert all(r["requests"] > 0 and r["median_us"] > 0 for r in rows)
    assert all(r["overhead_us"] == 0 for r in rows if r["path"] == "direct")


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_proxy_mode_figures_in_both_languages(spread, lang):
    for result in (spread, proxy_modes.run(view="cost", sizes=(10, 20))):
        fig = result.figure(lang)
        fig.savefig(io.BytesIO(), format="png")
        texts = [fig.get_suptitle()] + [ax.get_title() for ax in fig.axes]
        assert any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t) == (lang == "zh_CN")


def test_cli_runs_proxy_modes_cost_view(capsys):
    assert main(["experiment", "proxy-modes", "--view", "cost", "--sizes", "10", "20"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["mode", "services", "endpoints_per_service"]
    assert len(lines) == 1 + 3 * 2
