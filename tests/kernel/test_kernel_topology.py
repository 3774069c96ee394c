"""The namespace topology: routes work, and nothing survives an exit or an interruption."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from kernel_helpers import CONFIG, cluster, host_snapshot, leftovers, need_kernel

from svclab.kernel.drive import connect_many
from svclab.kernel.load import render
from svclab.kernel.system import KernelError, run
from svclab.kernel.topology import STAGES, KernelNode, plan_topology


def test_plan_has_one_pod_per_endpoint_ip_with_its_tcp_ports() -> None:
    plan = plan_topology(cluster(), CONFIG)
    names = [p.name for p in plan.pods]
    assert names == [
        "web-a",
        "web-b",
        "lb-a",
        "lb-b",
        "sticky-a",
        "sticky-b",
        "web-c",
        "lb-c",
        "far-a",
    ]
    assert {p.ports for p in plan.pods} == {(8080,)}
    assert plan.node_ips == ("192.168.0.2",) and not any(p.host_network for p in plan.pods)


def test_plan_refuses_a_client_address_that_is_taken() -> None:
    plan = plan_topology(cluster(), CONFIG, client_ip="10.244.1.2")
    with pytest.raises(KernelError, match=r"client address 10\.244\.1\.2"):
        KernelNode(plan)


@pytest.mark.kernel
def test_every_pod_answers_from_node_client_and_pod_without_nat() -> None:
    """No rules loaded: each Pod answers with its own name and sees the caller's own address."""
    need_kernel()
    plan = plan_topology(cluster(), CONFIG)
    with KernelNode(plan) as node:
        sources = {
            node.node: "192.168.0.2",
            node.client: "203.0.113.10",
            node.pod_netns["web-a"]: "10.244.1.2",
        }
        for netns, source_ip in sources.items():
            for pod in plan.pods:
                [conn] = connect_many(netns, pod.ip, 8080, 1)
                assert (conn.outcome, conn.pod, conn.client_ip) == ("ok", pod.name, source_ip)


@pytest.mark.kernel
def test_nothing_is_left_and_the_host_is_untouched() -> None:
    need_kernel()
    before = host_snapshot()
    with KernelNode(plan_topology(cluster(), CONFIG)) as node:
        node.load_rules("iptables", render("iptables", cluster(), CONFIG))
        server = node.server
        assert server is not None and server.poll() is None
        assert len(leftovers(node.run)) == 2 + 9  # node, client and nine Pods
    assert leftovers(node.run) == []
    assert server.poll() is not None and not Path(f"/proc/{server.pid}").exists()
    assert host_snapshot() == before


def _interrupt_with(kind: str) -> None:
    if kind == "raise":
        raise RuntimeError("injected failure")
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.kernel
@pytest.mark.parametrize("kind", ["raise", "sigint"])
@pytest.mark.parametrize("stage", STAGES)
def test_an_interrupted_run_leaves_nothing(stage: str, kind: str) -> None:
    """An exception or Ctrl-C after each setup stage: the run's namespaces and server are gone."""
    need_kernel()
    before = host_snapshot()
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)]
    servers = []

    def hook(done: str) -> None:
        if node.server is not None:
            servers.append(node.server)
        if done == stage:
            _interrupt_with(kind)

    node = KernelNode(plan_topology(cluster(), CONFIG), on_stage=hook)
    with pytest.raises(RuntimeError if kind == "raise" else KeyboardInterrupt), node:
        node.load_rules("nftables", render("nftables", cluster(), CONFIG))
        pytest.fail("the interruption did not happen")  # pragma: no cover
    assert leftovers(node.run) == []
    assert all(s.poll() is not None for s in servers)
    assert host_snapshot() == before
    assert [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)] == handlers


@pytest.mark.kernel
def test_a_lost_syn_is_counted_as_a_retransmission() -> None:
    """The "no retries" check is real: drop every other SYN at a Pod, and TCP's retry shows."""
    need_kernel()
    plan = plan_topology(cluster(), CONFIG)
    with KernelNode(plan) as node:
        pod = node.pod_netns["web-a"]
        drop_first_syn = "-p tcp --syn -m statistic --mode nth --every 2 --packet 0 -j DROP"
        run(["iptables", "-A", "INPUT", *drop_first_syn.split()], netns=pod)
        [clean] = connect_many(node.node, "10.244.1.3", 8080, 1)
        [retried] = connect_many(node.node, "10.244.1.2", 8080, 1)
    assert (clean.outcome, clean.retransmits) == ("ok", 0)
    assert (retried.outcome, retried.pod) == ("ok", "web-a") and retried.retransmits >= 1
