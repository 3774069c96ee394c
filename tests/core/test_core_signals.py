"""Every command ends on SIGINT with exit 130 and on SIGTERM with 143, at any moment, quietly.

Signals are sent to real ``svclab`` processes at several points: during start-up (imports),
while reading manifests, and while serving (the kernel demo: tests/kernel/test_kernel_signals.py).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from signal_helpers import EXPECTED, interrupted

DELAYS = (0.05, 0.3, 0.8, 2.0)
"""Seconds after start: inside the interpreter's start-up, in imports, reading, running."""


def many_services(tmp_path: Path, count: int = 8000) -> Path:
    path = tmp_path / "many.yaml"
    path.write_text(
        "".join(
            f"---\napiVersion: v1\nkind: Service\nmetadata: {{name: s{i}}}\n"
            f"spec: {{clusterIP: 10.96.{i // 250}.{i % 250 + 1}, ports: [{{port: 80}}]}}\n"
            for i in range(count)
        )
    )
    return path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("delay", DELAYS)
@pytest.mark.parametrize("command", ["render", "envvars", "dns", "sandbox"])
def test_a_signal_at_any_moment(
    tmp_path: Path, command: str, delay: float, sig: signal.Signals
) -> None:
    manifest = str(many_services(tmp_path))
    args = {
        "render": ["render", "iptables", "-f", manifest, "--hostname-override", "n1"],
        "envvars": ["envvars", "-f", manifest],
        "dns": ["dns", "serve", "-f", manifest, "--listen", "127.0.0.1:0"],
        "sandbox": ["sandbox", "up", "--run-dir", str(tmp_path)],
    }[command]
    status, err = interrupted(args, sig, delay)
    assert "Traceback" not in err, err
    assert status == EXPECTED[sig], err
