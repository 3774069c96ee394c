"""The proxy-modes chapter's captions and sentences, checked against the data they describe."""

from __future__ import annotations

import itertools

import pytest

from svclab.cli import main
from svclab.pages.proxy_modes import (
    POD_CLIENT,
    WEB_IP,
    change_cost,
    kernel_dataset,
    kernel_row,
    lab_cluster,
    ping_rows,
    provenance,
    scaling_dataset,
    trace,
)
from svclab.proxy import scaling
from svclab.proxy.packet import Packet
from svclab.report.pathdiagram import path_graph

STATE, CONFIG = lab_cluster()
ROWS = scaling_dataset().rows


def series(mode: str, measure: str) -> list[float]:
    return [r[measure] for r in sorted(ROWS, key=lambda r: r["services"]) if r["mode"] == mode]


def test_dataset_covers_10_to_10000_services_in_every_mode():
    for mode in scaling.MODES:
        assert [r["services"] for r in ROWS if r["mode"] == mode] == list(scaling.SIZES)


def test_dataset_counts_match_a_fresh_measurement():
    """The counts do not depend on the machine: the stored rows equal a new run."""
    counts = ("mode", "services", "written", "bytes", "first_packet")
    fresh = scaling.table((10, 100), repeats=1)
    stored = [r for r in ROWS if r["services"] <= 100]
    assert [{k: r[k] for k in counts} for r in fresh] == [{k: r[k] for k in counts} for r in stored]


def test_first_packet_caption_iptables_grows_the_others_stay_flat():
    ipt = series("iptables", "first_packet")
    assert all(a < b for a, b in itertools.pairwise(ipt))
    assert ipt[-1] / ipt[0] > 100
    for mode in ("nftables", "ipvs"):
        assert len(set(series(mode, "first_packet"))) == 1


def test_written_caption_every_mode_grows_linearly():
    for mode in scaling.MODES:
        written = series(mode, "written")
        assert 500 < written[-1] / written[0] < 1500  # 1,000 times the Services


def test_kernel_caption_iptables_latency_grows_nftables_flat():
    rows = kernel_dataset().rows
    sizes = sorted({r["services"] for r in rows})
    small, large = sizes[0], sizes[-1]
    ipt = [kernel_row(rows, "iptables", n)["connect_p50_us"] for n in (small, large)]
    nft = [kernel_row(rows, "nftables", n)["connect_p50_us"] for n in sizes]
    assert ipt[1] > 2 * ipt[0]
    assert max(nft) < 1.5 * min(nft)


def test_provenance_names_machine_kernel_date_and_command():
    data = kernel_dataset()
    for lang in ("en", "zh_CN"):
        line = provenance(data, lang)
        assert data.machine in line and data.kernel in line and data.date in line
        assert data.command in line and "svclab.bench.kernel" in line


def test_change_caption_nft_transaction_constant_iptables_partial_grows():
    rows = change_cost((10, 100))
    nft = [r for r in rows if r["mode"] == "nftables"]
    ipt = [r for r in rows if r["mode"] == "iptables"]
    assert nft[0]["partial"] == nft[1]["partial"] < nft[0]["full"]
    assert ipt[0]["partial"] < ipt[1]["partial"] < ipt[1]["full"]


def test_path_captions():
    packet = Packet(POD_CLIENT, WEB_IP, 80)
    ipvs = trace("ipvs", STATE, CONFIG, packet)
    assert list(ipvs.destinations.values()) == pytest.approx([1 / 3] * 3)
    nft = path_graph(trace("nftables", STATE, CONFIG, packet))
    assert {"numgen 0/3", "numgen 1/3", "numgen 2/3"} <= {e.label for e in nft.edges}


def test_wrong_port_caption_ipvs_filter_rejects():
    result = trace("ipvs", STATE, CONFIG, Packet(POD_CLIENT, WEB_IP, 81))
    assert result.verdict == "REJECT"
    assert any(rule.startswith("-A KUBE-IPVS-FILTER") and "REJECT" in rule for rule in result.rules)
    verdicts = {
        m: trace(m, STATE, CONFIG, Packet(POD_CLIENT, WEB_IP, 81)).verdict
        for m in ("iptables", "nftables")
    }
    assert verdicts == {"iptables": "NO-MATCH", "nftables": "REJECT"}


def test_ping_table():
    rows = {r["mode"]: r for r in ping_rows(STATE, CONFIG, WEB_IP)}
    assert rows["iptables"]["rules for any protocol"] == 0
    assert rows["nftables"]["rules for any protocol"] == 1
    assert rows["ipvs"]["local address"] and rows["ipvs"]["rules for any protocol"] == 1
    assert not rows["iptables"]["local address"]


def test_render_since_help_says_what_it_prints(capsys):
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--since OLD" in text and "iptables-restore --noflush input" in text
    assert "nft -f transaction" in text


def test_render_since_refuses_ipvs(tmp_path, capsys):
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}\n"
    )
    assert main(["render", "ipvs", "-f", str(manifest), "--since", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--since" in err and "Traceback" not in err
