"""The traffic-policies chapter's model cluster: three nodes, two zones, Pods spread unevenly.

``labs/manifests/policies.yaml`` holds the Nodes, the backend Pods, one Service per policy and
the EndpointSlices svclab's EndpointSlice controller writes for them (`controller_slices`,
``trafficDistribution`` hints included). Each node's kube-proxy flags come from its Node
object, as kube-proxy takes its name, address and zone label from it (`proxy_config`).

>>> state = load()
>>> [(n.name, n.zone, n.ip) for n in nodes(state)]
[('node-1', 'zone-a', '192.168.0.1'), ('node-2', 'zone-b', '192.168.0.2'), ('node-3', 'zone-a', '192.168.0.3')]
>>> {n.name: backends_on(state, n.name) for n in nodes(state)}
{'node-1': ['web-1'], 'node-2': ['web-2', 'web-3'], 'node-3': []}
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import kubernetes.client as k8s

from svclab.api.reading import read_state
from svclab.api.state import ClusterState
from svclab.cluster.endpointslices import ZONE_LABEL, EndpointSliceReconciler
from svclab.proxy.config import ProxyConfig

MANIFEST = Path(__file__).resolve().parents[3] / "labs" / "manifests" / "policies.yaml"
"""The model cluster, in the repository's ``labs/manifests``."""
CLUSTER_CIDR = "10.244.0.0/16"
"""The Pod network: a source in it is a Pod (kube-proxy's ``--cluster-cidr`` detector)."""


@dataclass(frozen=True)
class NodeView:
    """What kube-proxy knows of its own node: name, zone label and InternalIP."""

    name: str
    zone: str
    ip: str

    @property
    def client(self) -> str:
        """The IP of a client Pod on this node (internal traffic starts there).

        >>> NodeView("node-2", "zone-b", "192.168.0.2").client
        '10.244.2.200'
        """
        return f"10.244.{self.ip.rsplit('.', 1)[1]}.200"


def load(path: Path | str = MANIFEST) -> ClusterState:
    """The model cluster as stored: Nodes, Pods, Services and their EndpointSlices."""
    return read_state([path])


def nodes(state: ClusterState) -> list[NodeView]:
    """The cluster's nodes, by name."""
    views = []
    for node in sorted(state.nodes, key=lambda n: n.metadata.name):
        addresses = (node.status.addresses if node.status else None) or []
        ip = next((a.address for a in addresses if a.type == "InternalIP"), "")
        zone = (node.metadata.labels or {}).get(ZONE_LABEL, "")
        views.append(NodeView(node.metadata.name, zone, ip))
    return views


def proxy_config(node: NodeView) -> ProxyConfig:
    """`node`'s kube-proxy flags: its name, address, zone, and the Pod CIDR detector."""
    return ProxyConfig(
        hostname_override=node.name,
        node_ips=[node.ip],
        cluster_cidr=CLUSTER_CIDR,
        node_zone=node.zone or None,
    )


def backends_on(state: ClusterState, node_name: str) -> list[str]:
    """Names of the Pods on `node_name`."""
    return sorted(p.metadata.name for p in state.pods if p.spec.node_name == node_name)


def controller_slices(state: ClusterState) -> list[k8s.V1EndpointSlice]:
    """What svclab's EndpointSlice controller creates for every Service of `state`, from
    scratch, slices named ``<service>-1`` so that the manifest stays readable."""
    by_name = {n.metadata.name: n for n in state.nodes}
    slices = []
    for service in sorted(state.services, key=lambda s: s.metadata.name):
        reconciler = EndpointSliceReconciler(suffix=lambda: "1")
        created = reconciler.reconcile(service, state.pods, by_name, []).create
        for slice_ in created:
            slice_.metadata.name = f"{service.metadata.name}-1"
            slice_.metadata.generate_name = None
        slices.extend(created)
    return slices


def with_pods(state: ClusterState, pods: list[k8s.V1Pod]) -> ClusterState:
    """`state` with other Pods, and the EndpointSlices the controller writes for them."""
    changed = ClusterState(services=state.services, pods=pods, nodes=state.nodes)
    changed.endpoint_slices = controller_slices(changed)
    return changed


def rollout_on(state: ClusterState, node_name: str) -> ClusterState:
    """A rolling update caught halfway on `node_name`: its Pods are terminating (still
    serving: they finish their requests) and their replacements there are not ready yet."""
    deleted = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    pods = []
    for pod in state.pods:
        if pod.spec.node_name != node_name:
            pods.append(pod)
            continue
        old = pod.model_copy(deep=True)
        old.metadata.deletion_timestamp = deleted
        new = pod.model_copy(deep=True)
        new.metadata.name = f"{pod.metadata.name}-new"
        new.metadata.uid = f"{pod.metadata.uid}-new"
        new.status.pod_ip = pod.status.pod_ip.rsplit(".", 1)[0] + ".20"
        new.status.pod_ips = None
        new.status.conditions = [k8s.V1PodCondition(type="Ready", status="False")]
        pods += [old, new]
    return with_pods(state, pods)


def without_pods_in(state: ClusterState, zone: str) -> ClusterState:
    """`state` with the backend Pods of `zone` gone (scaled down or evicted)."""
    in_zone = {n.name for n in nodes(state) if n.zone == zone}
    return with_pods(state, [p for p in state.pods if p.spec.node_name not in in_zone])


def endpoint_rows(state: ClusterState, service: str) -> list[dict]:
    """The endpoints of `service`'s EndpointSlices: where each is, its conditions, its hints."""
    rows = []
    for slice_ in state.endpoint_slices:
        if (slice_.metadata.labels or {}).get("kubernetes.io/service-name") != service:
            continue
        for ep in slice_.endpoints or []:
            c, h = ep.conditions, ep.hints
            rows.append(
                {
                    "pod": ep.target_ref.name if ep.target_ref else ep.addresses[0],
                    "nodeName": ep.node_name,
                    "zone": ep.zone,
                    "ready": c.ready,
                    "serving": c.serving,
                    "terminating": c.terminating,
                    "forZones": ",".join(z.name for z in (h.for_zones or [])) if h else "",
                    "forNodes": ",".join(n.name for n in (h.for_nodes or [])) if h else "",
                }
            )
    return rows
