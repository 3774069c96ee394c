"""Properties of rendered nftables rules, checked by tracing random clusters through them.

For random Services (type, traffic policies, affinity) and EndpointSlices (ready, serving,
terminating, local or not), the expected backends are worked out here from the endpoint
conditions alone (facts §1.6), independently of the renderer:

- every usable endpoint is reachable, and nothing else is;
- `numgen` branches are uniform: each of N backends has probability exactly 1/N;
- a Service without usable endpoints never DNATs (REJECT), whatever address is used.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from nft_helpers import fake_config

from svclab.api.manifests import load_text
from svclab.api.state import ClusterState
from svclab.proxy.nftables.render import render
from svclab.proxy.nftables.trace import trace
from svclab.proxy.packet import Packet

POD, EXTERNAL, NODE_IP = "10.0.0.2", "203.0.113.2", "192.168.0.2"


@dataclass(frozen=True)
class Ep:
    ready: bool
    serving: bool
    terminating: bool
    local: bool


@dataclass(frozen=True)
class Svc:
    type: str
    etp_local: bool
    itp_local: bool
    affinity: bool
    endpoints: tuple[Ep, ...]


endpoint = st.builds(Ep, st.booleans(), st.booleans(), st.booleans(), st.booleans())
service = st.builds(
    Svc,
    st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.lists(endpoint, max_size=5).map(tuple),
)


def manifests(services: list[Svc]) -> ClusterState:
    docs = []
    for i, svc in enumerate(services):
        spec = {
            "type": svc.type,
            "clusterIP": f"172.30.0.{i + 1}",
            "ports": [{"name": "p", "port": 80, "protocol": "TCP"}],
            "internalTrafficPolicy": "Local" if svc.itp_local else "Cluster",
        }
        if svc.type != "ClusterIP":
            spec["ports"][0]["nodePort"] = 30000 + i
            spec["externalTrafficPolicy"] = "Local" if svc.etp_local else "Cluster"
        if svc.affinity:
            spec["sessionAffinity"] = "ClientIP"
        status = (
            {"loadBalancer": {"ingress": [{"ip": f"1.2.3.{i + 1}"}]}}
            if svc.type == "LoadBalancer"
            else {}
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "spec": spec,
                "status": status,
                "metadata": {"name": f"s{i}", "namespace": "ns"},
            }
        )
        docs.append(
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "addressType": "IPv4",
                "metadata": {
                    "name": f"s{i}-1",
                    "namespace": "ns",
                    "labels": {"kubernetes.io/service-name": f"s{i}"},
                },
                "ports": [{"name": "p", "port": 8080, "protocol": "TCP"}],
                "endpoints": [
                    {
                        "addresses": [f"10.180.{i}.{j + 1}"],
                        "nodeName": "test-node" if ep.local else "other-node",
                        "conditions": {
                            "ready": ep.ready,
                            "serving": ep.serving,
                            "terminating": ep.terminating,
                        },
                    }
                    for j, ep in enumerate(svc.endpoints)
                ],
            }
        )
    return ClusterState.from_manifests(load_text(yaml.safe_dump_all(docs), "generated"))


def usable(i: int, endpoints: list[tuple[int, Ep]]) -> set[str]:
    """Ready ones, else serving-and-terminating ones (upstream CategorizeEndpoints)."""
    ready = {f"10.180.{i}.{j + 1}:8080" for j, ep in endpoints if ep.ready}
    fallback = {f"10.180.{i}.{j + 1}:8080" for j, ep in endpoints if ep.serving and ep.terminating}
    return ready or fallback


def check_uniform(result, expected: set[str]) -> None:
    destinations = result.destinations
    assert set(destinations) == expected, "\n".join(result.rules)
    assert all(p == 1 / len(expected) for p in destinations.values())
    assert sum(o.probability for o in result.outcomes) == 1


@settings(max_examples=40, deadline=None)
@given(st.lists(service, min_size=1, max_size=4))
def test_backends_are_exactly_the_usable_endpoints_uniformly(services):
    config = fake_config(nodeport_addresses=())
    text = render(manifests(services), config)
    for i, svc in enumerate(services):
        every = list(enumerate(svc.endpoints))
        cluster = usable(i, every)
        local = usable(i, [(j, ep) for j, ep in every if ep.local])
        any_usable = bool(cluster)

        internal = trace(text, Packet(POD, f"172.30.0.{i + 1}", 80), config)
        if not any_usable:
            assert internal.verdict == "REJECT"
        elif svc.itp_local and not local:
            assert internal.verdict == "DROP"
        else:
            check_uniform(internal, local if svc.itp_local else cluster)

        if svc.type == "ClusterIP":
            continue
        targets = [(NODE_IP, 30000 + i)]
        if svc.type == "LoadBalancer":
            targets.append((f"1.2.3.{i + 1}", 80))
        for dst, port in targets:
            external = trace(text, Packet(EXTERNAL, dst, port), config)
            if not any_usable:
                assert external.verdict == "REJECT", (dst, port)
            elif svc.etp_local and not local:
                assert external.verdict == "DROP", (dst, port)
            else:
                check_uniform(external, local if svc.etp_local else cluster)
                assert external.masquerade is not svc.etp_local
