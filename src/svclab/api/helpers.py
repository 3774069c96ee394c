"""Predicates on API objects, as kubernetes keeps them in ``pkg/api/v1/{pod,service}/util.go``.

>>> import kubernetes.client as k8s
>>> svc = k8s.V1Service(spec=k8s.V1ServiceSpec(cluster_ip="None", type="NodePort"))
>>> is_headless(svc), externally_accessible(svc)
(True, True)
>>> ready = k8s.V1PodCondition(type="Ready", status="True")
>>> is_pod_ready(k8s.V1Pod(status=k8s.V1PodStatus(conditions=[ready]))), is_pod_ready(k8s.V1Pod())
(True, False)
"""

from __future__ import annotations

import kubernetes.client as k8s


def is_headless(svc: k8s.V1Service) -> bool:
    """``clusterIPs`` (or, not yet defaulted, ``clusterIP``) is exactly ``["None"]``."""
    spec = svc.spec
    if spec is None:
        return False
    return (spec.cluster_ips or [spec.cluster_ip]) == ["None"]


def externally_accessible(svc: k8s.V1Service) -> bool:
    """``ExternallyAccessible``: NodePort, LoadBalancer, or ClusterIP with externalIPs."""
    spec = svc.spec
    if spec is None:
        return False
    return spec.type in ("NodePort", "LoadBalancer") or (
        spec.type == "ClusterIP" and bool(spec.external_ips)
    )


def is_pod_ready(pod: k8s.V1Pod) -> bool:
    """The Pod's ``Ready`` condition is ``True`` (``podutil.IsPodReady``)."""
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)
