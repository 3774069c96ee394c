"""Reading commands refuse what the API server could not have stored, and accept the rest.

Legacy leading-zero IPs come from upstream's kube-proxy `TestBadIPs` (pkg/proxy/iptables and
nftables proxier_test.go): old API servers stored them, so components still read them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"

IMPOSSIBLE = """\
apiVersion: v1
kind: Service
metadata: {name: x}
spec: {clusterIP: 10.96.0.5, selector: {a: b}, ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: x-1, labels: {kubernetes.io/service-name: x}}
addressType: IPv4
endpoints: [{addresses: [10.244.0.9]}]
ports: [{port: 70000}]
"""


def svclab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "svclab", *args], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "command",
    [
        ["render", "iptables"],
        ["render", "nftables"],
        ["render", "ipvs"],
        ["dns", "serve", "--listen", "127.0.0.1:0"],
    ],
)
def test_an_object_no_api_server_stores_is_one_line_exit_2(
    command: list[str], tmp_path: Path
) -> None:
    manifest = tmp_path / "x.yaml"
    manifest.write_text(IMPOSSIBLE)
    result = svclab(*command, "-f", str(manifest))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"svclab: {manifest}: EndpointSlice default/x-1: ports[0].port: "
        "Invalid value: 70000: must be between 1 and 65535, inclusive"
    ]


def test_legacy_leading_zero_addresses_are_still_read() -> None:
    result = svclab("render", "iptables", "-f", str(DATA / "proxy" / "iptables" / "bad_ips.yaml"))
    assert result.returncode == 0, result.stderr
    assert "-d 172.30.0.41 --dport 80" in result.stdout
