"""A snapshot of what the API server holds: the input of every data plane and of DNS.

Consumers (kube-proxy renderers, the DNS server, kubelet's env vars) read a `ClusterState`
the way the real components read their informers' caches.

>>> from svclab.api.manifests import load_text
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web}
... spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}
... ---
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {name: web-abc, labels: {kubernetes.io/service-name: web}}
... addressType: IPv4
... endpoints: [{addresses: [10.244.1.5]}]
... ports: [{port: 8080}]
... '''))
>>> [s.metadata.name for s in state.services], len(state.endpoint_slices)
(['web'], 1)
>>> [s.metadata.name for s in state.slices_for("default", "web")]
['web-abc']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import kubernetes.client as k8s

from svclab.api.manifests import Manifest

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
"""The label that ties an EndpointSlice to its Service."""


def namespace_of(obj: Any) -> str:
    """The object's namespace, ``default`` when unset (as ``kubectl apply`` would set it)."""
    return (obj.metadata.namespace if obj.metadata else None) or "default"


@dataclass
class ClusterState:
    """Services, EndpointSlices, Pods and Nodes as one consistent snapshot."""

    services: list[k8s.V1Service] = field(default_factory=list)
    endpoint_slices: list[k8s.V1EndpointSlice] = field(default_factory=list)
    pods: list[k8s.V1Pod] = field(default_factory=list)
    nodes: list[k8s.V1Node] = field(default_factory=list)
    sources: dict[int, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_manifests(cls, manifests: Iterable[Manifest]) -> ClusterState:
        """Sort loaded manifests by kind; objects of other kinds are ignored."""
        state = cls()
        buckets = {  # by model name: naming a model does not import it
            "V1Service": state.services,
            "V1EndpointSlice": state.endpoint_slices,
            "V1Pod": state.pods,
            "V1Node": state.nodes,
        }
        for manifest in manifests:
            bucket = buckets.get(type(manifest.obj).__name__)
            if bucket is not None:
                bucket.append(manifest.obj)
                state.sources[id(manifest.obj)] = manifest.source
        return state

    def source_of(self, obj: Any) -> str:
        """The file an object was read from, or ``<cluster>`` if it was made in memory."""
        return self.sources.get(id(obj), "<cluster>")

    def slices_for(self, namespace: str, service_name: str) -> list[k8s.V1EndpointSlice]:
        """The EndpointSlices labelled for a Service, in name order."""
        return sorted(
            (
                s
                for s in self.endpoint_slices
                if namespace_of(s) == namespace
                and (s.metadata.labels or {}).get(SERVICE_NAME_LABEL) == service_name
            ),
            key=lambda s: s.metadata.name or "",
        )
