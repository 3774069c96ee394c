"""The EndpointSlice controller: which Pods back a Service, in slices of at most 100 endpoints.

Follows kube-controller-manager's ``pkg/controller/endpointslice`` and
``staging/src/k8s.io/endpointslice`` (v1.35): endpoint conditions, targetPort resolution,
hostname/subdomain, the placeholder slice, and in-place updates that keep slice membership stable.

>>> import kubernetes.client as k8s
>>> svc = k8s.V1Service(metadata=k8s.V1ObjectMeta(name="web", namespace="default", uid="u1"),
...     spec=k8s.V1ServiceSpec(selector={"app": "web"}, cluster_ip="10.96.0.10",
...         ip_families=["IPv4"],
...         ports=[k8s.V1ServicePort(name="http", port=80, target_port="http", protocol="TCP")]))
>>> pod = k8s.V1Pod(
...     metadata=k8s.V1ObjectMeta(name="web-1", namespace="default", labels={"app": "web"}),
...     spec=k8s.V1PodSpec(node_name="node-1", containers=[k8s.V1Container(name="c",
...         ports=[k8s.V1ContainerPort(name="http", container_port=8080, protocol="TCP")])]),
...     status=k8s.V1PodStatus(phase="Running", pod_ip="10.244.1.2",
...         conditions=[k8s.V1PodCondition(type="Ready", status="True")]))
>>> changes = EndpointSliceReconciler(seed=0).reconcile(svc, [pod], {}, [])
>>> [s.metadata.name for s in changes.create]
['web-q7rcl']
>>> eps = changes.create[0]
>>> eps.endpoints[0].addresses, eps.endpoints[0].conditions.ready, eps.ports[0].port
(['10.244.1.2'], True, 8080)
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import kubernetes.client as k8s

from svclab.api.helpers import is_pod_ready
from svclab.api.state import SERVICE_NAME_LABEL
from svclab.cluster.trafficdist import reconcile_hints

MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100
"""kube-controller-manager's ``--max-endpoints-per-slice`` default."""

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""The characters ``generateName`` suffixes are drawn from (``utilrand.String``)."""


def random_suffix(rng: random.Random, n: int = 5) -> str:
    """A ``generateName``-style suffix.

    >>> random_suffix(random.Random(0))
    'q7rcl'
    """
    return "".join(rng.choice(NAME_ALPHABET) for _ in range(n))


def pod_ips(pod: k8s.V1Pod) -> list[str]:
    """``status.podIPs`` (or ``podIP`` alone), in order."""
    status = pod.status
    if status is None:
        return []
    ips = [p.ip for p in status.pod_ips or [] if p.ip]
    return ips or ([status.pod_ip] if status.pod_ip else [])


def should_be_endpoint(pod: k8s.V1Pod) -> bool:
    """``ShouldPodBeInEndpoints(pod, includeTerminating=true)``: has an IP and is not finished."""
    phase = pod.status.phase if pod.status else None
    return phase not in ("Succeeded", "Failed") and bool(pod_ips(pod))


def selects(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """Whether a Service selector matches a Pod's labels (an empty selector matches nothing here,
    because Services with no selector get no managed slices)."""
    if not selector:
        return False
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def find_port(pod: k8s.V1Pod, service_port: k8s.V1ServicePort) -> int | None:
    """``podutil.FindPort``: a numeric targetPort as is, a named one looked up in the containers.

    >>> p = k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c",
    ...     ports=[k8s.V1ContainerPort(name="dns", container_port=53, protocol="UDP")])]))
    >>> find_port(p, k8s.V1ServicePort(port=53, target_port="dns", protocol="UDP"))
    53
    >>> find_port(p, k8s.V1ServicePort(port=53, target_port="dns", protocol="TCP")) is None
    True
    """
    target = service_port.target_port
    if isinstance(target, int):
        return target
    protocol = service_port.protocol or "TCP"
    for container in (pod.spec.containers if pod.spec else None) or []:
        for port in container.ports or []:
            if port.name == target and (port.protocol or "TCP") == protocol:
                return port.container_port
    return None


def endpoint_ports(service: k8s.V1Service, pod: k8s.V1Pod) -> list[k8s.DiscoveryV1EndpointPort]:
    """The slice ports for this Pod: service ports whose targetPort resolves on it."""
    ports = []
    for sp in service.spec.ports or []:
        number = find_port(pod, sp)
        if number is None:
            continue  # upstream logs and skips a port the Pod does not expose
        ports.append(
            k8s.DiscoveryV1EndpointPort(
                name=sp.name or "",
                port=number,
                protocol=sp.protocol or "TCP",
                app_protocol=sp.app_protocol,
            )
        )
    return ports


def address_type(service: k8s.V1Service) -> str:
    """The slice address type: the Service's primary IP family."""
    families = service.spec.ip_families or []
    if families:
        return families[0]
    ip = service.spec.cluster_ip or ""
    return "IPv6" if ":" in ip else "IPv4"


def pod_to_endpoint(
    pod: k8s.V1Pod, service: k8s.V1Service, node: k8s.V1Node | None, family: str
) -> k8s.V1Endpoint:
    """``podToEndpoint``: ready = publishNotReadyAddresses || (serving && !terminating)."""
    serving = is_pod_ready(pod)
    terminating = pod.metadata.deletion_timestamp is not None
    ready = bool(service.spec.publish_not_ready_addresses) or (serving and not terminating)
    want_v6 = family == "IPv6"
    addresses = [ip for ip in pod_ips(pod) if (":" in ip) == want_v6][:1]
    zone = (
        (node.metadata.labels or {}).get(ZONE_LABEL) if node and node.metadata else None
    ) or None
    hostname = None
    if (
        pod.spec.hostname
        and pod.spec.subdomain == service.metadata.name
        and (pod.metadata.namespace or "default") == (service.metadata.namespace or "default")
    ):
        hostname = pod.spec.hostname
    return k8s.V1Endpoint(
        addresses=addresses,
        conditions=k8s.V1EndpointConditions(ready=ready, serving=serving, terminating=terminating),
        hostname=hostname,
        node_name=pod.spec.node_name,
        zone=zone,
        target_ref=k8s.V1ObjectReference(
            kind="Pod",
            namespace=pod.metadata.namespace or "default",
            name=pod.metadata.name,
            uid=pod.metadata.uid,
        ),
    )


@dataclass
class SliceChanges:
    """What one reconcile wants written: new, changed and removed slices."""

    create: list[k8s.V1EndpointSlice] = field(default_factory=list)
    update: list[k8s.V1EndpointSlice] = field(default_factory=list)
    delete: list[k8s.V1EndpointSlice] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.create or self.update or self.delete)


def _ports_key(ports: Iterable[k8s.DiscoveryV1EndpointPort] | None) -> tuple:
    return tuple(
        sorted(
            (p.name or "", p.protocol or "TCP", p.port or 0, p.app_protocol or "")
            for p in ports or []
        )
    )


def _endpoint_key(endpoint: k8s.V1Endpoint) -> tuple:
    ref = endpoint.target_ref
    return (ref.namespace, ref.name) if ref else tuple(endpoint.addresses or [])


def _signature(endpoint: k8s.V1Endpoint) -> tuple:
    # Comparing client models goes through to_dict() and is slow; compare what the controller sets.
    c, ref = endpoint.conditions, endpoint.target_ref
    return (
        tuple(endpoint.addresses or []),
        c.ready if c else None,
        c.serving if c else None,
        c.terminating if c else None,
        endpoint.hostname,
        endpoint.node_name,
        endpoint.zone,
        (ref.name, ref.uid) if ref else None,
    )


class EndpointSliceReconciler:
    """Computes slice changes for one Service from its Pods, Nodes and current managed slices."""

    def __init__(
        self,
        *,
        seed: int = 0,
        max_endpoints: int = MAX_ENDPOINTS_PER_SLICE,
        suffix: Callable[[], str] | None = None,
    ) -> None:
        rng = random.Random(seed)
        self.max_endpoints = max_endpoints
        self._suffix = suffix or (lambda: random_suffix(rng))
        self._cache: dict[tuple, tuple[k8s.V1Endpoint, list[k8s.DiscoveryV1EndpointPort]]] = {}

    def reconcile(
        self,
        service: k8s.V1Service,
        pods: Iterable[k8s.V1Pod],
        nodes: Mapping[str, k8s.V1Node],
        existing: Iterable[k8s.V1EndpointSlice],
    ) -> SliceChanges:
        """Desired endpoints grouped by port set; existing slices are trimmed and filled first."""
        existing = list(existing)
        if not service.spec.selector or service.spec.type == "ExternalName":
            # Upstream's syncService returns early here: slices it made earlier stay, stale,
            # until the Service itself is deleted (then the garbage collector takes them).
            return SliceChanges()
        family = address_type(service)
        desired: dict[tuple, dict[tuple, k8s.V1Endpoint]] = {}
        ports_of: dict[tuple, list[k8s.DiscoveryV1EndpointPort]] = {}
        for pod in sorted(pods, key=lambda p: p.metadata.name or ""):
            if not selects(service.spec.selector, pod.metadata.labels) or not should_be_endpoint(
                pod
            ):
                continue
            endpoint, ports = self._endpoint(
                pod, service, nodes.get(pod.spec.node_name or ""), family
            )
            if not endpoint.addresses:
                continue
            key = _ports_key(ports)
            ports_of[key] = ports
            desired.setdefault(key, {})[_endpoint_key(endpoint)] = endpoint
        if not desired:
            return self._with_hints(service, self._placeholder(service, family, existing), existing)
        changes = SliceChanges()
        for slice_ in existing:
            key = _ports_key(slice_.ports)
            if slice_.address_type != family or key not in desired or not slice_.endpoints:
                changes.delete.append(slice_)
        kept = [s for s in existing if s not in changes.delete]
        for key, endpoints in desired.items():
            self._fill(
                service,
                family,
                ports_of[key],
                endpoints,
                [s for s in kept if _ports_key(s.ports) == key],
                changes,
            )
        return self._with_hints(service, self._recycle(changes), existing)

    @staticmethod
    def _with_hints(
        service: k8s.V1Service, changes: SliceChanges, existing: list[k8s.V1EndpointSlice]
    ) -> SliceChanges:
        """The ``trafficDistribution`` hints on every slice written, as upstream's last step."""
        changed = {s.metadata.name for s in (*changes.update, *changes.delete)}
        unchanged = [s for s in existing if s.metadata.name not in changed]
        reconcile_hints(service, changes.create, changes.update, unchanged)
        return changes

    @staticmethod
    def _recycle(changes: SliceChanges) -> SliceChanges:
        """Turn a create plus a delete into an update of the doomed slice, as upstream does."""
        for doomed in list(changes.delete):
            if not changes.create:
                break
            if doomed.address_type != changes.create[-1].address_type:
                continue  # addressType is immutable
            reused = changes.create.pop()
            labels = reused.metadata.labels
            reused.metadata = doomed.metadata.model_copy(deep=True)
            reused.metadata.labels = labels
            changes.delete.remove(doomed)
            changes.update.append(reused)
        return changes

    def _endpoint(
        self, pod: k8s.V1Pod, service: k8s.V1Service, node: k8s.V1Node | None, family: str
    ) -> tuple[k8s.V1Endpoint, list[k8s.DiscoveryV1EndpointPort]]:
        """Endpoint and ports for a Pod, memoized by the versions of the objects they come from
        (stored objects are never mutated, so a resourceVersion pins their content)."""
        versions = [
            (o.metadata.uid, o.metadata.resource_version) for o in (pod, service, node) if o
        ]
        if not all(uid and rv for uid, rv in versions[:2]):  # objects that are not from a store
            return pod_to_endpoint(pod, service, node, family), endpoint_ports(service, pod)
        key = (*versions, family)
        if key not in self._cache:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = (
                pod_to_endpoint(pod, service, node, family),
                endpoint_ports(service, pod),
            )
        return self._cache[key]

    def _fill(
        self,
        service: k8s.V1Service,
        family: str,
        ports: list[k8s.DiscoveryV1EndpointPort],
        wanted: dict[tuple, k8s.V1Endpoint],
        slices: list[k8s.V1EndpointSlice],
        changes: SliceChanges,
    ) -> None:
        placed: set[tuple] = set()
        rebuilt: list[tuple[k8s.V1EndpointSlice, list[k8s.V1Endpoint]]] = []
        for slice_ in slices:
            # Keep each endpoint in the slice that already holds it (fewer writes, as upstream).
            members = [
                wanted[k]
                for k in (_endpoint_key(e) for e in slice_.endpoints or [])
                if k in wanted and k not in placed
            ]
            placed.update(_endpoint_key(e) for e in members)
            rebuilt.append((slice_, members))
        pending = [e for k, e in wanted.items() if k not in placed]
        for slice_, members in rebuilt:
            room = self.max_endpoints - len(members)
            members = members + pending[:room] if room > 0 else members
            pending = pending[max(room, 0) :]
            if not members:
                changes.delete.append(slice_)
            elif [_signature(e) for e in members] != [
                _signature(e) for e in slice_.endpoints or []
            ] or _ports_key(slice_.ports) != _ports_key(ports):
                updated = slice_.model_copy(deep=True)
                updated.endpoints, updated.ports = members, ports
                updated.metadata.labels = self._labels(service)
                changes.update.append(updated)
        for start in range(0, len(pending), self.max_endpoints):
            changes.create.append(
                self._new_slice(service, family, ports, pending[start : start + self.max_endpoints])
            )

    def _placeholder(
        self, service: k8s.V1Service, family: str, existing: list[k8s.V1EndpointSlice]
    ) -> SliceChanges:
        # A selector Service with no endpoints still gets one empty slice (upstream's placeholder).
        keep = next(
            (s for s in existing if not s.endpoints and not s.ports and s.address_type == family),
            None,
        )
        changes = SliceChanges(delete=[s for s in existing if s is not keep])
        if keep is None:
            changes.create.append(self._new_slice(service, family, [], []))
        return self._recycle(changes)

    def _labels(self, service: k8s.V1Service) -> dict[str, str]:
        labels = dict(service.metadata.labels or {})
        labels[SERVICE_NAME_LABEL] = service.metadata.name
        labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
        if (service.spec.cluster_ip or "") == "None":
            labels[HEADLESS_LABEL] = ""
        return labels

    def _new_slice(
        self,
        service: k8s.V1Service,
        family: str,
        ports: list[k8s.DiscoveryV1EndpointPort],
        endpoints: list[k8s.V1Endpoint],
    ) -> k8s.V1EndpointSlice:
        prefix = f"{service.metadata.name}-"[:58]
        return k8s.V1EndpointSlice(
            api_version="discovery.k8s.io/v1",
            kind="EndpointSlice",
            metadata=k8s.V1ObjectMeta(
                name=prefix + self._suffix(),
                generate_name=prefix,
                namespace=service.metadata.namespace or "default",
                labels=self._labels(service),
                owner_references=[
                    k8s.V1OwnerReference(
                        api_version="v1",
                        kind="Service",
                        name=service.metadata.name,
                        uid=service.metadata.uid or "",
                        controller=True,
                        block_owner_deletion=True,
                    )
                ],
            ),
            address_type=family,
            endpoints=endpoints,
            ports=ports,
        )
