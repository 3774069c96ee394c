"""Without root or off Linux the lab says in one sentence what it needs (notebooks fall back)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import require
from kernel_helpers import CONFIG, MANIFESTS, cluster

from svclab.kernel import KernelUnavailable, kernel_available
from svclab.kernel.lab import run_lab

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.mark.kernel
def test_a_non_root_user_is_told_to_use_root() -> None:
    """Run for real as `nobody`: the helper and the CLI both give the one-sentence reason."""
    require(os.geteuid() == 0 and shutil.which("setpriv") is not None,
            "demoting to nobody needs root and setpriv (util-linux)")  # fmt: skip
    env = {**os.environ, "HOME": "/tmp", "MPLCONFIGDIR": "/tmp"}
    probe = "from svclab.kernel import kernel_available; print(kernel_available())"
    out = subprocess.run([*NOBODY, sys.executable, "-c", probe], capture_output=True, text=True,
                         env=env, cwd="/tmp", check=True).stdout  # fmt: skip
    assert out.startswith("(False, ") and "not root" in out
    demo = subprocess.run(
        [*NOBODY, sys.executable, "-m", "svclab", "kernel", "demo", "-f", str(MANIFESTS)],
        capture_output=True, text=True, env=env, cwd="/tmp",
    )  # fmt: skip
    assert demo.returncode == 2 and demo.stdout == ""
    [line] = demo.stderr.splitlines()
    assert line.startswith("svclab: ") and "needs root on Linux" in line and "Traceback" not in line


def test_off_linux_the_lab_refuses_in_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine is Linux, so another platform can only be pretended (sys.platform)."""
    monkeypatch.setattr(sys, "platform", "darwin")
    ok, reason = kernel_available()
    assert not ok and reason.endswith("this is darwin.") and reason.count(".") == 1
    with pytest.raises(KernelUnavailable, match="needs root on Linux"):
        run_lab(cluster(), CONFIG, "iptables")
