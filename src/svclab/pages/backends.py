"""Small tables of cluster objects for notebooks: who is behind a Service, right now.

>>> from svclab.cluster import Cluster
>>> cluster = Cluster(seed=1)
>>> for row in backends(cluster.state(), "default", "kubernetes"):
...     print(row["address"], row["ready"])
172.18.0.2 True
"""

from __future__ import annotations

from svclab.api.state import ClusterState


def backends(state: ClusterState, namespace: str, service: str) -> list[dict]:
    """One row per endpoint in the Service's EndpointSlices: which Pod, where, and its conditions."""
    return [
        {
            "pod": endpoint.target_ref.name if endpoint.target_ref else "-",
            "address": address,
            "node": endpoint.node_name or "-",
            "ready": _condition(endpoint.conditions, "ready", True),
            "serving": _condition(endpoint.conditions, "serving", True),
            "terminating": _condition(endpoint.conditions, "terminating", False),
            "slice": endpoint_slice.metadata.name,
        }
        for endpoint_slice in state.slices_for(namespace, service)
        for endpoint in endpoint_slice.endpoints or []
        for address in endpoint.addresses
    ]


def _condition(conditions: object, name: str, when_unset: bool) -> bool:
    # The API treats an unset ready/serving as true and an unset terminating as false.
    value = getattr(conditions, name, None) if conditions else None
    return when_unset if value is None else bool(value)
