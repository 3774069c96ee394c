"""The kernel agrees with svclab's tracers on the same rules: verdicts, Pods, SNAT, distribution.

Expectations are the tracer's, which follows upstream's packet-flow tests
(`pkg/proxy/iptables/proxier_test.go` and `pkg/proxy/nftables/proxier_test.go`, the
`runPacketFlowTests` cases for NodePorts, LoadBalancers and externalTrafficPolicy Local). Sample
sizes and the significance are fixed in `svclab.kernel.agreement`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from kernel_helpers import CONFIG, cluster, need_kernel

from svclab.kernel.agreement import check
from svclab.kernel.load import render
from svclab.kernel.topology import KernelNode, plan_topology

pytestmark = pytest.mark.kernel

NODE, CLIENT, POD = "node", "client", "pod"
CASES = [
    # (from, address, port, what upstream's flow tests say happens)
    (NODE, "10.96.0.10", 80, "ClusterIP: any of three Pods, masqueraded (source is the node)"),
    (POD, "10.96.0.10", 80, "ClusterIP from web-a: hairpin to itself masqueraded, others not"),
    (CLIENT, "192.168.0.2", 30080, "NodePort, policy Cluster: any Pod, masqueraded"),
    (CLIENT, "192.0.2.100", 80, "LoadBalancer, policy Local: local Pods only, client IP kept"),
    (CLIENT, "192.168.0.2", 30081, "NodePort, policy Local: local Pods only, client IP kept"),
    (NODE, "192.0.2.100", 80, "LoadBalancer, policy Local, from the node: all Pods, masqueraded"),
    (CLIENT, "192.0.2.101", 80, "LoadBalancer, policy Local, no local Pod: dropped"),
    (NODE, "192.0.2.101", 80, "the same from the node: short-circuited to the remote Pod"),
    (NODE, "10.96.0.30", 80, "no endpoints: rejected"),
    (CLIENT, "192.168.0.2", 30082, "NodePort, policy Local, no local Pod: dropped"),
    (NODE, "127.0.0.1", 30080, "localhost NodePort: iptables only (nftables: nothing matches)"),
]


@pytest.fixture(scope="module", params=["iptables", "nftables"])
def loaded(request: pytest.FixtureRequest) -> Iterator[tuple[KernelNode, str, str]]:
    need_kernel()
    mode = request.param
    rules = render(mode, cluster(), CONFIG)
    with KernelNode(plan_topology(cluster(), CONFIG)) as node:
        node.load_rules(mode, rules)
        yield node, mode, rules


@pytest.mark.parametrize(
    ("source", "ip", "port", "why"), CASES, ids=[c[3].split(":")[0] + f" {c[0]}" for c in CASES]
)
def test_kernel_agrees_with_tracer(
    loaded: tuple[KernelNode, str, str], source: str, ip: str, port: int, why: str
) -> None:
    node, mode, rules = loaded
    agreement = check(node, mode, rules, CONFIG, source, ip, port)
    assert agreement.ok, agreement.format()


@pytest.mark.parametrize("source", [NODE, CLIENT])
def test_client_ip_affinity_keeps_each_client_on_one_pod(
    loaded: tuple[KernelNode, str, str], source: str
) -> None:
    """sessionAffinity ClientIP (upstream `TestSessionAffinity`-style flows): one Pod per client."""
    node, mode, rules = loaded
    agreement = check(node, mode, rules, CONFIG, source, "10.96.0.50", 80)
    # Either Pod may come first, then the kernel and the sampler both stick to it.
    assert len(agreement.expected) == 2 and len(agreement.observed) == 1, agreement.format()
    assert len(agreement.sampled) == 1, agreement.format()
    assert agreement.ok, agreement.format()


def test_localhost_nodeports_differ_between_modes(loaded: tuple[KernelNode, str, str]) -> None:
    """KEP-3866: nftables mode does not support localhost NodePorts; iptables mode does."""
    node, mode, rules = loaded
    agreement = check(node, mode, rules, CONFIG, NODE, "127.0.0.1", 30080)
    assert agreement.verdict == ("DNAT" if mode == "iptables" else "NO-MATCH")
    assert ("(refused)" in agreement.observed) == (mode == "nftables")


def test_a_kernel_running_other_rules_is_caught() -> None:
    """The check can fail: the kernel runs rules with --masquerade-all and a Service's endpoints
    narrowed to one Pod, while the tracer reads the plain rules."""
    need_kernel()
    state = cluster()
    [web] = [s for s in state.endpoint_slices if s.metadata.name == "web-1"]
    web.endpoints = web.endpoints[1:2]  # web-b only
    kernel_rules = render("iptables", state, replace(CONFIG, masquerade_all=True))
    traced_rules = render("iptables", cluster(), CONFIG)
    with KernelNode(plan_topology(cluster(), CONFIG)) as node:
        node.load_rules("iptables", kernel_rules)
        agreement = check(node, "iptables", traced_rules, CONFIG, POD, "10.96.0.10", 80)
    assert not agreement.ok
    assert set(agreement.observed) == {"web-b"}
    assert any("source addresses differ" in p for p in agreement.problems)
    assert any("distribution differs" in p for p in agreement.problems)
