"""Property tests: the rendered rules, run by the tracer, do what kube-proxy promises.

- every ready endpoint is reachable through the cluster IP;
- the ``%0.10f`` probabilities multiply out to 1/n for each of n endpoints, within the error
  their ten printed decimals allow;
- a Service without usable endpoints never DNATs, whichever of its addresses is hit, from where.
"""

from __future__ import annotations

import kubernetes.client as k8s
from hypothesis import given, settings
from hypothesis import strategies as st

from svclab.api.manifests import build_object
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import render
from svclab.proxy.iptables.trace import trace
from svclab.proxy.packet import Packet, SourceKind

CONFIG = ProxyConfig(
    hostname_override="node-a", node_ips=["192.168.0.2"], cluster_cidr="10.0.0.0/8"
)
CLUSTER_IP, NODE_PORT, LB_IP, EXTERNAL_IP = "172.30.0.10", 30080, "198.51.100.7", "192.168.99.5"

endpoint = st.fixed_dictionaries(
    {
        "host": st.integers(1, 4000),
        "ready": st.booleans(),
        "serving": st.booleans(),
        "terminating": st.booleans(),
        "local": st.booleans(),
    }
)


def state_for(
    endpoints: list[dict], *, etp: str = "Cluster", affinity: bool = False
) -> ClusterState:
    service = build_object(
        k8s.V1Service,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "prop"},
            "spec": {
                "type": "LoadBalancer",
                "clusterIP": CLUSTER_IP,
                "externalIPs": [EXTERNAL_IP],
                "externalTrafficPolicy": etp,
                "healthCheckNodePort": 31000,
                "sessionAffinity": "ClientIP" if affinity else "None",
                "ports": [{"name": "http", "port": 80, "nodePort": NODE_PORT}],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": LB_IP}]}},
        },
    )
    slice_ = build_object(
        k8s.V1EndpointSlice,
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "web-1",
                "namespace": "prop",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": [f"10.{e['host'] // 250}.{e['host'] % 250}.9"],
                    "conditions": {
                        "ready": e["ready"],
                        "serving": e["serving"],
                        "terminating": e["terminating"],
                    },
                    "nodeName": "node-a" if e["local"] else "node-b",
                }
                for e in endpoints
            ],
            "ports": [{"name": "http", "port": 8080}],
        },
    )
    return ClusterState(services=[service], endpoint_slices=[slice_])


def addresses(endpoints: list[dict], predicate) -> set[str]:
    return {f"10.{e['host'] // 250}.{e['host'] % 250}.9:8080" for e in endpoints if predicate(e)}


@settings(max_examples=60, deadline=None)
@given(st.lists(endpoint, min_size=1, max_size=40, unique_by=lambda e: e["host"]), st.booleans())
def test_every_ready_endpoint_is_reachable(endpoints, affinity):
    text = render(state_for(endpoints, affinity=affinity), CONFIG)
    result = trace(text, Packet("10.200.0.1", CLUSTER_IP, 80), CONFIG)
    ready = addresses(endpoints, lambda e: e["ready"])
    fallback = addresses(endpoints, lambda e: e["serving"] and e["terminating"])
    expected = ready or fallback
    if expected:
        assert set(result.destinations) == expected
    else:
        assert result.verdict == "REJECT"


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300))
def test_probabilities_compose_to_uniform(n):
    endpoints = [
        {"host": i + 1, "ready": True, "serving": True, "terminating": False, "local": False}
        for i in range(n)
    ]
    result = trace(
        render(state_for(endpoints), CONFIG), Packet("10.200.0.1", CLUSTER_IP, 80), CONFIG
    )
    shares = result.destinations
    assert len(shares) == n
    # Each printed probability is off by at most 5e-11; a product of k such factors by about k times that.
    tolerance = n * 1e-10
    assert all(abs(p - 1 / n) <= tolerance for p in shares.values()), shares
    assert abs(sum(shares.values()) - 1) <= tolerance


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        endpoint.filter(lambda e: not e["ready"] and not (e["serving"] and e["terminating"])),
        max_size=5,
        unique_by=lambda e: e["host"],
    ),
    st.sampled_from(["Cluster", "Local"]),
    st.sampled_from(
        [
            (CLUSTER_IP, 80),
            (EXTERNAL_IP, 80),
            (LB_IP, 80),
            ("192.168.0.2", NODE_PORT),
            ("127.0.0.1", NODE_PORT),
        ]
    ),
    st.sampled_from(
        [
            ("10.200.0.1", SourceKind.POD),
            ("203.0.113.9", SourceKind.EXTERNAL),
            ("192.168.0.2", SourceKind.NODE),
        ]
    ),
)
def test_service_without_endpoints_never_dnats(endpoints, etp, destination, source):
    text = render(state_for(endpoints, etp=etp), CONFIG)
    result = trace(text, Packet(source[0], destination[0], destination[1]), CONFIG, source[1])
    assert "DNAT" not in result.verdict
    assert not result.destinations
