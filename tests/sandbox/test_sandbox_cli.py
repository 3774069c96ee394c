"""``svclab sandbox up`` / ``down`` as a user runs them: real processes, a real kubeconfig."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config
from sandbox_helpers import WEB

from svclab.cli import main

SVCLAB = [sys.executable, "-m", "svclab"]


def svclab(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (a detached sandbox is still a separate process)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def core_api(kubeconfig: str) -> client.CoreV1Api:
    return client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig))


def test_up_detached_then_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / "run"
    code, out, err = svclab(
        capsys, "sandbox", "up", "--detach", "-f", str(WEB), "--run-dir", str(run_dir)
    )
    assert code == 0, err
    assert out.startswith("export KUBECONFIG=")
    kubeconfig = out.strip().removeprefix("export KUBECONFIG=")
    assert (
        kubeconfig == str(run_dir / "kubeconfig")
        and oct(os.stat(kubeconfig).st_mode & 0o777) == "0o600"
    )
    server = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    assert server.startswith("http://127.0.0.1:")
    pid = int((run_dir / "sandbox.pid").read_text())
    try:
        services = core_api(kubeconfig).list_namespaced_service("default").items
        assert {s.metadata.name for s in services} == {"kubernetes", "web"}
        code, _, err = svclab(capsys, "sandbox", "up", "--detach", "--run-dir", str(run_dir))
        assert code == 2 and f"already running (pid {pid})" in err
    finally:
        code, _, err = svclab(capsys, "sandbox", "down", "--run-dir", str(run_dir))
    assert code == 0 and f"stopped (pid {pid})" in err
    assert not (run_dir / "sandbox.pid").exists() and not Path(f"/proc/{pid}").exists()


def test_up_in_the_foreground_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    with subprocess.Popen(
        [*SVCLAB, "sandbox", "up", "--kubeconfig", str(kubeconfig), "--run-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout.readline().strip() == f"export KUBECONFIG={kubeconfig}"
            nodes = core_api(str(kubeconfig)).list_node().items
            assert [n.metadata.name for n in nodes] == ["node-1"]
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 128 + signal.SIGTERM
        assert "Kubernetes API on http://127.0.0.1:" in process.stderr.read()
    assert not (tmp_path / "sandbox.pid").exists()


def test_bad_manifests_fail_before_serving(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 0}]}\n"
    )
    code, _, err = svclab(
        capsys, "sandbox", "up", "--detach", "-f", str(bad), "--run-dir", str(tmp_path / "run")
    )
    assert code == 2
    assert err == (
        f"svclab: {bad}: Service default/x: spec.ports[0].port: "
        "Invalid value: 0: must be between 1 and 65535, inclusive\n"
    )
    assert not (tmp_path / "run" / "sandbox.pid").exists()
