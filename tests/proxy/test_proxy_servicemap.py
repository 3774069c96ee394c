"""kube-proxy's view of Services and EndpointSlices (upstream pkg/proxy/service.go,
endpointslicecache.go, topology.go; TestBuildServiceMapServiceHeadless / …TypeExternalName)."""

from __future__ import annotations

from svclab.api.manifests import load_text
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.servicemap import build_service_ports
from svclab.proxy.topology import categorize_endpoints

CONFIG = ProxyConfig(hostname_override="node-a")


def ports(text: str):
    return build_service_ports(ClusterState.from_manifests(load_text(text)), CONFIG)


def test_headless_and_external_name_are_skipped():
    """TestBuildServiceMapServiceHeadless, TestBuildServiceMapServiceTypeExternalName."""
    assert (
        ports("""
apiVersion: v1
kind: Service
metadata: {name: headless}
spec: {clusterIP: None, ports: [{name: rpc, port: 1234, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, clusterIP: 172.30.55.4, externalName: foo2.bar.com, ports: [{port: 1235}]}
""")
        == []
    )


def test_health_check_port_only_for_load_balancer_with_local_policy():
    """NeedsHealthCheck (TestBuildServiceMapAddRemove): a Cluster-policy healthCheckNodePort is ignored."""
    found = ports("""
apiVersion: v1
kind: Service
metadata: {name: local, namespace: somewhere}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 345, clusterIP: 172.30.55.12,
       ports: [{name: a, port: 8677, nodePort: 30063}]}
---
apiVersion: v1
kind: Service
metadata: {name: cluster, namespace: somewhere}
spec: {type: LoadBalancer, externalTrafficPolicy: Cluster, healthCheckNodePort: 346, clusterIP: 172.30.55.11,
       ports: [{name: a, port: 8675, nodePort: 30061}]}
""")
    assert {p.service: p.health_check_node_port for p in found} == {"cluster": 0, "local": 345}


def test_source_ranges_trimmed_filtered_and_zero_means_any():
    found = ports("""
apiVersion: v1
kind: Service
metadata: {name: a}
spec: {type: LoadBalancer, clusterIP: 172.30.0.1, ports: [{port: 80}],
       loadBalancerSourceRanges: [" 203.0.113.7/25 ", "2001:db8::/64", "junk"]}
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec: {type: LoadBalancer, clusterIP: 172.30.0.2, ports: [{port: 80}],
       loadBalancerSourceRanges: [10.0.0.0/8, 0.0.0.0/0]}
""")
    assert [p.source_ranges for p in found] == [("203.0.113.0/25",), ()]


def test_endpoints_dedup_local_wins_sorted_as_strings_ipv6_and_fqdn_ignored():
    [port] = ports("""
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {clusterIP: 172.30.0.1, ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-a, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.10], nodeName: node-b}, {addresses: [10.0.0.9]}]
ports: [{name: http, port: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-b, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.10], nodeName: node-a}]
ports: [{name: http, port: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-c, labels: {kubernetes.io/service-name: web}}
addressType: IPv6
endpoints: [{addresses: ["fd00::1"]}]
ports: [{name: http, port: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-d, labels: {kubernetes.io/service-name: web}}
addressType: FQDN
endpoints: [{addresses: [example.com]}]
ports: [{name: http, port: 8080}]
""")
    assert [(ep.address, ep.is_local) for ep in port.endpoints] == [
        ("10.0.0.10:8080", True),
        ("10.0.0.9:8080", False),
    ]


def test_zone_hints_narrow_cluster_endpoints_when_node_zone_matches():
    text = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {clusterIP: 172.30.0.1, ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-a, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints:
- {addresses: [10.0.0.1], hints: {forZones: [{name: zone-a}]}}
- {addresses: [10.0.0.2], hints: {forZones: [{name: zone-b}]}}
ports: [{port: 8080}]
"""
    [port] = ports(text)
    in_a = categorize_endpoints(port, ProxyConfig(hostname_override="node-a", node_zone="zone-a"))
    unlabelled = categorize_endpoints(port, CONFIG)
    assert [ep.ip for ep in in_a.cluster] == ["10.0.0.1"]
    assert [ep.ip for ep in unlabelled.cluster] == ["10.0.0.1", "10.0.0.2"]
