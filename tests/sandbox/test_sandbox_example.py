"""``examples/discover_endpoints.py`` run unchanged (official client, KUBECONFIG) against the sandbox."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from kubernetes import client
from sandbox_helpers import api_fixture, box_fixture, pod_ips, until  # noqa: F401 (fixtures)

from svclab.sandbox import Sandbox

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "discover_endpoints.py"


def test_discover_endpoints_follows_a_rolling_update(
    box: Sandbox, api: client.ApiClient, tmp_path: Path
) -> None:
    kubeconfig = box.write_kubeconfig(tmp_path / "kubeconfig")
    old = {f"{ip}:8080" for ip in pod_ips(box, app="web")}
    lines: list[str] = []
    command = [sys.executable, str(EXAMPLE), "web", "--timeout", "30", "--events", "6"]
    with subprocess.Popen(
        command,
        env={"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as example:
        reader = threading.Thread(target=lambda: lines.extend(iter(example.stdout.readline, "")))
        reader.start()
        until(lambda: bool(lines), timeout=20)  # listed: the watch starts from the list's version
        assert lines[0] == f"backends of default/web: {', '.join(sorted(old))}\n"
        client.AppsV1Api(api).patch_namespaced_deployment(
            "web",
            "default",
            {
                "spec": {
                    "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}
                }
            },
        )
        until(lambda: example.poll() is not None, timeout=20, step=lambda: box.advance(0.5))
        reader.join(timeout=5)
        assert example.returncode == 0, example.stderr.read()
    new = {f"{ip}:8080" for ip in pod_ips(box, app="web")}
    changes = [line.strip() for line in lines[1:-1]]
    assert sorted(changes) == sorted([f"+ {b}" for b in new] + [f"- {b}" for b in old])
    # a rolling update adds a backend before it takes one away (maxSurge 1, maxUnavailable 0)
    assert changes[0].startswith("+ ")
    assert lines[-1] == f"6 change(s); backends now: {', '.join(sorted(new))}\n"
