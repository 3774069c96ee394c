"""A minimal Deployment controller: Pods from the template, rolling updates on virtual time.

ReplicaSets are not stored as objects: each template revision is a ``pod-template-hash``, and
a revision's replica count is the number of its Pods that are not terminating. Scaling follows
upstream's ``pkg/controller/deployment/rolling.go``: the new revision may grow to
``replicas + maxSurge`` Pods in total; old Pods go (unready ones first) only while at least
``replicas - maxUnavailable`` Pods stay available (Ready, ``minReadySeconds`` 0).

>>> from svclab.cluster import Cluster
>>> c = Cluster(seed=2, nodes=2)
>>> d = c.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
...     "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
...              "template": {"metadata": {"labels": {"app": "web"}},
...                           "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
>>> names = [p.metadata.name for p in c.list("Pod")]
>>> len(names), all(n.startswith("web-") and len(n.split("-")) == 3 for n in names)
(3, True)
>>> _ = c.run_until_idle()
>>> c.get("Deployment", "default", "web").status.ready_replicas
3
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any, Protocol

import kubernetes.client as k8s

from svclab.api.helpers import is_pod_ready
from svclab.api.manifests import to_manifest_dict

HASH_LABEL = "pod-template-hash"
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: k8s.V1PodTemplateSpec) -> str:
    """A ``pod-template-hash``: FNV-1a over the template, spelled with ``rand.SafeEncodeString``.

    Upstream hashes Go's dump of the struct, so the values differ from a real cluster's; the
    shape (stable per template, changes with it) is the same.

    >>> t = k8s.V1PodTemplateSpec(metadata=k8s.V1ObjectMeta(labels={"app": "web"}))
    >>> template_hash(t) == template_hash(t.model_copy(deep=True)), template_hash(t).isalnum()
    (True, True)
    """
    data = json.dumps(to_manifest_dict(template), sort_keys=True).encode()
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in str(value))


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``.

    >>> scaled_value("25%", 10, round_up=True), scaled_value("25%", 10, round_up=False)
    (3, 2)
    """
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    fraction = int(value.rstrip("%")) * total / 100
    return math.ceil(fraction) if round_up else math.floor(fraction)


def _deletion_rank(pod: k8s.V1Pod) -> tuple:
    # ActivePodsWithRanks, in short: unscheduled, then not running, then not ready, newest first.
    phase_order = {"Pending": 0, "Unknown": 1, "Running": 2}
    created = pod.metadata.creation_timestamp.timestamp() if pod.metadata.creation_timestamp else 0
    return (
        bool(pod.spec.node_name),
        phase_order.get(pod.status.phase if pod.status else "", 0),
        is_pod_ready(pod),
        -created,
        pod.metadata.name,
    )


class ObjectClient(Protocol):
    """What the controller needs of the cluster's API (`svclab.cluster.Cluster` provides it)."""

    def list(self, kind: str, namespace: str | None = None) -> list[Any]: ...

    def apply(self, obj: Any, source: str = "<api>") -> Any: ...

    def replace(self, obj: Any) -> Any: ...

    def delete(
        self, kind: str, namespace: str | None, name: str, grace_period_seconds: int | None = None
    ) -> Any: ...

    def new_name(self, prefix: str) -> str: ...


class DeploymentController:
    """Reconciles every Deployment through an `ObjectClient`; ``reconcile()`` says if it wrote."""

    def __init__(self, cluster: ObjectClient) -> None:
        self.cluster = cluster
        self._hashes: dict[tuple[str, int], str] = {}  # (uid, generation) -> pod-template-hash

    def reconcile(self) -> bool:
        """One pass over all Deployments and orphaned Pods."""
        changed = False
        deployments = {
            (d.metadata.namespace, d.metadata.name): d for d in self.cluster.list("Deployment")
        }
        owned: dict[tuple[str, str], list[k8s.V1Pod]] = {}
        for pod in self.cluster.list("Pod"):
            owner = _owner_deployment(pod)
            if owner is None:
                continue
            key = (pod.metadata.namespace, owner)
            if key in deployments:
                owned.setdefault(key, []).append(pod)
            elif pod.metadata.deletion_timestamp is None:  # garbage-collect an orphan
                self.cluster.delete("Pod", pod.metadata.namespace, pod.metadata.name)
                changed = True
        for key, deploy in deployments.items():
            changed = self._sync(deploy, owned.get(key, [])) or changed
        return changed

    def _sync(self, deploy: k8s.V1Deployment, pods: list[k8s.V1Pod]) -> bool:
        spec = deploy.spec
        key = (deploy.metadata.uid, deploy.metadata.generation)
        current = self._hashes.get(key) or self._hashes.setdefault(
            key, template_hash(spec.template)
        )
        active = [p for p in pods if p.metadata.deletion_timestamp is None]
        new = [p for p in active if (p.metadata.labels or {}).get(HASH_LABEL) == current]
        old = [p for p in active if (p.metadata.labels or {}).get(HASH_LABEL) != current]
        replicas = spec.replicas or 0
        if spec.strategy.type == "Recreate":
            changed = self._delete(old, len(old))
            # Recreate starts the new revision once every old Pod is gone, terminating ones too.
            if all((p.metadata.labels or {}).get(HASH_LABEL) == current for p in pods):
                changed = self._scale_new(deploy, current, replicas - len(new)) or changed
            self._status(deploy, current)
            return changed
        rolling = spec.strategy.rolling_update
        surge = scaled_value(rolling.max_surge, replicas, round_up=True)
        unavailable = scaled_value(rolling.max_unavailable, replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        changed = False
        if len(new) > replicas:
            changed = self._delete(new, len(new) - replicas)
        elif len(new) < replicas:
            room = replicas - len(new) if not old else replicas + surge - len(active)
            changed = self._scale_new(deploy, current, min(room, replicas - len(new)))
        if old:
            min_available = replicas - unavailable
            new_unavailable = sum(1 for p in new if not is_pod_ready(p))
            budget = len(new) + len(old) - min_available - new_unavailable
            unhealthy = [p for p in old if not is_pod_ready(p)]
            cleaned = min(budget, len(unhealthy)) if budget > 0 else 0
            changed = self._delete(unhealthy, cleaned) or changed
            available = sum(1 for p in active if is_pod_ready(p))
            healthy = [p for p in old if is_pod_ready(p)]
            changed = self._delete(healthy, min(len(healthy), available - min_available)) or changed
        self._status(deploy, current)
        return changed

    def _scale_new(self, deploy: k8s.V1Deployment, current: str, count: int) -> bool:
        for _ in range(max(count, 0)):
            self.cluster.apply(self._pod(deploy, current))
        return count > 0

    def _delete(self, pods: list[k8s.V1Pod], count: int) -> bool:
        for pod in sorted(pods, key=_deletion_rank)[: max(count, 0)]:
            self.cluster.delete("Pod", pod.metadata.namespace, pod.metadata.name)
        return count > 0

    def _pod(self, deploy: k8s.V1Deployment, current: str) -> k8s.V1Pod:
        template = deploy.spec.template.model_copy(deep=True)
        meta = template.metadata or k8s.V1ObjectMeta()
        rs_name = f"{deploy.metadata.name}-{current}"
        return k8s.V1Pod(
            api_version="v1",
            kind="Pod",
            metadata=k8s.V1ObjectMeta(
                name=self.cluster.new_name(f"{rs_name}-"),
                generate_name=f"{rs_name}-",
                namespace=deploy.metadata.namespace,
                labels={**(meta.labels or {}), HASH_LABEL: current},
                annotations=meta.annotations,
                owner_references=[
                    k8s.V1OwnerReference(
                        api_version="apps/v1",
                        kind="ReplicaSet",
                        name=rs_name,
                        uid=_rs_uid(deploy, current),
                        controller=True,
                        block_owner_deletion=True,
                    )
                ],
            ),
            spec=template.spec,
        )

    def _status(self, deploy: k8s.V1Deployment, current: str) -> None:
        """Write ``status`` when it changed (other controllers do not read it)."""
        active = [
            p
            for p in self.cluster.list("Pod", deploy.metadata.namespace)
            if _owner_deployment(p) == deploy.metadata.name
            and p.metadata.deletion_timestamp is None
        ]
        ready = sum(1 for p in active if is_pod_ready(p))
        updated = sum(1 for p in active if (p.metadata.labels or {}).get(HASH_LABEL) == current)
        replicas = deploy.spec.replicas or 0
        status = k8s.V1DeploymentStatus(
            observed_generation=deploy.metadata.generation,
            replicas=len(active) or None,
            updated_replicas=updated or None,
            ready_replicas=ready or None,
            available_replicas=ready or None,
            unavailable_replicas=max(replicas - ready, 0) or None,
        )
        if deploy.status == status:
            return
        updated_deploy = deploy.model_copy(deep=True)
        updated_deploy.status = status
        self.cluster.replace(updated_deploy)


def _owner_deployment(pod: k8s.V1Pod) -> str | None:
    for ref in pod.metadata.owner_references or []:
        if ref.kind == "ReplicaSet" and ref.controller:
            return ref.name.rsplit("-", 1)[0]
    return None


def _rs_uid(deploy: k8s.V1Deployment, current: str) -> str:
    return str(uuid.uuid5(uuid.UUID(deploy.metadata.uid), current))
