"""Packet-flow tests ported from upstream, run through svclab's tracer on svclab's rendered rules.

Cases come from `runPacketFlowTests` calls in kubernetes/kubernetes
pkg/proxy/iptables/proxier_test.go (each group names its upstream test). Upstream's "output" is
the comma-joined DNAT destinations, or "REJECT"/"DROP"/"ACCEPT", or "" when nothing matched;
"masq" is whether the packet was marked for masquerading. svclab's tracer walks the kernel hooks
for the packet's source (node, pod or outside), rather than upstream's fixed list of chains.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from test_proxy_iptables_golden import upstream_fake

from svclab.api.manifests import load_manifests
from svclab.api.state import ClusterState
from svclab.proxy.iptables.render import render
from svclab.proxy.iptables.trace import trace
from svclab.proxy.packet import Packet, TraceResult

FLOWS = Path(__file__).parent.parent / "data" / "proxy" / "iptables" / "flows"
NODE_IP, NODE_IP_ALT, EXTERNAL_IP = "192.168.0.2", "192.168.1.2", "192.168.99.11"
CLIENT, CLIENT_BLOCKED, POD = "203.0.113.2", "203.0.113.130", "10.0.0.2"


class Flow(NamedTuple):
    name: str
    src: str
    dst: str
    dport: int
    output: str
    masq: bool = False
    proto: str = "tcp"


def upstream_output(result: TraceResult) -> str:
    """The tracer's result in upstream's `tracePacket` "output" form."""
    verdict = result.verdict
    if verdict == "DNAT":
        return ", ".join(result.destinations)
    return "" if verdict == "NO-MATCH" else verdict


def run_flows(text: str, config, flows: list[Flow]) -> None:
    failures = []
    for flow in flows:
        result = trace(text, Packet(flow.src, flow.dst, flow.dport, flow.proto), config)
        masq = any(o.masquerade for o in result.outcomes)
        if (upstream_output(result), masq) != (flow.output, flow.masq):
            failures.append(
                f"{flow.name}: got {upstream_output(result)!r} masq={masq}, "
                f"want {flow.output!r} masq={flow.masq}\n{result.format()}"
            )
    assert not failures, "\n\n".join(failures)


def rules_for(path: Path | str, config, endpoints: bool = True) -> str:
    state = ClusterState.from_manifests(
        load_manifests([FLOWS / path if isinstance(path, str) else path])
    )
    if not endpoints:
        state.endpoint_slices.clear()
    return render(state, config)


def test_trace_packet():
    """TestTracePacket: its static rules are TestOverallIPTablesRules' output."""
    config = upstream_fake()
    text = rules_for(FLOWS.parent / "overall.yaml", config)
    run_flows(
        text,
        config,
        [
            Flow("no match", "10.0.0.2", "10.0.0.3", 80, ""),
            Flow("single endpoint", "10.0.0.2", "172.30.0.41", 80, "10.180.0.1:80"),
            Flow(
                "multiple endpoints", "10.0.0.2", "172.30.0.44", 80, "10.180.0.4:80, 10.180.0.5:80"
            ),
            Flow("LOCAL, KUBE-MARK-MASQ", NODE_IP, "192.168.99.22", 80, "10.180.0.2:80", True),
            Flow("DROP", CLIENT, "192.168.99.22", 80, "DROP"),
            Flow("ACCEPT (NodePortHealthCheck)", NODE_IP, NODE_IP, 30000, "ACCEPT"),
            Flow("REJECT", "10.0.0.2", "172.30.0.46", 80, "REJECT"),
        ],
    )


def test_no_endpoints_reject():
    """TestNoEndpointsReject."""
    config = upstream_fake()
    run_flows(
        rules_for("no_endpoints_reject.yaml", config),
        config,
        [
            Flow("pod to cluster IP with no endpoints", POD, "172.30.0.41", 80, "REJECT"),
            Flow(
                "external to external IP with no endpoints", CLIENT, "192.168.99.11", 80, "REJECT"
            ),
            Flow("pod to NodePort with no endpoints", POD, NODE_IP, 3001, "REJECT"),
            Flow("external to NodePort with no endpoints", CLIENT, NODE_IP, 3001, "REJECT"),
            Flow("pod to LoadBalancer IP with no endpoints", POD, "1.2.3.4", 80, "REJECT"),
            Flow("external to LoadBalancer IP with no endpoints", CLIENT, "1.2.3.4", 80, "REJECT"),
        ],
    )


def test_cluster_ip_general():
    """TestClusterIPGeneral."""
    config = upstream_fake()
    src = "10.180.0.2"
    both = "10.180.0.1:{0}, 10.180.2.1:{0}"
    run_flows(
        rules_for("cluster_ip_general.yaml", config),
        config,
        [
            Flow("simple clusterIP", src, "172.30.0.41", 80, "10.180.0.1:80"),
            Flow("hairpin to cluster IP", "10.180.0.1", "172.30.0.41", 80, "10.180.0.1:80", True),
            Flow("clusterIP with multiple endpoints", src, "172.30.0.42", 80, both.format(80)),
            Flow("clusterIP with TargetPort", src, "172.30.0.42", 443, both.format(8443)),
            Flow(
                "TCP, UDP, and SCTP on same port (TCP)", src, "172.30.0.42", 53, both.format(5353)
            ),
            Flow(
                "TCP, UDP, and SCTP on same port (UDP)",
                src,
                "172.30.0.42",
                53,
                both.format(53),
                proto="udp",
            ),
            Flow(
                "TCP, UDP, and SCTP on same port (SCTP)",
                src,
                "172.30.0.42",
                53,
                both.format(53),
                proto="sctp",
            ),
            Flow(
                "TCP-only port does not match UDP traffic", src, "172.30.0.42", 80, "", proto="udp"
            ),
            Flow("svc1 does not accept svc2's ports", src, "172.30.0.41", 443, ""),
        ],
    )


def test_load_balancer():
    """TestLoadBalancer (source ranges 192.168.0.0/24 and 203.0.113.0/25)."""
    config = upstream_fake()
    ep = "10.180.0.1:80"
    run_flows(
        rules_for("load_balancer.yaml", config),
        config,
        [
            Flow("pod to cluster IP", POD, "172.30.0.41", 80, ep),
            Flow("external to nodePort", CLIENT, NODE_IP, 3001, ep, True),
            Flow(
                "nodePort bypasses LoadBalancerSourceRanges",
                CLIENT_BLOCKED,
                NODE_IP,
                3001,
                ep,
                True,
            ),
            Flow("accepted external to LB1", CLIENT, "1.2.3.4", 80, ep, True),
            Flow("accepted external to LB2", CLIENT, "5.6.7.8", 80, ep, True),
            Flow("blocked external to LB1", CLIENT_BLOCKED, "1.2.3.4", 80, "DROP"),
            Flow("blocked external to LB2", CLIENT_BLOCKED, "5.6.7.8", 80, "DROP"),
            Flow("pod to LB1 (blocked by LoadBalancerSourceRanges)", POD, "1.2.3.4", 80, "DROP"),
            Flow("pod to LB2 (blocked by LoadBalancerSourceRanges)", POD, "5.6.7.8", 80, "DROP"),
            Flow(
                "node to LB1 (allowed by LoadBalancerSourceRanges)",
                NODE_IP,
                "1.2.3.4",
                80,
                ep,
                True,
            ),
            Flow(
                "node to LB2 (allowed by LoadBalancerSourceRanges)",
                NODE_IP,
                "5.6.7.8",
                80,
                ep,
                True,
            ),
            Flow(
                "same node to LB1, SNATted to LB1 (implicitly allowed)",
                "1.2.3.4",
                "1.2.3.4",
                80,
                ep,
                True,
            ),
            Flow(
                "same node to LB2, SNATted to LB2 (implicitly allowed)",
                "5.6.7.8",
                "5.6.7.8",
                80,
                ep,
                True,
            ),
        ],
    )


@pytest.mark.parametrize(
    ("localhost", "addresses", "allow_alt"),
    [
        (True, [], True),  # "ipv4, localhost-nodeports enabled"
        (False, [], True),  # "ipv4, localhost-nodeports disabled"
        (False, ["192.168.0.0/24", "127.0.0.1/32"], False),  # "... localhost in nodeport-addresses"
        (
            False,
            ["192.168.0.0/24", "192.168.1.0/24", "2001:db8::/64"],
            True,
        ),  # "... multiple nodeport-addresses"
    ],
)
def test_node_ports(localhost, addresses, allow_alt):
    """TestNodePorts, its IPv4 cases."""
    config = upstream_fake(localhost_nodeports=localhost, nodeport_addresses=addresses)
    both = "10.180.0.1:80, 10.180.2.1:80"
    flows = [
        Flow("pod to cluster IP", POD, "172.30.0.41", 80, both),
        Flow("external to nodePort", CLIENT, NODE_IP, 3001, both, True),
        Flow("node to nodePort", NODE_IP, NODE_IP, 3001, both, True),
        Flow(
            "localhost to nodePort",
            "127.0.0.1",
            "127.0.0.1",
            3001,
            both if localhost else "",
            localhost,
        ),
        Flow(
            "external to nodePort on secondary IP",
            CLIENT,
            NODE_IP_ALT,
            3001,
            both if allow_alt else "",
            allow_alt,
        ),
    ]
    run_flows(rules_for(FLOWS.parent / "nodeports.yaml", config), config, flows)


def test_health_check_node_port():
    """TestHealthCheckNodePort (nodePortAddresses 127.0.0.0/8), and after the Service is deleted."""
    config = upstream_fake(nodeport_addresses=["127.0.0.0/8"])
    flow = Flow("firewall accepts HealthCheckNodePort", "1.2.3.4", NODE_IP, 30000, "ACCEPT")
    run_flows(rules_for("health_check_node_port.yaml", config), config, [flow])
    run_flows(render(ClusterState(), config), config, [flow._replace(output="")])


def test_external_traffic_policy_local():
    """TestExternalTrafficPolicyLocal."""
    config = upstream_fake()
    both, local = "10.180.0.1:80, 10.180.2.1:80", "10.180.2.1:80"
    run_flows(
        rules_for("etp_local.yaml", config),
        config,
        [
            Flow("pod to cluster IP hits both endpoints", POD, "172.30.0.41", 80, both),
            Flow("pod to external IP hits both endpoints", POD, EXTERNAL_IP, 80, both),
            Flow(
                "external to external IP hits only local endpoint", CLIENT, EXTERNAL_IP, 80, local
            ),
            Flow("pod to LB IP hits only both endpoints", POD, "1.2.3.4", 80, both),
            Flow("external to LB IP hits only local endpoint", CLIENT, "1.2.3.4", 80, local),
            Flow("pod to NodePort hits both endpoints", POD, NODE_IP, 3001, both),
            Flow("external to NodePort hits only local endpoint", CLIENT, NODE_IP, 3001, local),
        ],
    )


def test_external_traffic_policy_cluster():
    """TestExternalTrafficPolicyCluster."""
    config = upstream_fake()
    both = "10.180.0.1:80, 10.180.2.1:80"
    run_flows(
        rules_for("etp_cluster.yaml", config),
        config,
        [
            Flow(
                "pod to cluster IP hits both endpoints, unmasqueraded", POD, "172.30.0.41", 80, both
            ),
            Flow(
                "pod to external IP hits both endpoints, masqueraded",
                POD,
                EXTERNAL_IP,
                80,
                both,
                True,
            ),
            Flow(
                "external to external IP hits both endpoints, masqueraded",
                CLIENT,
                EXTERNAL_IP,
                80,
                both,
                True,
            ),
            Flow("pod to LB IP hits both endpoints, masqueraded", POD, "1.2.3.4", 80, both, True),
            Flow(
                "external to LB IP hits both endpoints, masqueraded",
                CLIENT,
                "1.2.3.4",
                80,
                both,
                True,
            ),
            Flow(
                "pod to NodePort hits both endpoints, masqueraded", POD, NODE_IP, 3001, both, True
            ),
            Flow(
                "external to NodePort hits both endpoints, masqueraded",
                CLIENT,
                NODE_IP,
                3001,
                both,
                True,
            ),
        ],
    )


@pytest.mark.parametrize(
    ("case", "output"),
    [
        ("itp_cluster", "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80"),
        ("itp_local_one", "10.0.1.1:80"),
        ("itp_local_many", "10.0.1.1:80, 10.0.1.2:80"),
        ("itp_local_none", "DROP"),
    ],
)
def test_internal_traffic_policy(case, output):
    """TestInternalTrafficPolicy, then "endpoints deleted"."""
    config = upstream_fake()
    flow = Flow("pod to ClusterIP", POD, "172.30.1.1", 80, output)
    run_flows(rules_for(f"{case}.yaml", config), config, [flow])
    run_flows(
        rules_for(f"{case}.yaml", config, endpoints=False), config, [flow._replace(output="REJECT")]
    )


@pytest.mark.parametrize(
    ("case", "pod_output", "external_output", "external_masq"),
    [
        (
            "term_local_ready",
            "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80",
            "10.0.1.1:80, 10.0.1.2:80",
            False,
        ),
        ("term_local_terminating", "10.0.1.5:80", "10.0.1.2:80, 10.0.1.3:80", False),
        ("term_local_remote", "10.0.1.5:80", "DROP", False),
        ("term_local_none", "REJECT", "REJECT", False),
        (
            "term_cluster_ready",
            "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80",
            "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80",
            True,
        ),
        (
            "term_cluster_terminating",
            "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80",
            "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80",
            True,
        ),
        ("term_cluster_remote", "10.0.1.5:80", "10.0.1.5:80", True),
        ("term_cluster_none", "REJECT", "REJECT", False),
    ],
)
def test_terminating_endpoints(case, pod_output, external_output, external_masq):
    """TestTerminatingEndpointsTrafficPolicyLocal and …Cluster, then "after endpoints deleted"."""
    config = upstream_fake()
    flows = [
        Flow("pod to clusterIP", POD, "172.30.1.1", 80, pod_output),
        Flow("external to LB", CLIENT, "1.2.3.4", 80, external_output, external_masq),
    ]
    run_flows(rules_for(f"{case}.yaml", config), config, flows)
    deleted = [f._replace(output="REJECT", masq=False) for f in flows]
    run_flows(rules_for(f"{case}.yaml", config, endpoints=False), config, deleted)


ALL1, ALL2, ALL3 = (
    "10.180.0.1:80, 10.180.1.1:80",
    "10.180.0.2:80, 10.180.1.2:80",
    "10.180.0.3:80, 10.180.1.3:80",
)
MASQUERADE_FLOWS = [
    Flow("pod to ClusterIP", POD, "172.30.0.41", 80, ALL1, False),
    Flow("pod to NodePort", POD, NODE_IP, 3001, ALL1, True),
    Flow("pod to LB", POD, "1.2.3.4", 80, ALL1, True),
    Flow("node to ClusterIP", NODE_IP, "172.30.0.41", 80, ALL1, True),
    Flow("node to NodePort", NODE_IP, NODE_IP, 3001, ALL1, True),
    Flow("localhost to NodePort", "127.0.0.1", "127.0.0.1", 3001, ALL1, True),
    Flow("node to LB", NODE_IP, "1.2.3.4", 80, ALL1, True),
    Flow("external to ClusterIP", CLIENT, "172.30.0.41", 80, ALL1, True),
    Flow("external to NodePort", CLIENT, NODE_IP, 3001, ALL1, True),
    Flow("external to LB", CLIENT, "1.2.3.4", 80, ALL1, True),
    Flow("pod to ClusterIP with eTP:Local", POD, "172.30.0.42", 80, ALL2, False),
    Flow("pod to NodePort with eTP:Local", POD, NODE_IP, 3002, ALL2, False),
    Flow("pod to LB with eTP:Local", POD, "5.6.7.8", 80, ALL2, False),
    Flow("node to ClusterIP with eTP:Local", NODE_IP, "172.30.0.42", 80, ALL2, True),
    Flow("node to NodePort with eTP:Local", NODE_IP, NODE_IP, 3001, ALL1, True),
    Flow("localhost to NodePort with eTP:Local", "127.0.0.1", "127.0.0.1", 3002, ALL2, True),
    Flow("node to LB with eTP:Local", NODE_IP, "5.6.7.8", 80, ALL2, True),
    Flow("external to ClusterIP with eTP:Local", CLIENT, "172.30.0.42", 80, ALL2, True),
    Flow("external to NodePort with eTP:Local", CLIENT, NODE_IP, 3002, "10.180.0.2:80", False),
    Flow("external to LB with eTP:Local", CLIENT, "5.6.7.8", 80, "10.180.0.2:80", False),
    Flow("pod to ClusterIP with iTP:Local", POD, "172.30.0.43", 80, "10.180.0.3:80", False),
    Flow("pod to NodePort with iTP:Local", POD, NODE_IP, 3003, ALL3, True),
    Flow("pod to LB with iTP:Local", POD, "9.10.11.12", 80, ALL3, True),
    Flow("node to ClusterIP with iTP:Local", NODE_IP, "172.30.0.43", 80, "10.180.0.3:80", True),
    Flow("node to NodePort with iTP:Local", NODE_IP, NODE_IP, 3003, ALL3, True),
    Flow("localhost to NodePort with iTP:Local", "127.0.0.1", "127.0.0.1", 3003, ALL3, True),
    Flow("node to LB with iTP:Local", NODE_IP, "9.10.11.12", 80, ALL3, True),
    Flow("external to ClusterIP with iTP:Local", CLIENT, "172.30.0.43", 80, "10.180.0.3:80", True),
    Flow("external to NodePort with iTP:Local", CLIENT, NODE_IP, 3003, ALL3, True),
    Flow("external to LB with iTP:Local", CLIENT, "9.10.11.12", 80, ALL3, True),
]
NO_DETECTOR = {
    "node to ClusterIP": {"masq": False},
    "node to ClusterIP with eTP:Local": {"masq": False},
    "node to ClusterIP with iTP:Local": {"masq": False},
    "external to ClusterIP": {"masq": False},
    "external to ClusterIP with eTP:Local": {"masq": False},
    "external to ClusterIP with iTP:Local": {"masq": False},
    "pod to NodePort with eTP:Local": {"output": "10.180.0.2:80"},
    "pod to LB with eTP:Local": {"output": "10.180.0.2:80"},
}
MASQUERADE_ALL = {
    "pod to ClusterIP": {"masq": True},
    "pod to ClusterIP with eTP:Local": {"masq": True},
    "pod to ClusterIP with iTP:Local": {"masq": True},
}


@pytest.mark.parametrize(
    ("masquerade_all", "detector", "overrides"),
    [
        (False, True, {}),  # "base"
        (False, False, NO_DETECTOR),  # "no LocalTrafficDetector"
        (True, True, MASQUERADE_ALL),  # "masqueradeAll"
        (
            True,
            False,
            {**MASQUERADE_ALL, **{k: v for k, v in NO_DETECTOR.items() if "output" in v}},
        ),
    ],
)
def test_internal_external_masquerade(masquerade_all, detector, overrides):
    """TestInternalExternalMasquerade, all four test cases with their overrides."""
    config = upstream_fake(
        masquerade_all=masquerade_all, cluster_cidr="10.0.0.0/8" if detector else None
    )
    flows = [f._replace(**overrides.get(f.name, {})) for f in MASQUERADE_FLOWS]
    run_flows(rules_for("internal_external_masquerade.yaml", config), config, flows)
