"""Fill in the fields the API server defaults on create (``pkg/apis/*/v1/defaults.go``, v1.35).

Objects are changed in place and returned, so calls chain.

>>> import kubernetes.client as k8s
>>> svc = default_service(k8s.V1Service(metadata=k8s.V1ObjectMeta(name="web"),
...     spec=k8s.V1ServiceSpec(ports=[k8s.V1ServicePort(port=80)])))
>>> s, port = svc.spec, svc.spec.ports[0]
>>> s.type, s.session_affinity, s.internal_traffic_policy, port.protocol, port.target_port
('ClusterIP', 'None', 'Cluster', 'TCP', 80)
"""

from __future__ import annotations

from typing import Any

import kubernetes.client as k8s

from svclab.api.helpers import externally_accessible

DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30


def default_service(svc: k8s.V1Service) -> k8s.V1Service:
    """``SetDefaults_Service`` plus the create strategy's ``clusterIPs`` from ``clusterIP``."""
    svc.api_version, svc.kind = svc.api_version or "v1", svc.kind or "Service"
    spec = svc.spec = svc.spec or k8s.V1ServiceSpec()
    spec.session_affinity = spec.session_affinity or "None"
    if spec.session_affinity == "None":
        spec.session_affinity_config = None
    elif spec.session_affinity == "ClientIP":
        config = spec.session_affinity_config
        if config is None or config.client_ip is None or config.client_ip.timeout_seconds is None:
            spec.session_affinity_config = k8s.V1SessionAffinityConfig(
                client_ip=k8s.V1ClientIPConfig(timeout_seconds=DEFAULT_CLIENT_IP_AFFINITY_SECONDS)
            )
    spec.type = spec.type or "ClusterIP"
    for port in spec.ports or []:
        port.protocol = port.protocol or "TCP"
        if port.target_port in (None, 0, ""):
            port.target_port = port.port
    if externally_accessible(svc) and not spec.external_traffic_policy:
        spec.external_traffic_policy = "Cluster"
    if spec.internal_traffic_policy is None and spec.type in (
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
    ):
        spec.internal_traffic_policy = "Cluster"
    if spec.type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is None:
        spec.allocate_load_balancer_node_ports = True
    if spec.cluster_ip and not spec.cluster_ips:
        spec.cluster_ips = [spec.cluster_ip]
    return svc


def default_pod_spec(spec: k8s.V1PodSpec | None) -> k8s.V1PodSpec:
    """``SetDefaults_PodSpec`` and the container-port defaults that matter for Services."""
    spec = spec or k8s.V1PodSpec(containers=[])
    spec.dns_policy = spec.dns_policy or "ClusterFirst"
    spec.restart_policy = spec.restart_policy or "Always"
    spec.scheduler_name = spec.scheduler_name or "default-scheduler"
    if spec.termination_grace_period_seconds is None:
        spec.termination_grace_period_seconds = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    for container in spec.containers or []:
        for port in container.ports or []:
            port.protocol = port.protocol or "TCP"
    return spec


def default_pod(pod: k8s.V1Pod) -> k8s.V1Pod:
    """``SetDefaults_Pod``: enableServiceLinks true, plus the pod-spec defaults.

    >>> p = default_pod(k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="c")])))
    >>> p.spec.enable_service_links, p.spec.termination_grace_period_seconds
    (True, 30)
    """
    pod.api_version, pod.kind = pod.api_version or "v1", pod.kind or "Pod"
    pod.spec = default_pod_spec(pod.spec)
    if pod.spec.enable_service_links is None:
        pod.spec.enable_service_links = True
    return pod


def default_endpoint_slice(eps: k8s.V1EndpointSlice) -> k8s.V1EndpointSlice:
    """``SetDefaults_EndpointPort``: protocol TCP and an empty name."""
    eps.api_version, eps.kind = (
        eps.api_version or "discovery.k8s.io/v1",
        eps.kind or "EndpointSlice",
    )
    for port in eps.ports or []:
        port.protocol = port.protocol or "TCP"
        port.name = port.name if port.name is not None else ""
    return eps


def default_deployment(deploy: k8s.V1Deployment) -> k8s.V1Deployment:
    """``SetDefaults_Deployment`` (apps/v1): 1 replica, RollingUpdate 25%/25%.

    >>> d = default_deployment(k8s.V1Deployment(spec=k8s.V1DeploymentSpec(
    ...     selector=k8s.V1LabelSelector(), template=k8s.V1PodTemplateSpec())))
    >>> d.spec.replicas, d.spec.strategy.rolling_update.max_surge
    (1, '25%')
    """
    deploy.api_version, deploy.kind = deploy.api_version or "apps/v1", deploy.kind or "Deployment"
    spec = deploy.spec
    if spec is None:
        return deploy
    spec.replicas = 1 if spec.replicas is None else spec.replicas
    strategy = spec.strategy = spec.strategy or k8s.V1DeploymentStrategy()
    strategy.type = strategy.type or "RollingUpdate"
    if strategy.type == "RollingUpdate":
        rolling = strategy.rolling_update = (
            strategy.rolling_update or k8s.V1RollingUpdateDeployment()
        )
        rolling.max_surge = "25%" if rolling.max_surge is None else rolling.max_surge
        rolling.max_unavailable = (
            "25%" if rolling.max_unavailable is None else rolling.max_unavailable
        )
    spec.revision_history_limit = (
        10 if spec.revision_history_limit is None else spec.revision_history_limit
    )
    spec.progress_deadline_seconds = spec.progress_deadline_seconds or 600
    if spec.template is not None:
        spec.template.spec = default_pod_spec(spec.template.spec)
    return deploy


def default_node(node: k8s.V1Node) -> k8s.V1Node:
    """Nodes have no defaults that matter here beyond their type fields."""
    node.api_version, node.kind = node.api_version or "v1", node.kind or "Node"
    return node


DEFAULTERS: dict[str, Any] = {
    "V1Service": default_service,
    "V1Pod": default_pod,
    "V1EndpointSlice": default_endpoint_slice,
    "V1Deployment": default_deployment,
    "V1Node": default_node,
}
"""The defaulting function for each kind svclab creates, by model name (naming a model does
not import it: ``kubernetes.client`` loads each on first use, and a Pod's takes a while)."""


def apply_defaults(obj: Any) -> Any:
    """Default ``obj`` in place by its type (unknown kinds are returned unchanged)."""
    defaulter = DEFAULTERS.get(type(obj).__name__)
    return defaulter(obj) if defaulter else obj
