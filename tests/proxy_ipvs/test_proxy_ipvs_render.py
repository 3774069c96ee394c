"""The full IPVS rendering: a reviewed golden file, its header, and ipvsadm's formatting.

`tests/data/proxy_ipvs/mixed.txt` was produced by `svclab.proxy.ipvs.render` and reviewed line by
line against kubernetes/kubernetes `pkg/proxy/ipvs/proxier.go` (`syncProxyRules`,
`writeIptablesRules`, `acceptIPVSTraffic`, `createAndLinkKubeChain`, `ipsetInfo`,
`ipsetWithIptablesChain`), ipvsadm's `print_service_entry`/`print_title` formats and libipvs's
`ipvs_cmp_services` order. Regenerate it only after such a review.
"""

from __future__ import annotations

from pathlib import Path

from svclab.api.manifests import load_manifests
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.ipvs.render import RealServer, VirtualServer, render, render_ipvsadm

DATA = Path(__file__).parents[1] / "data" / "proxy_ipvs"
CONFIG = ProxyConfig(
    hostname_override="node-1", node_ips=["192.168.0.2"], cluster_cidr="10.244.0.0/16"
)


def _mixed() -> str:
    return render(ClusterState.from_manifests(load_manifests([DATA / "mixed.yaml"])), CONFIG)


def test_render_matches_reviewed_golden_file():
    assert _mixed() == (DATA / "mixed.txt").read_text()


def test_header_states_simulation_and_deprecation():
    """The output says IPVS is simulated here and deprecated since 1.35 (KEP-5495)."""
    header = _mixed().splitlines()[:2]
    assert "simulated" in header[0] and "no IPVS" in header[0]
    assert header[1].startswith("# DEPRECATED:") and "1.35" in header[1] and "KEP-5495" in header[1]


def test_ipvsadm_columns_and_persistence():
    """ipvsadm: ``%s  %s %s`` service lines, ``  -> %-28s %-7s %-6d %-10u %-10u`` destinations."""
    text = render_ipvsadm(
        [VirtualServer("TCP", "10.0.0.1", 443, "wrr", 60, (RealServer("10.1.2.3", 6443, 3),))]
    )
    lines = text.splitlines()
    assert lines[3] == "TCP  10.0.0.1:443 wrr persistent 60"
    assert lines[4] == "  -> " + "10.1.2.3:6443".ljust(28) + " Masq    3      0          0         "


def test_ipvsadm_sort_keeps_libipvs_wraparound():
    """`ipvs_cmp_services` subtracts addresses as 32-bit ints: 10.x (0x0a…) minus 192.x (0xc0…)
    wraps to a positive int, so 192.168.0.2 is listed before 10.96.0.1; protocol comes first."""
    servers = [
        VirtualServer("UDP", "10.96.0.10", 53),
        VirtualServer("TCP", "10.96.0.1", 443),
        VirtualServer("TCP", "192.168.0.2", 30080),
        VirtualServer("TCP", "10.96.0.1", 80),
    ]
    listed = [line for line in render_ipvsadm(servers).splitlines()[3:]]
    assert listed == [
        "TCP  192.168.0.2:30080 rr",
        "TCP  10.96.0.1:80 rr",
        "TCP  10.96.0.1:443 rr",
        "UDP  10.96.0.10:53 rr",
    ]
