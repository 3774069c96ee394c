"""Read manifests the way kube-proxy, kubelet and CoreDNS read objects from the API server.

Such components accept whatever the API server could have stored — no service CIDR is imposed,
fields they do not use are ignored — but an object the API server would have refused (a port
of 99999, a malformed address) cannot reach them, so it is reported here, in one line, instead
of turning into rules or records no real cluster could produce.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "svc.yaml").write_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web}
... spec: {clusterIP: 203.0.113.7, ports: [{port: 80}]}
... ''')
>>> [s.spec.cluster_ip for s in read_state([folder]).services]  # any cluster IP is accepted
['203.0.113.7']
>>> _ = (folder / "svc.yaml").write_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web}
... spec: {clusterIP: 203.0.113.7, ports: [{port: 99999}]}
... ''')
>>> read_state([folder])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
svclab.errors.ManifestError: .../svc.yaml: Service default/web: spec.ports[0].port: Invalid value: 99999: ...
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import kubernetes.client as k8s

from svclab.api.defaults import apply_defaults
from svclab.api.manifests import load_manifests
from svclab.api.state import ClusterState, namespace_of
from svclab.api.validation import check
from svclab.api.validation.formats import stored_objects

CLUSTER_SCOPED = (k8s.V1Node, k8s.V1Namespace)


def read_state(paths: Iterable[str | Path]) -> ClusterState:
    """Load manifests into a `ClusterState`, refusing objects the API server could not store.

    Each object is checked as stored — namespaced and defaulted, on a copy, with the legacy
    IP forms old API servers accepted — while the state keeps the objects exactly as written.
    """
    manifests = load_manifests(paths)
    for manifest in manifests:
        stored = manifest.obj.model_copy(deep=True)
        stored.metadata = stored.metadata or k8s.V1ObjectMeta()
        if not isinstance(stored, CLUSTER_SCOPED):
            stored.metadata.namespace = namespace_of(stored)
        apply_defaults(stored)
        with stored_objects():
            check(stored, manifest.source)
    return ClusterState.from_manifests(manifests)
