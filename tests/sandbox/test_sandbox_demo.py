"""Client-side balancing over ``examples/discover_endpoints.py``'s watch, measured in the sandbox
(`svclab.pages.discovery`), as the discovery chapter runs it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from kubernetes import client

from svclab.cluster import Cluster
from svclab.pages import discovery as demo

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "labs" / "manifests" / "shop.yaml"


def example() -> ModuleType:
    """The example script, imported from its file as the chapter imports it."""
    spec = importlib.util.spec_from_file_location(
        "discover_endpoints", ROOT / "examples" / "discover_endpoints.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ready_backends_drops_terminating_endpoints_even_when_ready() -> None:
    # With publishNotReadyAddresses a terminating endpoint stays ready (EndpointConditions in
    # k8s.io/api discovery/v1 types.go); a balancer must still stop sending to it.
    endpoint_slice = client.V1EndpointSlice(
        address_type="IPv4",
        ports=[client.DiscoveryV1EndpointPort(port=8080)],
        endpoints=[
            client.V1Endpoint(addresses=["10.0.0.1"], conditions=client.V1EndpointConditions()),
            client.V1Endpoint(
                addresses=["10.0.0.2"],
                conditions=client.V1EndpointConditions(ready=True, terminating=True),
            ),
            client.V1Endpoint(
                addresses=["10.0.0.3"], conditions=client.V1EndpointConditions(ready=False)
            ),
        ],
    )
    assert example().ready_backends(endpoint_slice) == {"10.0.0.1:8080"}


def test_watching_client_never_reaches_a_terminating_or_gone_pod() -> None:
    result = demo.rollout_requests(
        Cluster.from_manifests([SHOP], seed=0),
        watch=example().watch_backends,
        patch=demo.restart_patch("2025-01-01T00:00:05Z"),
        duration=60,
    )
    rows = {row["client"]: row for row in result.rows}
    assert [row["client"] for row in result.rows] == list(demo.CLIENTS)
    assert rows["api-watch"]["ready"] == rows["api-watch"]["requests"] == 600
    # one list, then one backend list per change of a three-replica rollout (3 in, 3 out)
    assert rows["api-watch"]["lookups"] == 7
    # the 30 s TTL outlives the rollout: cached old Pods are terminating, not yet gone (30 s grace)
    assert rows["dns-ttl"]["terminating"] > 0 and rows["dns-ttl"]["gone"] == 0
    assert rows["dns-ttl"]["lookups"] == 3  # at 0, 30 and 60 s
    assert rows["dns-once"]["gone"] > 0 and rows["dns-once"]["lookups"] == 1
    assert result.figure("zh_CN")._repr_png_()[:4] == b"\x89PNG"
