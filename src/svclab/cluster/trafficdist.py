"""Hints for ``trafficDistribution``: what the EndpointSlice controller writes on each endpoint.

Follows ``staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go`` and its call in the
reconciler (``reconciler.go``, Kubernetes 1.35):

- ``PreferSameZone`` (and its alias ``PreferClose``): every *ready* endpoint with a zone gets
  ``hints.forZones: [{name: <its zone>}]``;
- ``PreferSameNode``: the same, plus ``hints.forNodes: [{name: <its nodeName>}]``;
- any other value, or none: every hint is removed;
- endpoints that are not ready keep whatever they had (the heuristic skips them), and a Service
  whose ``service.kubernetes.io/topology-mode`` (or the older ``topology-aware-hints``)
  annotation is ``Auto`` belongs to Topology Aware Routing, which svclab does not model: its
  slices are left as they are.

Slices that did not change otherwise are rewritten when one of their ready endpoints carries a
missing, wrong or stale hint (``needsUpdate``).

>>> import kubernetes.client as k8s
>>> ep = k8s.V1Endpoint(addresses=["10.244.1.10"], zone="zone-a", node_name="node-1",
...     conditions=k8s.V1EndpointConditions(ready=True))
>>> hints_for(ep, "PreferSameNode").to_dict()
{'for_nodes': [{'name': 'node-1'}], 'for_zones': [{'name': 'zone-a'}]}
>>> hints_for(ep, "PreferClose").to_dict()
{'for_nodes': None, 'for_zones': [{'name': 'zone-a'}]}
>>> hints_for(ep, None) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import kubernetes.client as k8s

CLOSE_DISTRIBUTIONS = frozenset({"PreferClose", "PreferSameZone", "PreferSameNode"})
"""The ``trafficDistribution`` values that get hints (``closeTrafficDistribution``)."""
TOPOLOGY_ANNOTATIONS = (
    "service.kubernetes.io/topology-aware-hints",
    "service.kubernetes.io/topology-mode",
)
"""Topology Aware Routing's annotations, the deprecated one first (it wins when both are set)."""


def topology_annotation_enabled(annotations: Mapping[str, str] | None) -> bool:
    """Upstream ``hintsEnabled``: the first topology annotation present says ``Auto``/``auto``.

    >>> topology_annotation_enabled({"service.kubernetes.io/topology-mode": "Auto"})
    True
    >>> topology_annotation_enabled({"service.kubernetes.io/topology-aware-hints": "disabled",
    ...                              "service.kubernetes.io/topology-mode": "Auto"})
    False
    """
    annotations = annotations or {}
    value = next((annotations[key] for key in TOPOLOGY_ANNOTATIONS if key in annotations), None)
    return value in ("Auto", "auto")


def _ready(endpoint: k8s.V1Endpoint) -> bool:
    return bool(endpoint.conditions and endpoint.conditions.ready)


def hints_for(endpoint: k8s.V1Endpoint, distribution: str | None) -> k8s.V1EndpointHints | None:
    """The hints a *ready* `endpoint` should carry under `distribution` (None: no hints)."""
    if distribution not in CLOSE_DISTRIBUTIONS:
        return None
    zones = [k8s.V1ForZone(name=endpoint.zone)] if endpoint.zone else None
    nodes = (
        [k8s.V1ForNode(name=endpoint.node_name)]
        if endpoint.node_name and distribution == "PreferSameNode"
        else None
    )
    return k8s.V1EndpointHints(for_zones=zones, for_nodes=nodes) if zones or nodes else None


def _names(items: Iterable | None) -> list[str]:
    return [item.name for item in items or []]


def needs_update(slice_: k8s.V1EndpointSlice, distribution: str | None) -> bool:
    """Whether some endpoint's hints differ from what `distribution` wants (``needsUpdate``).

    Under a close distribution only ready endpoints are looked at; otherwise any hint is stale.
    """
    for endpoint in slice_.endpoints or []:
        if distribution not in CLOSE_DISTRIBUTIONS:
            if endpoint.hints is not None:
                return True
            continue
        if not _ready(endpoint):
            continue
        want = hints_for(endpoint, distribution)
        have = endpoint.hints
        if _names(want.for_zones if want else None) != _names(have.for_zones if have else None):
            return True
        if _names(want.for_nodes if want else None) != _names(have.for_nodes if have else None):
            return True
    return False


def apply_hints(slice_: k8s.V1EndpointSlice, distribution: str | None) -> None:
    """Write `distribution`'s hints into `slice_` in place (``heuristic.update``)."""
    close = distribution in CLOSE_DISTRIBUTIONS
    for endpoint in slice_.endpoints or []:
        if close and not _ready(endpoint):
            continue  # the close heuristic leaves endpoints that are not ready alone
        endpoint.hints = hints_for(endpoint, distribution)


def reconcile_hints(
    service: k8s.V1Service,
    create: list[k8s.V1EndpointSlice],
    update: list[k8s.V1EndpointSlice],
    unchanged: Iterable[k8s.V1EndpointSlice],
) -> None:
    """Give the slices to create and update their hints; move unchanged slices whose hints are
    wrong into `update` (as deep copies: stored objects are never mutated)."""
    if topology_annotation_enabled(service.metadata.annotations if service.metadata else None):
        return
    distribution = service.spec.traffic_distribution if service.spec else None
    for slice_ in unchanged:
        if needs_update(slice_, distribution):
            update.append(slice_.model_copy(deep=True))
    for slice_ in (*create, *update):
        apply_hints(slice_, distribution)
