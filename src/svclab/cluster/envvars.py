"""The Service environment variables kubelet gives a container (``{SVC}_SERVICE_HOST`` and friends).

Follows kubelet (v1.35): ``pkg/kubelet/envvars/envvars.go`` builds each Service's block;
``getServiceEnvVarMap`` and ``makeEnvironmentVariables`` in ``pkg/kubelet/kubelet_pods.go``
choose the Services and merge them with the container's own ``env``.

Only Services that exist when the container starts are visible, and the variables never change
afterwards: a client Pod started before its backend Service gets no variables for it.

>>> import kubernetes.client as k8s
>>> svc = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="redis-primary", namespace="shop"),
...     spec=k8s.V1ServiceSpec(cluster_ip="10.96.0.11",
...         ports=[k8s.V1ServicePort(name="redis", port=6379, protocol="TCP")]))
>>> for name, value in service_env([svc], "shop"):
...     print(f"{name}={value}")
REDIS_PRIMARY_SERVICE_HOST=10.96.0.11
REDIS_PRIMARY_SERVICE_PORT=6379
REDIS_PRIMARY_SERVICE_PORT_REDIS=6379
REDIS_PRIMARY_PORT=tcp://10.96.0.11:6379
REDIS_PRIMARY_PORT_6379_TCP=tcp://10.96.0.11:6379
REDIS_PRIMARY_PORT_6379_TCP_PROTO=tcp
REDIS_PRIMARY_PORT_6379_TCP_PORT=6379
REDIS_PRIMARY_PORT_6379_TCP_ADDR=10.96.0.11
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import kubernetes.client as k8s

from svclab.api.manifests import object_label
from svclab.api.state import ClusterState, namespace_of
from svclab.errors import ManifestError

EnvList = list[tuple[str, str]]

MASTER_SERVICES = frozenset({"kubernetes"})
"""Services of namespace ``default`` every Pod sees, even with ``enableServiceLinks: false``."""


def env_name(name: str) -> str:
    """``makeEnvVariableName``: upper case, ``-`` to ``_`` (dots and leading digits stay).

    >>> env_name("foo-bar"), env_name("8083"), env_name("a.b")
    ('FOO_BAR', '8083', 'A.B')
    """
    return name.upper().replace("-", "_")


def _host_port(host: str, port: int) -> str:
    # net.JoinHostPort: brackets around IPv6 literals.
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def has_cluster_ip(svc: k8s.V1Service) -> bool:
    """``IsServiceIPSet``: a ClusterIP that is neither empty nor ``None``."""
    ip = svc.spec.cluster_ip if svc.spec else None
    return bool(ip) and ip != "None"


def from_services(services: Iterable[k8s.V1Service]) -> EnvList:
    """``envvars.FromServices``: each Service's block, in the given order; headless ones skipped.

    >>> svc = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="db"),
    ...     spec=k8s.V1ServiceSpec(cluster_ip="fd00::a", ports=[k8s.V1ServicePort(port=5432)]))
    >>> dict(from_services([svc]))["DB_PORT"]
    'tcp://[fd00::a]:5432'
    """
    result: EnvList = []
    for svc in services:
        if not has_cluster_ip(svc):
            continue
        prefix, host, ports = env_name(svc.metadata.name), svc.spec.cluster_ip, svc.spec.ports or []
        result.append((f"{prefix}_SERVICE_HOST", host))
        if ports:
            result.append((f"{prefix}_SERVICE_PORT", str(ports[0].port)))
        result += [
            (f"{prefix}_SERVICE_PORT_{env_name(p.name)}", str(p.port)) for p in ports if p.name
        ]
        result += _link_variables(prefix, host, ports)
    return result


def _link_variables(prefix: str, host: str, ports: Sequence[k8s.V1ServicePort]) -> EnvList:
    """``makeLinkVariables``: the Docker-link style ``{SVC}_PORT*`` variables."""
    result: EnvList = []
    for i, port in enumerate(ports):
        protocol = port.protocol or "TCP"
        url = f"{protocol.lower()}://{_host_port(host, port.port)}"
        if i == 0:
            result.append((f"{prefix}_PORT", url))  # only the first port gets the bare name
        base = f"{prefix}_PORT_{port.port}_{protocol.upper()}"
        result += [
            (base, url),
            (f"{base}_PROTO", protocol.lower()),
            (f"{base}_PORT", str(port.port)),
            (f"{base}_ADDR", host),
        ]
    return result


def visible_services(
    services: Iterable[k8s.V1Service], namespace: str, enable_service_links: bool = True
) -> list[k8s.V1Service]:
    """``getServiceEnvVarMap``'s choice: ``default/kubernetes`` always, the Pod's namespace
    if linked.

    A Service named ``kubernetes`` in the Pod's own namespace replaces the default one when links
    are enabled. The result is in name order (kubelet's is Go map order, i.e. unspecified).
    """
    chosen: dict[str, k8s.V1Service] = {}
    for svc in services:
        if not has_cluster_ip(svc):
            continue
        name, ns = svc.metadata.name, namespace_of(svc)
        if ns == "default" and name in MASTER_SERVICES:
            chosen.setdefault(name, svc)
        elif ns == namespace and enable_service_links:
            chosen[name] = svc
    return [chosen[name] for name in sorted(chosen)]


def expand(value: str, *contexts: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion: ``$$`` escapes, unknown references stay as written.

    >>> expand("$(HOST):$(PORT) $$(HOST) $(NOPE) $(", {"HOST": "10.0.0.1"}, {"PORT": "80"})
    '10.0.0.1:80 $(HOST) $(NOPE) $('
    """
    out: list[str] = []
    checkpoint = cursor = 0
    while cursor < len(value):
        if value[cursor] == "$" and cursor + 1 < len(value):
            out.append(value[checkpoint:cursor])
            rest = value[cursor + 1 :]
            if rest[0] == "$":
                out.append("$")
                advance = 1
            elif rest[0] == "(" and ")" in rest:
                name = rest[1 : rest.index(")")]
                out.append(next((c[name] for c in contexts if name in c), f"$({name})"))
                advance = rest.index(")") + 1
            else:
                out.append("$" + rest[0])  # not a reference: keep both characters
                advance = 1
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    return "".join(out) + value[checkpoint:]


def service_env(
    services: Iterable[k8s.V1Service],
    namespace: str,
    *,
    enable_service_links: bool = True,
    container_env: Iterable[k8s.V1EnvVar] | Mapping[str, str] | None = None,
    pod: k8s.V1Pod | None = None,
) -> EnvList:
    """The container's environment as kubelet builds it from the Services visible at start.

    The container's own variables come first, in declaration order and ``$(VAR)``-expanded
    (service variables may be referenced); service variables follow, except names the container
    set itself. ``pod`` resolves ``fieldRef`` values (``metadata.name``, ``status.podIP``…).

    >>> kube = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="kubernetes", namespace="default"),
    ...     spec=k8s.V1ServiceSpec(cluster_ip="10.96.0.1",
    ...         ports=[k8s.V1ServicePort(name="https", port=443, protocol="TCP")]))
    >>> env = service_env([kube], "shop", enable_service_links=False,
    ...                   container_env={"API": "https://$(KUBERNETES_SERVICE_HOST)",
    ...                                  "KUBERNETES_SERVICE_PORT": "6443"})
    >>> env[:3]  # doctest: +NORMALIZE_WHITESPACE
    [('API', 'https://10.96.0.1'), ('KUBERNETES_SERVICE_PORT', '6443'),
     ('KUBERNETES_SERVICE_HOST', '10.96.0.1')]
    """
    from_svc = dict(from_services(visible_services(services, namespace, enable_service_links)))
    declared: dict[str, str] = {}
    for name, value, source in _declared(container_env):
        declared[name] = (
            expand(value, declared, from_svc) if value else _resolve(source, pod) if source else ""
        )
    return list(declared.items()) + [(k, v) for k, v in from_svc.items() if k not in declared]


def _declared(env: Iterable[k8s.V1EnvVar] | Mapping[str, str] | None) -> list[tuple[str, str, Any]]:
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [(name, str(value), None) for name, value in env.items()]
    return [(e.name, e.value or "", e.value_from) for e in env]


FIELD_PATHS = {
    "metadata.name": lambda p: p.metadata.name,
    "metadata.namespace": lambda p: namespace_of(p),
    "spec.nodeName": lambda p: p.spec.node_name,
    "spec.serviceAccountName": lambda p: p.spec.service_account_name,
    "status.podIP": lambda p: p.status.pod_ip if p.status else None,
    "status.podIPs": lambda p: (
        ",".join(i.ip for i in (p.status.pod_ips or [])) if p.status else None
    ),
    "status.hostIP": lambda p: p.status.host_ip if p.status else None,
}
"""The downward-API fields svclab resolves."""


def _resolve(source: k8s.V1EnvVarSource, pod: k8s.V1Pod | None) -> str:
    ref = source.field_ref
    if ref is None or ref.field_path not in FIELD_PATHS:
        raise ManifestError(
            "<env>",
            object_label(pod) if pod else "",
            "valueFrom",
            "only fieldRef to " + ", ".join(FIELD_PATHS) + " is modelled",
        )
    return (FIELD_PATHS[ref.field_path](pod) or "") if pod is not None else ""


def started_at(pod: k8s.V1Pod) -> dt.datetime | None:
    """When the Pod's containers started (``status.startTime``), else when it was created."""
    start = pod.status.start_time if pod.status else None
    return start or pod.metadata.creation_timestamp


def services_at(services: Iterable[k8s.V1Service], when: dt.datetime | None) -> list[k8s.V1Service]:
    """The Services that existed at ``when`` (all of them when ``when`` is unknown)."""
    return [
        s
        for s in services
        if when is None
        or s.metadata.creation_timestamp is None
        or s.metadata.creation_timestamp <= when
    ]


def pod_env(state: ClusterState, pod: k8s.V1Pod, container: str | None = None) -> EnvList:
    """The environment of one container of a Pod, from the Services that existed when it started.

    >>> from svclab.cluster import Cluster
    >>> c = Cluster(seed=0)
    >>> client = c.apply({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
    ...                   "spec": {"containers": [{"name": "app", "image": "busybox"}]}})
    >>> _ = c.advance(5)
    >>> _ = c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend"},
    ...              "spec": {"selector": {"app": "backend"}, "ports": [{"port": 80}]}})
    >>> pod = c.get("Pod", "default", "client")
    >>> [n for n, _ in pod_env(c.state(), pod) if n.startswith("BACKEND")]
    []
    """
    containers = pod.spec.containers or []
    chosen = next((c for c in containers if container is None or c.name == container), None)
    if chosen is None:
        raise ManifestError(
            "<env>", object_label(pod), "spec.containers", f"no container {container!r}"
        )
    return service_env(
        services_at(state.services, started_at(pod)),
        namespace_of(pod),
        enable_service_links=pod.spec.enable_service_links is not False,
        container_env=chosen.env,
        pod=pod,
    )
