"""A mutable in-process cluster on virtual time: API-server storage, allocators and controllers.

`Cluster` stores client objects the way the API server does (defaulting, validation,
ClusterIP/NodePort allocation, uid, creationTimestamp, resourceVersion), runs a minimal
scheduler and kubelet (Pods get IPs, start, become Ready, terminate for their grace period),
a Deployment controller with rolling updates, and the EndpointSlice controller. Time is
virtual: nothing happens between calls; `Cluster.advance` moves the clock and fires what is due.

Stored objects are replaced, never mutated, on every change: treat what you get as read-only.

>>> c = Cluster(seed=1)
>>> c.get("Service", "default", "kubernetes").spec.cluster_ip
'10.96.0.1'
>>> seen = []
>>> c.watch(lambda kind, obj: seen.append((kind, obj.kind, obj.metadata.name)))
>>> svc = c.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
...                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
>>> svc.spec.cluster_ip.startswith("10."), svc.spec.type, svc.metadata.resource_version
(True, 'ClusterIP', '4')
>>> seen[0][:2], seen[1][1]
(('ADDED', 'Service'), 'EndpointSlice')
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import random
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import kubernetes.client as k8s

from svclab import KUBERNETES_VERSION
from svclab.api.admission import admit, check_plugins
from svclab.api.defaults import apply_defaults
from svclab.api.manifests import KINDS, build_object, load_manifests, object_label
from svclab.api.state import SERVICE_NAME_LABEL, ClusterState, namespace_of
from svclab.api.validation import check
from svclab.cluster import envvars
from svclab.cluster.allocators import AllocationError, ClusterIPAllocator, NodePortAllocator
from svclab.cluster.clock import VirtualClock
from svclab.cluster.deployments import DeploymentController
from svclab.cluster.endpointslices import (
    CONTROLLER_NAME,
    MANAGED_BY_LABEL,
    ZONE_LABEL,
    EndpointSliceReconciler,
    random_suffix,
)
from svclab.cluster.kubelet import Kubelet, internal_ip, node_subnets, set_ready
from svclab.errors import ManifestError

"""The wall-clock time of virtual second 0 (timestamps stay reproducible)."""

MODELS: dict[str, type] = {kind: model for (_, kind), model in KINDS.items()}
API_VERSIONS: dict[str, str] = {kind: version for (version, kind), _ in KINDS.items()}
CLUSTER_SCOPED = frozenset({"Node", "Namespace"})
_ALIASES = {alias: kind for kind in MODELS for alias in (kind.lower(), kind.lower() + "s")}

Watcher = Callable[[str, Any], None]


def kind_name(kind: str) -> str:
    """Normalize ``services``/``service``/``Service`` to the kind name.

    >>> kind_name("endpointslices"), kind_name("Pod")
    ('EndpointSlice', 'Pod')
    """
    if kind in MODELS:
        return kind
    try:
        return _ALIASES[kind.lower()]
    except KeyError:
        raise ManifestError("<api>", "", "kind", f"unknown kind {kind!r}") from None


class Cluster:
    """An API server, scheduler, kubelets and controllers in one object, on virtual time."""

    def __init__(
        self,
        *,
        service_cidr: str = "10.96.0.0/12",
        pod_cidr: str = "10.244.0.0/16",
        node_port_range: str = "30000-32767",
        seed: int = 0,
        nodes: int = 1,
        node_cidr: str | None = None,
        pod_start_delay: float = 1.0,
        pod_ready_delay: float = 1.0,
        admission_plugins: Sequence[str] = (),
    ) -> None:
        self.clock = VirtualClock()
        self.admission_plugins = check_plugins(admission_plugins)
        """kube-apiserver's ``--enable-admission-plugins`` (see `svclab.api.admission`)."""
        self._rng = random.Random(seed)
        self._store: dict[str, dict[tuple[str, str], Any]] = {kind: {} for kind in MODELS}
        self._sources: dict[tuple[str, str, str], str] = {}
        self._watchers: list[Watcher] = []
        self._rv = 0
        self._reconciling = False
        self._dirty: set[str] = set()  # namespaces whose Services or Pods changed ("*": all)
        self.cluster_ips = ClusterIPAllocator(service_cidr, seed)
        self.node_ports = NodePortAllocator(node_port_range, seed)
        self._pod_subnets = node_subnets(pod_cidr)
        if node_cidr is None:  # kind's docker network of the same family
            node_cidr = (
                "172.18.0.0/24" if self.cluster_ips.family == "IPv4" else "fc00:f853:ccd:e793::/64"
            )
        self._node_ips = ipaddress.ip_network(node_cidr).hosts()
        next(self._node_ips)  # .1 is the gateway of the node network
        self._kubelet = Kubelet(
            self.clock,
            self,
            self._pod_subnets,
            write=lambda new, old: self._write("Pod", new, old),
            remove=lambda pod: self._remove("Pod", pod),
            start_delay=pod_start_delay,
            ready_delay=pod_ready_delay,
        )
        self._slices = EndpointSliceReconciler(suffix=lambda: random_suffix(self._rng))
        self._deployments = DeploymentController(self)
        for i in range(nodes):
            self.add_node(f"node-{i + 1}")
        self._create_kubernetes_service()

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_manifests(cls, paths: Iterable[str | Path], **kwargs: Any) -> Cluster:
        """A cluster with every object of the given files and folders applied in order."""
        cluster = cls(**kwargs)
        for manifest in load_manifests(paths):
            cluster.apply(manifest.obj, source=manifest.source)
        return cluster

    def add_node(
        self, name: str, zone: str | None = None, *, labels: dict[str, str] | None = None
    ) -> k8s.V1Node:
        """Register a Ready node with an InternalIP and a pod CIDR (as node IPAM assigns)."""
        node_labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            **(labels or {}),
        }
        if zone:
            node_labels[ZONE_LABEL] = zone
        index = len(self._store["Node"])
        if index >= len(self._pod_subnets):
            raise ManifestError("<api>", f"Node {name}", "spec.podCIDR", "pod CIDR exhausted")
        node = k8s.V1Node(
            api_version="v1",
            kind="Node",
            metadata=k8s.V1ObjectMeta(name=name, labels=node_labels),
            spec=k8s.V1NodeSpec(
                pod_cidr=str(self._pod_subnets[index]), pod_cidrs=[str(self._pod_subnets[index])]
            ),
            status=k8s.V1NodeStatus(
                addresses=[
                    k8s.V1NodeAddress(type="InternalIP", address=str(next(self._node_ips))),
                    k8s.V1NodeAddress(type="Hostname", address=name),
                ],
                conditions=[k8s.V1NodeCondition(type="Ready", status="True")],
                node_info=k8s.V1NodeSystemInfo(
                    architecture="amd64",
                    boot_id="",
                    container_runtime_version="containerd://2.1.0",
                    kernel_version="6.1.0",
                    kube_proxy_version="",
                    kubelet_version=f"v{KUBERNETES_VERSION}.0",
                    machine_id="",
                    operating_system="linux",
                    os_image="svclab model node",
                    system_uuid="",
                ),
            ),
        )
        return self.apply(node)

    def _create_kubernetes_service(self) -> None:
        # The apiserver's own Service: first address of the CIDR, https/443 -> 6443.
        first = self.cluster_ips.first
        self.apply(
            k8s.V1Service(
                api_version="v1",
                kind="Service",
                metadata=k8s.V1ObjectMeta(
                    name="kubernetes",
                    namespace="default",
                    labels={"component": "apiserver", "provider": "kubernetes"},
                ),
                spec=k8s.V1ServiceSpec(
                    cluster_ip=first,
                    ports=[
                        k8s.V1ServicePort(name="https", port=443, protocol="TCP", target_port=6443)
                    ],
                ),
            )
        )
        nodes = list(self._store["Node"].values())
        address = internal_ip(nodes[0]) if nodes else str(next(self._node_ips))
        self.apply(
            k8s.V1EndpointSlice(
                api_version="discovery.k8s.io/v1",
                kind="EndpointSlice",
                metadata=k8s.V1ObjectMeta(
                    name="kubernetes",
                    namespace="default",
                    labels={SERVICE_NAME_LABEL: "kubernetes"},
                ),
                address_type=self.cluster_ips.family,
                endpoints=[
                    k8s.V1Endpoint(
                        addresses=[address], conditions=k8s.V1EndpointConditions(ready=True)
                    )
                ],
                ports=[k8s.DiscoveryV1EndpointPort(name="https", port=6443, protocol="TCP")],
            )
        )

    # --- reading -----------------------------------------------------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> Any:
        """The stored object, or None."""
        kind = kind_name(kind)
        return self._store[kind].get(self._key(kind, namespace, name))

    def list(self, kind: str, namespace: str | None = None) -> list[Any]:
        """Stored objects of a kind (optionally one namespace), in namespace/name order."""
        kind = kind_name(kind)
        items = sorted(self._store[kind].items())
        return [obj for (ns, _), obj in items if namespace is None or ns == namespace]

    def state(self) -> ClusterState:
        """A snapshot for the data planes, DNS and env vars (objects shared, lists copied)."""
        state = ClusterState(
            services=self.list("Service"),
            endpoint_slices=self.list("EndpointSlice"),
            pods=self.list("Pod"),
            nodes=self.list("Node"),
        )
        for kind in ("Service", "EndpointSlice", "Pod", "Node"):
            for (ns, name), obj in self._store[kind].items():
                source = self._sources.get((kind, ns, name))
                if source:
                    state.sources[id(obj)] = source
        return state

    def watch(self, callback: Watcher) -> None:
        """Call ``callback(event, obj)`` for every later change (ADDED, MODIFIED, DELETED)."""
        self._watchers.append(callback)

    # --- writing -----------------------------------------------------------------------------

    def apply(self, obj: Any, source: str = "<api>") -> Any:
        """Create or update an object (client object or manifest dict), then run the controllers."""
        obj = self._as_object(obj, source)
        kind = obj.kind
        obj.metadata = obj.metadata or k8s.V1ObjectMeta()
        if kind not in CLUSTER_SCOPED:
            obj.metadata.namespace = obj.metadata.namespace or "default"
        if not obj.metadata.name and obj.metadata.generate_name:
            obj.metadata.name = obj.metadata.generate_name + random_suffix(self._rng)
        apply_defaults(obj)
        check(obj, source)
        key = self._key(kind, obj.metadata.namespace, obj.metadata.name or "")
        old = self._store[kind].get(key)
        admit(self.admission_plugins, obj, old, source, object_label(obj))
        if kind == "Service":
            self._allocate_service(obj, old, source)
        elif kind == "Pod" and old is not None:
            obj = self._pod_update(old, obj)
        elif kind == "Pod" and obj.status is None:
            obj.status = k8s.V1PodStatus(phase="Pending")  # as the API server's create strategy
        stored = self._write(kind, obj, old)
        if source != "<api>":
            self._sources[(kind, *key)] = source
        if kind == "Pod" and old is None:
            self._kubelet.start(stored)
        self._reconcile()
        return self.get(kind, key[0], key[1])

    def delete(
        self, kind: str, namespace: str | None, name: str, grace_period_seconds: int | None = None
    ) -> Any:
        """Delete an object; a Pod first terminates for its grace period (on virtual time).

        ``grace_period_seconds`` overrides the Pod's ``terminationGracePeriodSeconds``, as
        DeleteOptions does (0: at once, like ``kubectl delete --grace-period=0 --force``).
        """
        kind = kind_name(kind)
        key = self._key(kind, namespace, name)
        obj = self._store[kind].get(key)
        if obj is None:
            raise ManifestError("<api>", f"{kind} {namespace}/{name}", "", "not found")
        if kind == "Pod":
            self._kubelet.terminate(obj, grace_period_seconds)
        else:
            self._remove(kind, obj)
        self._reconcile()
        return obj

    @property
    def now(self) -> float:
        """Virtual seconds since `svclab.cluster.clock.EPOCH`."""
        return self.clock.now

    def advance(self, seconds: float) -> None:
        """Move virtual time forward, firing every timer that falls due, in order."""
        if seconds < 0:
            raise ValueError("time does not run backwards")
        clock = self.clock
        end = clock.now + seconds
        while (when := clock.next_due(end)) is not None:
            clock.now = when
            # Everything due at the same instant happens before the controllers look again.
            while clock.next_due(when) is not None:
                clock.pop()()
            self._reconcile()
        clock.now = end

    def run_until_idle(self, limit: float = 3600.0) -> float:
        """Advance until no timer is pending (at most ``limit`` seconds); return the time spent."""
        start = self.now
        while (when := self.clock.next_due(start + limit)) is not None:
            self.advance(when - self.now)
        return self.now - start

    def pod_env(
        self, namespace: str, name: str, container: str | None = None
    ) -> list[tuple[str, str]]:
        """A container's Service variables: only Services created before the Pod started count."""
        pod = self.get("Pod", namespace, name)
        if pod is None:
            raise ManifestError("<api>", f"Pod {namespace}/{name}", "", "not found")
        return envvars.pod_env(self.state(), pod, container)

    def replace(self, obj: Any) -> Any:
        """Store a controller's change to an existing object as is (no defaulting or validation)."""
        kind = obj.kind
        old = self._store[kind].get(self._key(kind, obj.metadata.namespace, obj.metadata.name))
        if old is None:
            raise ManifestError("<api>", object_label(obj), "", "not found")
        stored = self._write(kind, obj.model_copy(deep=True), old)
        self._reconcile()
        return stored

    def set_pod_ready(self, namespace: str, name: str, ready: bool) -> k8s.V1Pod:
        """Flip a Pod's Ready condition, as a readiness probe would."""
        pod = self.get("Pod", namespace, name)
        if pod is None:
            raise ManifestError("<api>", f"Pod {namespace}/{name}", "", "not found")
        updated = pod.model_copy(deep=True)
        set_ready(updated, ready)
        self._write("Pod", updated, pod)
        self._reconcile()
        return self.get("Pod", namespace, name)

    def schedule(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` when virtual time reaches now + ``delay`` (controllers, simulators)."""
        self.clock.after(max(delay, 0.0), action)

    def timestamp(self, seconds: float | None = None) -> dt.datetime:
        """The wall-clock time of a virtual second (now by default)."""
        return self.clock.timestamp(seconds)

    def seconds(self, when: dt.datetime) -> float:
        """The virtual second of a timestamp this cluster wrote."""
        return self.clock.seconds(when)

    def new_name(self, prefix: str) -> str:
        """``prefix`` plus a 5-character ``generateName`` suffix, deterministic for the seed."""
        return prefix + random_suffix(self._rng)

    # --- storage internals -------------------------------------------------------------------

    def _key(self, kind: str, namespace: str | None, name: str) -> tuple[str, str]:
        return ("" if kind in CLUSTER_SCOPED else (namespace or "default"), name)

    def _as_object(self, obj: Any, source: str) -> Any:
        if isinstance(obj, dict):
            kind = obj.get("kind")
            model = KINDS.get((obj.get("apiVersion"), kind)) if kind else None
            if model is None:
                name = (obj.get("metadata") or {}).get("name") or "<unnamed>"
                label = f"{kind or '<no kind>'} {name}"
                raise ManifestError(
                    source,
                    label,
                    "apiVersion" if kind else "kind",
                    f"{obj.get('apiVersion')!r} {kind!r} is not served here"
                    if kind
                    else "required",
                )
            return build_object(model, copy.deepcopy(obj), source)
        if type(obj) not in MODELS.values():
            raise ManifestError(source, "", "kind", f"cannot store a {type(obj).__name__}")
        obj = obj.model_copy(deep=True)
        obj.kind = obj.kind or type(obj).__name__.removeprefix("V1")
        obj.api_version = obj.api_version or API_VERSIONS[obj.kind]
        return obj

    def _write(self, kind: str, obj: Any, old: Any) -> Any:
        meta = obj.metadata
        self._rv += 1
        meta.resource_version = str(self._rv)
        if old is None:
            meta.uid = meta.uid or str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            meta.creation_timestamp = self.timestamp()
            if kind == "Deployment":
                meta.generation = 1
        else:
            meta.uid = old.metadata.uid
            meta.creation_timestamp = old.metadata.creation_timestamp
            if kind == "Deployment":
                changed = old.spec != obj.spec
                meta.generation = (old.metadata.generation or 1) + (1 if changed else 0)
        self._store[kind][self._key(kind, meta.namespace, meta.name)] = obj
        self._touch(kind, meta.namespace)
        self._emit("ADDED" if old is None else "MODIFIED", obj)
        return obj

    def _remove(self, kind: str, obj: Any) -> None:
        key = self._key(kind, obj.metadata.namespace, obj.metadata.name)
        if self._store[kind].pop(key, None) is None:
            return
        self._sources.pop((kind, *key), None)
        self._touch(kind, key[0])
        if kind == "Service":
            self._release_service(obj)
        # A delete is a write: the DELETED event carries a new resourceVersion, as the API server's.
        self._rv += 1
        gone = obj.model_copy(deep=True)
        gone.metadata.resource_version = str(self._rv)
        self._emit("DELETED", gone)

    def _touch(self, kind: str, namespace: str | None) -> None:
        # The slice controller's own writes do not need another look; user-written slices do.
        if kind in ("Pod", "Service") or (kind == "EndpointSlice" and not self._reconciling):
            self._dirty.add(namespace or "default")
        elif kind == "Node":
            self._dirty.add("*")

    def _emit(self, event: str, obj: Any) -> None:
        for watcher in list(self._watchers):
            watcher(event, obj)

    # --- Services: allocation (pkg/registry/core/service/storage/alloc.go) ---------------------

    def _allocate_service(self, svc: k8s.V1Service, old: k8s.V1Service | None, source: str) -> None:
        spec = svc.spec
        label = object_label(svc)
        if spec.type == "ExternalName":
            if old is not None:
                self._release_service(old)
            return
        if old is not None and old.spec.cluster_ip and not spec.cluster_ip:
            spec.cluster_ip, spec.cluster_ips = old.spec.cluster_ip, old.spec.cluster_ips
        elif old is not None and old.spec.cluster_ip and spec.cluster_ip != old.spec.cluster_ip:
            raise ManifestError(
                source,
                label,
                "spec.clusterIPs[0]",
                f'Invalid value: ["{spec.cluster_ip}"]: may not change once set',
            )
        family = self.cluster_ips.family
        if spec.cluster_ip and spec.cluster_ip != "None":
            ip_family = "IPv6" if ":" in spec.cluster_ip else "IPv4"
            spec.ip_families = spec.ip_families or [ip_family]
        if spec.ip_family_policy == "RequireDualStack":
            raise ManifestError(
                source,
                label,
                "spec.ipFamilyPolicy",
                'Invalid value: "RequireDualStack": '
                "Cluster is not configured for dual stack services",
            )
        for i, requested in enumerate(spec.ip_families or []):
            if requested != family:
                raise ManifestError(
                    source,
                    label,
                    f"spec.ipFamilies[{i}]",
                    f"Invalid value: {_json_list(spec.cluster_ips or [])}: "
                    f"ipfamily {requested} is not configured on cluster",
                )
        spec.ip_families = spec.ip_families or [family]
        spec.ip_family_policy = spec.ip_family_policy or "SingleStack"
        new_ip = None
        if not (old and old.spec.cluster_ip) and spec.cluster_ip != "None":
            try:
                new_ip = self.cluster_ips.allocate(spec.cluster_ip or None)
            except AllocationError as exc:
                if not spec.cluster_ip:
                    raise ManifestError(
                        source,
                        label,
                        "",
                        f"Internal error occurred: failed to allocate a serviceIP: {exc}",
                    ) from None
                raise ManifestError(
                    source,
                    label,
                    "spec.clusterIPs",
                    f"Invalid value: {_json_list(spec.cluster_ips)}: "
                    f"failed to allocate IP {spec.cluster_ip}: {exc}",
                ) from None
            spec.cluster_ip, spec.cluster_ips = new_ip, [new_ip]
        try:
            self._allocate_node_ports(svc, old, label, source)
        except ManifestError:
            if new_ip:
                self.cluster_ips.release(new_ip)
            raise

    def _allocate_node_ports(
        self, svc: k8s.V1Service, old: k8s.V1Service | None, label: str, source: str
    ) -> None:
        spec = svc.spec
        wants = spec.type == "NodePort" or (
            spec.type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is not False
        )
        previous = (
            {(p.port, p.protocol): p.node_port for p in (old.spec.ports or []) if p.node_port}
            if old
            else {}
        )
        held = set(previous.values())
        taken: list[int] = []
        try:
            for i, port in enumerate(spec.ports or []):
                if not port.node_port and wants and previous.get((port.port, port.protocol)):
                    port.node_port = previous[(port.port, port.protocol)]
                if port.node_port in held:
                    held.discard(port.node_port)
                    continue
                if port.node_port or wants:
                    port.node_port = self._take_port(
                        port.node_port, f"spec.ports[{i}].nodePort", label, source
                    )
                    taken.append(port.node_port)
            needs_hc = spec.type == "LoadBalancer" and spec.external_traffic_policy == "Local"
            old_hc = old.spec.health_check_node_port if old else None
            if needs_hc and (spec.health_check_node_port or old_hc) == old_hc and old_hc:
                spec.health_check_node_port = old_hc  # kept across updates
            elif needs_hc:
                spec.health_check_node_port = self._take_port(
                    spec.health_check_node_port, "spec.healthCheckNodePort", label, source
                )
                taken.append(spec.health_check_node_port)
        except ManifestError:
            for port_number in taken:
                self.node_ports.release(port_number)
            raise
        if old_hc and spec.health_check_node_port != old_hc:
            held.add(old_hc)
        for stale in held:  # ports the update gave up
            self.node_ports.release(stale)

    def _take_port(self, port: int | None, field: str, label: str, source: str) -> int:
        try:
            return self.node_ports.allocate(port or None)
        except AllocationError as exc:
            raise ManifestError(source, label, field, f"Invalid value: {port}: {exc}") from None

    def _release_service(self, svc: k8s.V1Service) -> None:
        for ip in svc.spec.cluster_ips or []:
            if ip != "None" and self.cluster_ips.contains(ip):
                self.cluster_ips.release(ip)
        for port in svc.spec.ports or []:
            if port.node_port:
                self.node_ports.release(port.node_port)
        if svc.spec.health_check_node_port:
            self.node_ports.release(svc.spec.health_check_node_port)

    # --- Pods: scheduler and kubelet ---------------------------------------------------------

    def _pod_update(self, old: k8s.V1Pod, new: k8s.V1Pod) -> k8s.V1Pod:
        # Pod specs are immutable; labels, annotations and (kubelet-reported) status may change.
        updated = old.model_copy(deep=True)
        updated.metadata.labels = new.metadata.labels
        updated.metadata.annotations = new.metadata.annotations
        if new.status is not None:
            updated.status = new.status
        return updated

    def _reconcile(self) -> None:
        """Run the controllers until they have nothing more to write."""
        if self._reconciling:
            return
        self._reconciling = True
        try:
            for _ in range(100):  # bounded: each pass converges in one or two rounds
                changed = self._deployments.reconcile()
                changed = self._reconcile_slices() or changed
                if not changed:
                    return
        finally:
            self._reconciling = False

    def _reconcile_slices(self) -> bool:
        nodes = {n.metadata.name: n for n in self.list("Node")}
        changed = False
        managed: dict[tuple[str, str], list[k8s.V1EndpointSlice]] = {}
        for s in self.list("EndpointSlice"):
            labels = s.metadata.labels or {}
            if labels.get(MANAGED_BY_LABEL) == CONTROLLER_NAME:
                managed.setdefault(
                    (namespace_of(s), labels.get(SERVICE_NAME_LABEL, "")), []
                ).append(s)
        services = {(namespace_of(s), s.metadata.name): s for s in self.list("Service")}
        dirty, self._dirty = self._dirty, set()
        for key in sorted(set(services) | set(managed)):
            if "*" not in dirty and key[0] not in dirty:
                continue
            svc = services.get(key)
            existing = managed.get(key, [])
            if svc is None:  # the garbage collector removes slices whose Service is gone
                for s in existing:
                    self._remove("EndpointSlice", s)
                changed = changed or bool(existing)
                continue
            changes = self._slices.reconcile(svc, self.list("Pod", key[0]), nodes, existing)
            for s in changes.delete:
                self._remove("EndpointSlice", s)
            for s in changes.update:
                self._write("EndpointSlice", s, self.get("EndpointSlice", key[0], s.metadata.name))
            for s in changes.create:
                self._write("EndpointSlice", s, None)
            changed = changed or bool(changes)
        return changed


def _json_list(values: list[str] | None) -> str:
    return "[" + ",".join(f'"{v}"' for v in values or []) + "]"
