"""`observe`, what notebooks call: the kernel where it runs, else the tracer, with the same rows.

What the Pods see follows upstream's packet-flow tests for externalTrafficPolicy
(`pkg/proxy/iptables/proxier_test.go` and `pkg/proxy/nftables/proxier_test.go`,
`TestExternalTrafficPolicyLocal` / `TestExternalTrafficPolicyCluster`): policy Cluster
masquerades to the node's address and may pick any Pod; policy Local keeps the client's address
and picks local Pods only; Local with no local Pod drops. No endpoints: rejected (kube-proxy
facts §1.7). Localhost NodePorts exist in iptables mode only (KEP-3866).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
from conftest import require
from kernel_helpers import CONFIG, MANIFESTS, cluster, need_kernel

from svclab.cli.kernel import lab_report
from svclab.kernel import KernelUnavailable
from svclab.kernel.agreement import agree
from svclab.kernel.lab import LabRun, observe
from svclab.kernel.observe import saved_probability

MODES = ["iptables", "nftables"]
COLUMNS = ["SERVICE", "ADDRESS", "POD", "CLIENT SEEN", "CONNECTIONS"]
NODE_IP, CLIENT_IP = "192.168.0.2", "203.0.113.10"


def pods_by_address(run: LabRun) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for row in run.rows():
        found.setdefault(str(row["ADDRESS"]), set()).add(str(row["POD"]))
    return found


@pytest.mark.parametrize("mode", MODES)
def test_the_tracer_fallback_shows_snat_client_ips_and_drops(mode: str) -> None:
    run = observe(cluster(), CONFIG, mode, connections=30, use_kernel=False)
    assert run.ran == "tracer" and run.why.startswith("use_kernel=False")
    rows = run.rows()
    assert all(list(row) == COLUMNS for row in rows)
    assert {str(r["ADDRESS"]) for r in rows} == {  # from outside: no ClusterIPs
        f"NodePort {NODE_IP}:30080",
        f"NodePort {NODE_IP}:30081",
        f"NodePort {NODE_IP}:30082",
        "LoadBalancer 192.0.2.100:80",
        "LoadBalancer 192.0.2.101:80",
    }
    pods, seen = pods_by_address(run), run.seen()
    assert pods[f"NodePort {NODE_IP}:30080"] <= {"web-a", "web-b", "web-c"}
    assert seen[f"NodePort {NODE_IP}:30080"] == NODE_IP  # Cluster: SNAT
    for address in (f"NodePort {NODE_IP}:30081", "LoadBalancer 192.0.2.100:80"):
        assert pods[address] <= {"lb-a", "lb-b"}  # Local: never the remote lb-c
        assert seen[address] == CLIENT_IP  # Local: client IP kept
    for address in (f"NodePort {NODE_IP}:30082", "LoadBalancer 192.0.2.101:80"):
        assert seen[address] == "(timeout)"  # Local, no local Pod: dropped
    totals: dict[str, int] = {}
    for row in rows:
        totals[str(row["ADDRESS"])] = totals.get(str(row["ADDRESS"]), 0) + int(row["CONNECTIONS"])
    assert set(totals.values()) == {30}
    answered = sum(int(r["CONNECTIONS"]) for r in rows if not str(r["POD"]).startswith("("))
    assert len(run.conntrack) == answered == 90
    assert run.masqueraded() == {NODE_IP: 30}
    assert len(run.conntrack_rows(per_address=1)) == 3  # the three addresses that answer
    assert all(a.ok for a in agree(run, cluster(), CONFIG))
    if mode == "iptables":
        assert sum(int(r["PACKETS"]) for r in run.counter_rows()) == answered
    else:
        assert run.counter_rows() == []
    assert "not run in a kernel: use_kernel=False" in lab_report(run)


@pytest.mark.parametrize("mode", MODES)
def test_the_tracer_fallback_from_the_node_rejects_and_knows_localhost_nodeports(mode: str) -> None:
    run = observe(cluster(), CONFIG, mode, source="node", connections=4, use_kernel=False)
    seen = run.seen()
    assert seen["ClusterIP 10.96.0.30:80"] == "(refused)"  # no endpoints: REJECT
    localhost = seen["NodePort 127.0.0.1:30080"]
    # iptables: DNATed and masqueraded; nftables: no rule, and nothing listens on the node.
    assert localhost == (NODE_IP if mode == "iptables" else "(refused)")


def test_the_tracer_fallback_is_reproducible_with_its_seed() -> None:
    def rows(seed: int) -> list[dict]:
        run = observe(cluster(), CONFIG, "iptables", connections=20, seed=seed, use_kernel=False)
        return run.rows()

    assert rows(1) == rows(1)
    assert rows(1) != rows(2)  # 20 draws over 3 Pods: the seeds' splits differ


def test_agree_catches_a_run_of_other_rules() -> None:
    """The check can fail: a run with lb-local switched to policy Cluster, compared against the
    rules of policy Local, reaches a remote Pod and shows the node's address."""
    state = cluster()
    [lb] = [s for s in state.services if s.metadata.name == "lb-local"]
    lb.spec.external_traffic_policy = "Cluster"
    run = observe(state, CONFIG, "iptables", connections=30, use_kernel=False)
    local = observe(cluster(), CONFIG, "iptables", connections=1, use_kernel=False)
    problems = [
        p for a in agree(replace(run, rules=local.rules), cluster(), CONFIG) for p in a.problems
    ]
    assert any("source addresses differ" in p for p in problems)
    assert any("never sends to" in p and "lb-c" in p for p in problems)


def test_off_linux_observe_falls_back_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """This machine is Linux, so another platform can only be pretended (sys.platform)."""
    monkeypatch.setattr(sys, "platform", "darwin")
    run = observe(cluster(), CONFIG, "nftables", connections=2)
    assert run.ran == "tracer" and run.why.endswith("this is darwin.")
    with pytest.raises(KernelUnavailable, match="needs root on Linux"):
        observe(cluster(), CONFIG, "nftables", connections=2, use_kernel=True)


@pytest.mark.kernel
def test_a_reader_without_root_gets_the_tracer() -> None:
    """Run for real as `nobody`, as a reader's notebook would."""
    require(os.geteuid() == 0 and shutil.which("setpriv") is not None,
            "demoting to nobody needs root and setpriv (util-linux)")  # fmt: skip
    probe = (
        "from svclab.kernel.lab import observe; from svclab.api.manifests import load_manifests; "
        "from svclab.api.state import ClusterState; from svclab.proxy.config import ProxyConfig; "
        f"state = ClusterState.from_manifests(load_manifests([{str(MANIFESTS)!r}])); "
        "run = observe(state, ProxyConfig(hostname_override='node-a'), 'iptables', connections=3); "
        "print(run.ran); print(run.why)"
    )
    env = {**os.environ, "HOME": "/tmp", "MPLCONFIGDIR": "/tmp"}
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-c", probe],
        capture_output=True, text=True, env=env, cwd="/tmp", check=True,
    )  # fmt: skip
    ran, why = done.stdout.splitlines()
    assert ran == "tracer" and "not root" in why and done.stderr == ""


@pytest.mark.kernel
@pytest.mark.parametrize("mode", MODES)
def test_the_kernel_and_the_fallback_agree_on_what_chance_does_not_decide(mode: str) -> None:
    need_kernel()
    kernel = observe(cluster(), CONFIG, mode, connections=12, timeout=0.5)
    traced = observe(cluster(), CONFIG, mode, connections=12, use_kernel=False)
    assert kernel.ran == "kernel" and traced.ran == "tracer"
    assert kernel.why.endswith("the kernel lab can run.")
    assert all(list(r) == COLUMNS for r in kernel.rows())
    assert [r.target for r in kernel.results] == [r.target for r in traced.results]
    assert kernel.seen() == traced.seen()
    for run in (kernel, traced):  # Pods outside the tracer's choices never answer
        assert all(a.ok for a in agree(run, cluster(), CONFIG)), lab_report(run)
    assert kernel.masqueraded() == traced.masqueraded()
    assert len(kernel.conntrack) == len(traced.conntrack)
    if mode == "iptables":  # the kernel keeps p x 2^31 and prints it back with 11 decimals
        written = set(re.findall(r"--probability (\S+)", kernel.rules))
        saved = {p for c in kernel.counters for p in re.findall(r"--probability (\S+)", c.rule)}
        assert written == {"0.3333333333", "0.5000000000"}
        assert (
            saved == {saved_probability(p) for p in written} == {"0.33333333349", "0.50000000000"}
        )
