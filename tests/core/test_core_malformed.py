"""Malformed manifests: each gets one exact line naming file, object, field and rule.

The cases and their upstream sources are in ``tests/data/core/malformed.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from svclab.cli import main
from svclab.cluster import Cluster
from svclab.errors import ManifestError

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parents[1] / "data" / "core" / "malformed.yaml").read_text()
)
READ = [c for c in CASES if c["checked_by"] == "read"]


def _write(tmp_path: Path, case: dict[str, Any]) -> Path:
    path = tmp_path / f"{case['case']}.yaml"
    path.write_text(case["manifest"])
    return path


def test_enough_kinds_of_bad_input() -> None:
    assert len(CASES) >= 20 and len({c["case"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_cluster_rejects_with_exact_message(tmp_path: Path, case: dict[str, Any]) -> None:
    path = _write(tmp_path, case)
    with pytest.raises(ManifestError) as caught:
        Cluster.from_manifests([path])
    assert str(caught.value) == f"{path}: {case['message']}"


@pytest.mark.parametrize("case", READ, ids=[c["case"] for c in READ])
def test_envvars_cli_prints_one_line_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: dict[str, Any]
) -> None:
    path = _write(tmp_path, case)
    assert main(["envvars", "-f", str(path), "--namespace", "default"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"svclab: {path}: {case['message']}\n"


def _service(tmp_path: Path, cluster_ip: str) -> Path:
    path = tmp_path / "svc.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
        f"spec: {{clusterIP: {cluster_ip}, ports: [{{port: 80}}]}}\n"
    )
    return path


def test_reading_imposes_no_service_cidr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ClusterIP outside 10.96.0.0/12 is fine for a reading command: another cluster stored it."""
    assert main(["envvars", "-f", str(_service(tmp_path, "192.168.0.10"))]) == 0
    assert "WEB_SERVICE_HOST=192.168.0.10" in capsys.readouterr().out.splitlines()


def test_bad_namespace_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _service(tmp_path, "10.96.0.10")
    assert main(["envvars", "-f", str(path), "--namespace", "Bad_NS"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("svclab: --namespace: 'Bad_NS': a lowercase RFC 1123 label")
    assert err.count("\n") == 1


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["envvars", "-f", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err == f"svclab: {tmp_path / 'nope.yaml'}: no such file or folder\n"
