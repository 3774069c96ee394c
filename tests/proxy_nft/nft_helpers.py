"""Helpers for the nftables tests: upstream's fake proxier configuration and the test data."""

from __future__ import annotations

from pathlib import Path

from svclab.api.manifests import load_manifests
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import TraceResult

DATA = Path(__file__).parent.parent / "data" / "proxy_nft"

# Upstream's NewFakeProxier (kubernetes/kubernetes pkg/proxy/nftables/proxier_test.go@81810de6):
# node "test-node" with the IPv4 addresses of testNodeIPs (primary 192.168.0.2), pod CIDR
# 10.0.0.0/8 as local-traffic detector, mark 0x4000, --nodeport-addresses 192.168.0.2/32 and
# ServiceCIDR 172.30.0.0/16.
FAKE_PROXIER = {
    "hostname_override": "test-node",
    "node_ips": ("192.168.0.2", "192.168.1.2", "192.168.99.11"),
    "cluster_cidr": "10.0.0.0/8",
    "masquerade_mark": "0x4000",
    "nodeport_addresses": ("192.168.0.2/32",),
    "service_cidrs": ("172.30.0.0/16",),
}


def fake_config(**overrides) -> ProxyConfig:
    """The fake proxier's config, with keyword overrides."""
    return ProxyConfig(**{**FAKE_PROXIER, **overrides})


def manifests(*names: str) -> ClusterState:
    """Manifest files named relative to tests/data/proxy_nft, as a ClusterState."""
    return ClusterState.from_manifests(load_manifests([DATA / name for name in names]))


def upstream_output(result: TraceResult) -> str:
    """A trace in upstream tracePacket's terms: "ip:port, ip:port", "DROP", "REJECT" or ""."""
    if result.verdict == "DNAT":
        return ", ".join(o.destination for o in result.outcomes if o.destination)
    return "" if result.verdict == "NO-MATCH" else result.verdict
