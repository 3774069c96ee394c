"""Signals from outside, a SIGKILLed run, and `svclab kernel cleanup` removing only stale debris."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from kernel_helpers import CONFIG, MANIFESTS, cluster, host_snapshot, leftovers, need_kernel

from svclab.cli import main
from svclab.kernel.cleanup import cleanup
from svclab.kernel.names import parse_netns
from svclab.kernel.topology import KernelNode, plan_topology

pytestmark = pytest.mark.kernel

# A lab run in its own process: prints its namespace prefix and server pid, then waits.
RUN = """
import sys, time
from svclab.api.manifests import load_manifests
from svclab.proxy.config import ProxyConfig
from svclab.api.state import ClusterState
from svclab.kernel.topology import KernelNode, plan_topology
state = ClusterState.from_manifests(load_manifests([sys.argv[1]]))
with KernelNode(plan_topology(state, ProxyConfig(hostname_override="node-a"))) as node:
    print(node.run.prefix, node.server.pid, flush=True)
    time.sleep(60)
"""


@contextmanager
def _started_run() -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    with subprocess.Popen(
        [sys.executable, "-c", RUN, str(MANIFESTS)], stdout=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            prefix, server_pid = proc.stdout.readline().split()
            yield proc, prefix, int(server_pid)
        finally:
            proc.kill()


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_from_outside_tears_the_run_down(sig: signal.Signals) -> None:
    need_kernel()
    before = host_snapshot()
    with _started_run() as (proc, prefix, server_pid):
        run_name = parse_netns(prefix + "node")
        assert run_name is not None and leftovers(run_name)
        proc.send_signal(sig)
        assert proc.wait(timeout=20) != 0
    assert leftovers(run_name) == [] and _gone(server_pid)
    assert host_snapshot() == before


def test_cleanup_removes_a_killed_run_but_not_a_live_one() -> None:
    need_kernel()
    with _started_run() as (proc, prefix, server_pid):
        proc.kill()
        proc.wait(timeout=20)
    killed = parse_netns(prefix + "node")
    assert killed is not None
    debris = set(leftovers(killed))
    assert len(debris) == 11  # SIGKILL cannot be caught: the namespaces stay
    assert _gone(server_pid)  # but the Pod servers die with their parent
    with KernelNode(plan_topology(cluster(), CONFIG)) as live:
        removed = cleanup()
        assert debris <= set(removed)
        assert not any(ns.startswith(live.run.prefix) for ns in removed)
        assert leftovers(killed) == [] and len(leftovers(live.run)) == 11
    assert leftovers(live.run) == []


def test_cleanup_command_reports_what_it_removed(capsys: pytest.CaptureFixture[str]) -> None:
    need_kernel()
    with _started_run() as (proc, prefix, _):
        proc.kill()
        proc.wait(timeout=20)
    assert main(["kernel", "cleanup"]) == 0
    out = capsys.readouterr().out
    assert f"removed {prefix}node" in out
    assert main(["kernel", "cleanup"]) == 0
    assert f"{prefix}node" not in capsys.readouterr().out
