"""trafficDistribution hints as the EndpointSlice controller writes them.

Expectations from kubernetes ``staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go``
and its call in ``reconciler.go`` (v1.35), driven through svclab's reconciler.
"""

from __future__ import annotations

import datetime

import kubernetes.client as k8s
import pytest

from svclab.cluster.endpointslices import EndpointSliceReconciler
from svclab.cluster.trafficdist import needs_update


def node(name: str, zone: str | None) -> k8s.V1Node:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return k8s.V1Node(metadata=k8s.V1ObjectMeta(name=name, labels=labels))


NODES = {"n1": node("n1", "z1"), "n2": node("n2", "z2"), "n3": node("n3", None)}


def pod(name: str, node_name: str, ready: bool = True, deleting: bool = False) -> k8s.V1Pod:
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(
            name=name,
            namespace="default",
            uid=f"uid-{name}",
            labels={"app": "web"},
            deletion_timestamp=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
            if deleting
            else None,
        ),
        spec=k8s.V1PodSpec(node_name=node_name, containers=[k8s.V1Container(name="c")]),
        status=k8s.V1PodStatus(
            phase="Running",
            pod_ip=f"10.0.0.{ord(name[0])}",
            conditions=[k8s.V1PodCondition(type="Ready", status="True" if ready else "False")],
        ),
    )


def service(distribution: str | None, annotations: dict | None = None) -> k8s.V1Service:
    return k8s.V1Service(
        metadata=k8s.V1ObjectMeta(
            name="web", namespace="default", uid="svc", annotations=annotations
        ),
        spec=k8s.V1ServiceSpec(
            selector={"app": "web"},
            cluster_ip="10.96.0.1",
            traffic_distribution=distribution,
            ports=[k8s.V1ServicePort(name="http", port=80, target_port=8080, protocol="TCP")],
        ),
    )


def hints(slice_: k8s.V1EndpointSlice) -> dict[str, tuple]:
    out = {}
    for ep in slice_.endpoints:
        h = ep.hints
        zones = tuple(z.name for z in (h.for_zones or [])) if h else None
        nodes = tuple(n.name for n in (h.for_nodes or [])) if h else None
        out[ep.target_ref.name] = (zones, nodes) if h else None
    return out


def create(svc: k8s.V1Service, pods: list[k8s.V1Pod]) -> k8s.V1EndpointSlice:
    [slice_] = EndpointSliceReconciler(seed=0).reconcile(svc, pods, NODES, []).create
    return slice_


PODS = [pod("a", "n1"), pod("b", "n2"), pod("c", "n3"), pod("d", "n1", ready=False)]


@pytest.mark.parametrize("distribution", ["PreferClose", "PreferSameZone"])
def test_zone_hints_for_ready_endpoints_with_a_zone(distribution: str) -> None:
    assert hints(create(service(distribution), PODS)) == {
        "a": (("z1",), ()),
        "b": (("z2",), ()),
        "c": None,  # no zone label on its node: no hint
        "d": None,  # not ready: left alone
    }


def test_same_node_adds_node_hints() -> None:
    assert hints(create(service("PreferSameNode"), PODS)) == {
        "a": (("z1",), ("n1",)),
        "b": (("z2",), ("n2",)),
        "c": ((), ("n3",)),  # a node hint even without a zone
        "d": None,
    }


def test_terminating_endpoints_get_no_hints() -> None:
    slice_ = create(service("PreferSameZone"), [pod("a", "n1", deleting=True), pod("b", "n2")])
    assert hints(slice_) == {"a": None, "b": (("z2",), ())}


@pytest.mark.parametrize("distribution", [None, "SomethingElse"])
def test_other_values_have_no_hints(distribution: str | None) -> None:
    assert set(hints(create(service(distribution), PODS)).values()) == {None}


def test_changing_the_field_rewrites_an_otherwise_unchanged_slice() -> None:
    reconciler = EndpointSliceReconciler(seed=0)
    [first] = reconciler.reconcile(service("PreferSameNode"), PODS, NODES, []).create
    same = reconciler.reconcile(service("PreferSameNode"), PODS, NODES, [first])
    assert not same  # nothing to write while the hints are right
    changes = reconciler.reconcile(service("PreferSameZone"), PODS, NODES, [first])
    [updated] = changes.update
    assert updated.metadata.name == first.metadata.name
    assert hints(updated)["a"] == (("z1",), ())
    assert hints(first)["a"] == (("z1",), ("n1",))  # the stored object is not mutated
    cleared = reconciler.reconcile(service(None), PODS, NODES, [updated])
    assert set(hints(cleared.update[0]).values()) == {None}


def test_topology_annotation_leaves_hints_to_topology_aware_routing() -> None:
    annotated = service("PreferSameZone", {"service.kubernetes.io/topology-mode": "Auto"})
    assert set(hints(create(annotated, PODS)).values()) == {None}


def test_needs_update_ignores_endpoints_that_are_not_ready() -> None:
    slice_ = create(service("PreferSameZone"), PODS)
    slice_.endpoints[-1].hints = k8s.V1EndpointHints(for_zones=[k8s.V1ForZone(name="zz")])
    assert not needs_update(slice_, "PreferSameZone")
    slice_.endpoints[0].hints = None
    assert needs_update(slice_, "PreferSameZone")
