"""Start-up: a command imports only what it uses (``svclab --help`` took 1.1 s and 103 MB).

Time is measured in the benchmarks; here the cause is pinned down: which modules a command
loads. ``-X importtime`` lists every module a real ``svclab`` process imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("matplotlib", "numpy", "dns", "kubernetes.config", "kubernetes.watch", "pandas")


def imported(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "svclab", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def loaded(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_help_imports_no_subcommand() -> None:
    modules = imported("--help")
    assert not loaded(modules, "kubernetes")
    assert not [m for m in modules if m.startswith("svclab.") and m != "svclab.errors"
                and not m.startswith("svclab.cli")]  # fmt: skip
    assert {m for m in modules if m.startswith("svclab.cli.")} == {"svclab.cli.lazy_imports"}


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_a_small_render_loads_no_heavy_module(tmp_path: Path, mode: str) -> None:
    manifest = tmp_path / "svc.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        "spec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}\n"
    )
    modules = imported("render", mode, "-f", str(manifest), "--hostname-override", "n1")
    assert [package for package in HEAVY if loaded(modules, package)] == []
    assert "kubernetes.client.models.v1_pod_spec" not in modules  # no Pods in the input
