"""Packet flows through the rendered IPVS-mode rules (ipsets, iptables, virtual servers).

Expectations follow the rules' intent as kubernetes/kubernetes `pkg/proxy/ipvs/proxier.go`
states it: masquerade off-cluster sources to a ClusterIP (`localDetector.IfNotLocal`),
hairpin via KUBE-LOOP-BACK, KUBE-LOAD-BALANCER marks unless ETP=Local, source ranges via
KUBE-SOURCE-RANGES-FIREWALL, and KUBE-IPVS-FILTER rejecting other ports on VIPs
(kubernetes/kubernetes#72236).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from svclab.api.manifests import load_manifests, load_text
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.ipvs.render import render
from svclab.proxy.ipvs.trace import IPVSTracer, trace
from svclab.proxy.packet import Packet

DATA = Path(__file__).parents[1] / "data" / "proxy_ipvs"
CONFIG = ProxyConfig(
    hostname_override="node-1", node_ips=["192.168.0.2"], cluster_cidr="10.244.0.0/16"
)


@pytest.fixture(scope="module")
def ipvs():
    state = ClusterState.from_manifests(load_manifests([DATA / "mixed.yaml"]))
    return IPVSTracer(render(state, CONFIG), CONFIG)


def test_pod_to_cluster_ip_reaches_every_endpoint_unmasqueraded(ipvs):
    result = ipvs.trace(Packet("10.244.1.20", "10.96.0.20", 9000))
    assert result.verdict == "DNAT"
    assert result.destinations == {"10.244.1.8:9000": 0.5, "10.244.2.9:9000": 0.5}
    assert result.masquerade is False
    assert result.lookups > 1  # set lookups plus the IPVS service lookup


def test_off_cluster_source_to_cluster_ip_is_masqueraded(ipvs):
    assert ipvs.trace(Packet("203.0.113.9", "10.96.0.20", 9000)).masquerade is True


def test_hairpin_through_the_vip_is_masqueraded(ipvs):
    """A pod reaching its own Service and landing on itself: KUBE-LOOP-BACK masquerades."""
    outcomes = {
        o.destination: o.masquerade
        for o in ipvs.trace(Packet("10.244.1.8", "10.96.0.20", 9000)).outcomes
    }
    assert outcomes == {"10.244.1.8:9000": True, "10.244.2.9:9000": False}


def test_udp_service(ipvs):
    result = ipvs.trace(Packet("10.244.1.20", "10.96.0.53", 53, "udp"))
    assert result.destinations == {"10.244.3.3:53": 1.0}


def test_service_without_endpoints_never_dnats(ipvs):
    result = ipvs.trace(Packet("10.244.1.20", "10.96.0.99", 8443))
    assert result.verdict == "NO-MATCH" and result.destinations == {}


def test_other_port_on_a_vip_is_rejected(ipvs):
    """KUBE-IPVS-FILTER: a new connection to a kube-ipvs0 address on a port with no Service."""
    assert ipvs.trace(Packet("10.244.1.20", "10.96.0.20", 22)).verdict == "REJECT"


def test_load_balancer_source_ranges(ipvs):
    """In range: DNAT to the local endpoint only (ETP Local), source kept; out of range: DROP."""
    allowed = ipvs.trace(Packet("203.0.113.9", "198.51.100.4", 80))
    assert allowed.destinations == {"10.244.1.5:8080": 1.0} and allowed.masquerade is False
    assert ipvs.trace(Packet("198.18.0.1", "198.51.100.4", 80)).verdict == "DROP"


def test_node_port_local_policy_keeps_source(ipvs):
    result = ipvs.trace(Packet("203.0.113.9", "192.168.0.2", 30080))
    assert result.destinations == {"10.244.1.5:8080": 1.0}
    assert result.masquerade is False


def test_node_port_cluster_policy_masquerades():
    text = """
apiVersion: v1
kind: Service
metadata: {name: np, namespace: ns1}
spec: {type: NodePort, clusterIP: 10.96.0.5, ports: [{port: 80, nodePort: 30001}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: np-1, namespace: ns1, labels: {kubernetes.io/service-name: np}}
addressType: IPv4
endpoints: [{addresses: [10.244.2.2], nodeName: node-2}]
ports: [{port: 8080}]
"""
    ipvs = IPVSTracer(render(ClusterState.from_manifests(load_text(text, "test")), CONFIG), CONFIG)
    result = ipvs.trace(Packet("203.0.113.9", "192.168.0.2", 30001))
    assert result.destinations == {"10.244.2.2:8080": 1.0} and result.masquerade is True


def test_cost_does_not_grow_with_services():
    """One hash lookup finds the virtual server whatever the table size: the first-packet cost
    for 1 and 200 Services is the same (the lesson IPVS mode teaches)."""

    def cost(n: int) -> tuple[int, int]:
        docs = []
        for i in range(n):
            docs.append(
                f"""apiVersion: v1
kind: Service
metadata: {{name: s{i}, namespace: ns1}}
spec: {{clusterIP: 10.96.{i // 250}.{i % 250 + 1}, ports: [{{port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: s{i}-1, namespace: ns1, labels: {{kubernetes.io/service-name: s{i}}}}}
addressType: IPv4
endpoints: [{{addresses: [10.244.9.{i % 250 + 1}]}}]
ports: [{{port: 8080}}]
"""
            )
        ipvs = IPVSTracer(
            render(ClusterState.from_manifests(load_text("---\n".join(docs), "test")), CONFIG),
            CONFIG,
        )
        result = ipvs.trace(Packet("10.244.1.20", "10.96.0.1", 80))
        assert result.verdict == "DNAT"
        return result.evaluated, result.lookups

    assert cost(1) == cost(200)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 8), ready=st.lists(st.booleans(), min_size=8, max_size=8))
def test_every_ready_endpoint_is_reachable(n: int, ready: list[bool]):
    """Property: the ClusterIP reaches exactly the ready endpoints (terminating fallback aside),
    probabilities add up to 1, and with none ready there is no DNAT."""
    endpoints = ", ".join(
        f"{{addresses: [10.244.5.{i + 1}], conditions: {{ready: {str(ready[i]).lower()}, serving: false}}}}"
        for i in range(n)
    )
    text = f"""
apiVersion: v1
kind: Service
metadata: {{name: p, namespace: ns1}}
spec: {{clusterIP: 10.96.7.7, ports: [{{port: 80}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: p-1, namespace: ns1, labels: {{kubernetes.io/service-name: p}}}}
addressType: IPv4
endpoints: [{endpoints}]
ports: [{{port: 8080}}]
"""
    rendered = render(ClusterState.from_manifests(load_text(text, "test")), CONFIG)
    result = trace(rendered, Packet("10.244.1.20", "10.96.7.7", 80), CONFIG)
    expected = {f"10.244.5.{i + 1}:8080" for i in range(n) if ready[i]}
    assert set(result.destinations) == expected
    if expected:
        assert abs(sum(result.destinations.values()) - 1.0) < 1e-9
    else:
        assert result.verdict == "NO-MATCH"
