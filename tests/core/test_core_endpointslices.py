"""The EndpointSlice controller, driven through the in-process `Cluster` on virtual time.

Expectations from kubernetes ``pkg/controller/endpointslice`` and
``staging/src/k8s.io/endpointslice``
(``podToEndpoint``, ``ShouldPodBeInEndpoints``, ``ShouldSetHostname``, ``getEndpointPorts``,
the placeholder slice and ``--max-endpoints-per-slice`` 100), v1.35.
"""

from __future__ import annotations

from typing import Any

import kubernetes.client as k8s

from svclab.api.state import SERVICE_NAME_LABEL
from svclab.cluster import Cluster
from svclab.cluster.endpointslices import CONTROLLER_NAME, MANAGED_BY_LABEL


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            **spec,
        },
    }


def pod(
    name: str, *, port: int = 8080, labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "nginx",
                    "ports": [{"name": "http", "containerPort": port}],
                }
            ],
            **spec,
        },
    }


def endpoints(cluster: Cluster, svc: str = "web") -> dict[str, k8s.V1Endpoint]:
    """Endpoints of the Service's managed slices, by Pod name."""
    return {
        e.target_ref.name: e
        for s in cluster.state().slices_for("default", svc)
        for e in s.endpoints or []
    }


def test_pod_lifecycle_drives_conditions() -> None:
    c = Cluster(seed=1)
    c.apply(service())
    c.apply(pod("web-1"))
    assert endpoints(c) == {}  # Pending, no IP yet
    c.advance(1.0)  # Running, not Ready
    (ep,) = endpoints(c).values()
    assert (ep.conditions.ready, ep.conditions.serving, ep.conditions.terminating) == (
        False,
        False,
        False,
    )
    c.advance(1.0)  # Ready
    ep = endpoints(c)["web-1"]
    assert (ep.conditions.ready, ep.conditions.serving, ep.conditions.terminating) == (
        True,
        True,
        False,
    )
    assert ep.addresses == [c.get("Pod", "default", "web-1").status.pod_ip]
    assert ep.node_name == "node-1" and ep.target_ref.kind == "Pod"
    assert ep.target_ref.uid == c.get("Pod", "default", "web-1").metadata.uid


def test_terminating_pod_is_serving_but_not_ready_until_its_grace_period_ends() -> None:
    c = Cluster(seed=1)
    c.apply(service())
    c.apply(pod("web-1", terminationGracePeriodSeconds=10))
    c.advance(2)
    c.delete("Pod", "default", "web-1")
    ep = endpoints(c)["web-1"]
    assert (ep.conditions.ready, ep.conditions.serving, ep.conditions.terminating) == (
        False,
        True,
        True,
    )
    c.advance(9.9)
    assert "web-1" in endpoints(c)
    c.advance(0.1)
    assert endpoints(c) == {}
    assert c.get("Pod", "default", "web-1") is None


def test_publish_not_ready_addresses_marks_everything_ready() -> None:
    c = Cluster(seed=1)
    c.apply(service(publishNotReadyAddresses=True))
    c.apply(pod("web-1"))
    c.advance(1)
    assert endpoints(c)["web-1"].conditions.ready is True
    assert endpoints(c)["web-1"].conditions.serving is False
    c.advance(1)
    c.delete("Pod", "default", "web-1")
    ep = endpoints(c)["web-1"]
    assert (ep.conditions.ready, ep.conditions.terminating) == (True, True)


def test_set_pod_ready_follows_a_readiness_probe() -> None:
    c = Cluster(seed=1)
    c.apply(service())
    c.apply(pod("web-1"))
    c.advance(2)
    c.set_pod_ready("default", "web-1", False)
    assert endpoints(c)["web-1"].conditions.ready is False
    c.set_pod_ready("default", "web-1", True)
    assert endpoints(c)["web-1"].conditions.ready is True


def test_more_than_100_endpoints_split_into_slices_and_stay_put() -> None:
    c = Cluster(seed=2, nodes=3)
    c.apply(service())
    for i in range(250):
        c.apply(pod(f"web-{i:03d}"))
    c.advance(2)
    slices = c.state().slices_for("default", "web")
    assert sorted(len(s.endpoints) for s in slices) == [50, 100, 100]
    names = [e.target_ref.name for s in slices for e in s.endpoints]
    assert len(names) == len(set(names)) == 250
    before = {s.metadata.name: {e.target_ref.name for e in s.endpoints} for s in slices}
    for i in range(0, 250, 5):  # remove every fifth Pod
        c.delete("Pod", "default", f"web-{i:03d}")
    c.advance(31)
    after = {
        s.metadata.name: {e.target_ref.name for e in s.endpoints}
        for s in c.state().slices_for("default", "web")
    }
    assert set(after) == set(before)  # same slices, trimmed in place
    for slice_name, members in after.items():
        assert members <= before[slice_name]
    assert sum(map(len, after.values())) == 200


def test_slice_metadata() -> None:
    c = Cluster(seed=3)
    svc = c.apply(service(labels=None))
    c.apply(pod("web-1"))
    c.advance(2)
    (s,) = c.state().slices_for("default", "web")
    assert s.metadata.generate_name == "web-"
    assert s.metadata.name.startswith("web-") and len(s.metadata.name) == len("web-") + 5
    assert s.metadata.labels[SERVICE_NAME_LABEL] == "web"
    assert s.metadata.labels[MANAGED_BY_LABEL] == CONTROLLER_NAME
    owner = s.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid, owner.controller) == (
        "Service",
        "web",
        svc.metadata.uid,
        True,
    )
    assert s.address_type == "IPv4"
    assert [(p.name, p.port, p.protocol) for p in s.ports] == [("http", 8080, "TCP")]


def test_named_target_port_resolves_per_pod() -> None:
    c = Cluster(seed=4)
    c.apply(service())
    c.apply(pod("web-a", port=8080))
    c.apply(pod("web-b", port=9090))
    c.advance(2)
    by_port = {
        s.ports[0].port: [e.target_ref.name for e in s.endpoints]
        for s in c.state().slices_for("default", "web")
    }
    assert by_port == {8080: ["web-a"], 9090: ["web-b"]}


def test_port_the_pod_does_not_expose_is_left_out() -> None:
    c = Cluster(seed=4)
    c.apply(
        service(
            ports=[
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "metrics", "port": 9100, "targetPort": "metrics"},
            ]
        )
    )
    c.apply(pod("web-a"))
    c.advance(2)
    (s,) = c.state().slices_for("default", "web")
    assert [p.name for p in s.ports] == ["http"]


def test_hostname_only_when_subdomain_names_the_service() -> None:
    c = Cluster(seed=5)
    c.apply(service(clusterIP="None"))
    c.apply(service("other", clusterIP="None"))
    c.apply(pod("web-0", hostname="web-0", subdomain="web"))
    c.apply(pod("web-1", hostname="web-1"))
    c.advance(2)
    assert endpoints(c)["web-0"].hostname == "web-0"
    assert endpoints(c)["web-1"].hostname is None
    assert endpoints(c, "other")["web-0"].hostname is None
    (s,) = c.state().slices_for("default", "web")
    assert s.metadata.labels["service.kubernetes.io/headless"] == ""


def test_zone_comes_from_the_node_label() -> None:
    c = Cluster(seed=6, nodes=0)
    c.add_node("a", zone="zone-a")
    c.apply(service())
    c.apply(pod("web-1"))
    c.advance(2)
    assert endpoints(c)["web-1"].zone == "zone-a"


def test_no_selector_means_no_managed_slice() -> None:
    c = Cluster(seed=7)
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "ext"},
            "spec": {"ports": [{"port": 5432}]},
        }
    )
    c.apply(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": "ext-1", "labels": {SERVICE_NAME_LABEL: "ext"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.10"]}],
            "ports": [{"port": 5432}],
        }
    )
    c.apply(pod("web-1", labels={"app": "ext"}))
    c.advance(2)
    assert [s.metadata.name for s in c.state().slices_for("default", "ext")] == ["ext-1"]


def test_removing_the_selector_leaves_the_old_slice_as_upstream_does() -> None:
    c = Cluster(seed=7)
    c.apply(service())
    c.apply(pod("web-1"))
    c.advance(2)
    (before,) = c.state().slices_for("default", "web")
    c.apply(service(selector=None))
    (after,) = c.state().slices_for("default", "web")
    assert after.metadata.resource_version == before.metadata.resource_version


def test_placeholder_slice_then_reused() -> None:
    c = Cluster(seed=8)
    c.apply(service())
    (placeholder,) = c.state().slices_for("default", "web")
    assert placeholder.endpoints == [] and placeholder.ports == []
    c.apply(pod("web-1"))
    c.advance(2)
    (s,) = c.state().slices_for("default", "web")
    assert s.metadata.name == placeholder.metadata.name and len(s.endpoints) == 1


def test_label_change_removes_the_endpoint_and_service_deletion_removes_slices() -> None:
    c = Cluster(seed=9)
    c.apply(service())
    c.apply(pod("web-1"))
    c.advance(2)
    moved = c.get("Pod", "default", "web-1").model_copy(deep=True)
    moved.metadata.labels = {"app": "other"}
    c.apply(moved)
    assert endpoints(c) == {}
    c.delete("Service", "default", "web")
    assert c.state().slices_for("default", "web") == []


def test_watch_sees_controller_writes() -> None:
    c = Cluster(seed=10)
    events: list[tuple[str, str]] = []
    c.watch(lambda event, obj: events.append((event, obj.kind)))
    c.apply(service())
    c.apply(pod("web-1"))
    c.advance(2)
    assert ("ADDED", "EndpointSlice") in events and ("MODIFIED", "EndpointSlice") in events
