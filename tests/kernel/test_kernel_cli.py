"""`svclab kernel demo`: the table of Pods hit and client addresses seen, from a real kernel."""

from __future__ import annotations

import pytest
from kernel_helpers import MANIFESTS, need_kernel

from svclab.cli import main

pytestmark = pytest.mark.kernel

FLAGS = ["-f", str(MANIFESTS), "--hostname-override", "node-a", "--cluster-cidr", "10.244.0.0/16"]


def _rows(out: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(address, Pod) → (client seen, connections) from the demo's table."""
    rows = {}
    for line in out.splitlines():
        words = line.split()
        if len(words) >= 5 and words[0].startswith("demo/") and words[-1].isdigit():
            address, pod = " ".join(words[1:3]), words[3]
            rows[address, pod] = (words[4] if len(words) == 6 else "", int(words[-1]))
    return rows


def test_demo_from_the_client_shows_snat_and_preserved_client_ips(
    capsys: pytest.CaptureFixture[str],
) -> None:
    need_kernel()
    args = [
        "kernel",
        "demo",
        "--mode",
        "iptables",
        *FLAGS,
        "--connections",
        "16",
        "--timeout",
        "0.5",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    rows = _rows(out)
    # externalTrafficPolicy Cluster: masqueraded to the node's address.
    web = {
        pod: seen
        for (address, pod), seen in rows.items()
        if address == "NodePort 192.168.0.2:30080"
    }
    assert sum(n for _, n in web.values()) == 16 and {ip for ip, _ in web.values()} == {
        "192.168.0.2"
    }
    # externalTrafficPolicy Local: local Pods only, the client's own address kept.
    lb = {
        pod: seen
        for (address, pod), seen in rows.items()
        if address == "LoadBalancer 192.0.2.100:80"
    }
    assert set(lb) <= {"lb-a", "lb-b"} and {ip for ip, _ in lb.values()} == {"203.0.113.10"}
    assert rows["LoadBalancer 192.0.2.101:80", "(timeout)"] == ("", 16)
    assert not any(address.startswith("ClusterIP") for address, _ in rows)
    assert "-j KUBE-SEP-" in out and "conntrack: " in out


def test_demo_in_nftables_mode_from_the_node(capsys: pytest.CaptureFixture[str]) -> None:
    need_kernel()
    assert (
        main(
            ["kernel", "demo", "--mode", "nftables", *FLAGS, "--connections", "8", "--from", "node"]
        )
        == 0
    )
    out = capsys.readouterr().out
    rows = _rows(out)
    assert rows["ClusterIP 10.96.0.30:80", "(refused)"] == ("", 8)  # no endpoints: rejected
    assert rows["NodePort 127.0.0.1:30080", "(refused)"] == ("", 8)  # no localhost NodePorts
    assert rows["ClusterIP 10.96.0.40:80", "far-a"] == ("192.168.0.2", 8)
    assert "have no counter statements" in out


def test_demo_with_a_missing_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    need_kernel()  # without a kernel lab, the one line says so first
    assert main(["kernel", "demo", "-f", "/nonexistent/svc.yaml"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert "/nonexistent/svc.yaml" in captured.err
