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

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client as k8s

from svclab.api.addresses import parse_ip_sloppy
from svclab.api.defaults import apply_defaults
from svclab.api.manifests import Manifest, iter_manifests, object_label
from svclab.api.state import ClusterState, namespace_of
from svclab.api.validation import check
from svclab.api.validation.formats import stored_objects
from svclab.errors import ManifestError

CLUSTER_SCOPED = ("V1Node", "V1Namespace")

Say = Callable[[str, str], None]
"""Where a reader reports: ``say("warning", line)`` for skipped input (always shown by the
CLI), ``say("note", line)`` for what the component reading it would ignore (``--verbose``)."""


def read_state(
    paths: Iterable[str | Path], *, recursive: bool = False, say: Say | None = None
) -> ClusterState:
    """Load manifests into a `ClusterState`, refusing objects the API server could not store.

    Each object is checked as it is read, as stored — namespaced and defaulted, on a copy, with
    the legacy IP forms old API servers accepted — while the state keeps the objects exactly as
    written. Two objects of one kind, namespace and name are refused: no store holds both.
    """
    report = say or (lambda _level, _line: None)
    manifests: list[Manifest] = []
    seen: dict[tuple[str, str, str], str] = {}
    for manifest in iter_manifests(
        paths, recursive=recursive, warn=lambda line: report("warning", line)
    ):
        stored = _as_stored(manifest)
        with stored_objects():
            check(stored, manifest.source)
        key = (type(stored).__name__, stored.metadata.namespace or "", stored.metadata.name)
        if key in seen:
            raise ManifestError(
                manifest.source,
                manifest.label,
                "metadata.name",
                f'Duplicate value: "{stored.metadata.name}": also in {seen[key]}',
            )
        seen[key] = manifest.source
        for field, why in ignored_fields(stored):
            report("note", f"{manifest.source}: {manifest.label}: {field}: ignored: {why}")
        manifests.append(manifest)
    return ClusterState.from_manifests(manifests)


def _as_stored(manifest: Manifest) -> Any:
    stored = manifest.obj.model_copy(deep=True)
    stored.metadata = stored.metadata or k8s.V1ObjectMeta()
    if type(stored).__name__ not in CLUSTER_SCOPED:
        stored.metadata.namespace = namespace_of(stored)
    apply_defaults(stored)
    return stored


def ignored_fields(obj: Any) -> Iterator[tuple[str, str]]:
    """Fields the API server kept but that kube-proxy ignores.

    >>> svc = k8s.V1Service(spec=k8s.V1ServiceSpec(type="NodePort",
    ...     external_traffic_policy="Cluster", health_check_node_port=30000))
    >>> list(ignored_fields(svc))  # doctest: +NORMALIZE_WHITESPACE
    [('spec.healthCheckNodePort',
      'kube-proxy serves health checks only for externalTrafficPolicy Local')]
    """
    spec = obj.spec if isinstance(obj, k8s.V1Service) else None
    if spec and spec.health_check_node_port and spec.external_traffic_policy != "Local":
        yield (
            "spec.healthCheckNodePort",
            "kube-proxy serves health checks only for externalTrafficPolicy Local",
        )


def ipv4_proxier_notes(state: ClusterState) -> Iterator[str]:
    """What svclab's (IPv4) kube-proxy skips: Services with no IPv4 cluster IP.

    >>> svc = k8s.V1Service(kind="Service", metadata=k8s.V1ObjectMeta(name="v6"),
    ...     spec=k8s.V1ServiceSpec(cluster_ip="fd00::5"))
    >>> for line in ipv4_proxier_notes(ClusterState(services=[svc])):
    ...     print(line)  # doctest: +ELLIPSIS
    <cluster>: Service default/v6: spec.clusterIPs: ignored: no IPv4 address, and svclab ...
    """
    for svc in state.services:
        spec = svc.spec or k8s.V1ServiceSpec()
        ips = spec.cluster_ips or ([spec.cluster_ip] if spec.cluster_ip else [])
        if not ips or ips == ["None"] or spec.type == "ExternalName":
            continue
        if not any(_version(ip) == 4 for ip in ips):
            yield (
                f"{state.source_of(svc)}: {object_label(svc)}: spec.clusterIPs: ignored: "
                "no IPv4 address, and svclab models kube-proxy's IPv4 proxier only"
            )


def _version(ip: str) -> int | None:
    try:
        return ipaddress.ip_address(parse_ip_sloppy(ip) or ip).version
    except ValueError:
        return None
