"""The scheduler and kubelet: Pods get a node and an IP, start, become Ready and terminate.

All of it on the cluster's virtual clock: a Pod is bound at once, runs `start_delay` seconds
later, is Ready `ready_delay` seconds after that, and a deleted Pod stays Terminating for its
grace period. `Kubelet` reads the store through `PodStore` and writes through the two
functions it is given, so it never imports the wiring (`svclab.cluster.Cluster`).

>>> import kubernetes.client as k8s
>>> pod = k8s.V1Pod(status=k8s.V1PodStatus(conditions=[]))
>>> set_ready(pod, True)
>>> [(c.type, c.status) for c in pod.status.conditions]
[('ContainersReady', 'True'), ('Ready', 'True')]
>>> [str(n) for n in node_subnets("10.244.0.0/23")]
['10.244.0.0/24', '10.244.1.0/24']
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import itertools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import kubernetes.client as k8s

from svclab.api.manifests import object_label
from svclab.cluster.clock import VirtualClock
from svclab.errors import ManifestError


class PodStore(Protocol):
    """What the kubelet reads of the cluster's store."""

    def get(self, kind: str, namespace: str | None, name: str) -> Any: ...

    def list(self, kind: str, namespace: str | None = None) -> list[Any]: ...


class Kubelet:
    """Schedules Pods round-robin over the nodes and runs them, on `clock`."""

    def __init__(
        self,
        clock: VirtualClock,
        store: PodStore,
        pod_subnets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
        *,
        write: Callable[[k8s.V1Pod, k8s.V1Pod], object],
        remove: Callable[[k8s.V1Pod], None],
        start_delay: float = 1.0,
        ready_delay: float = 1.0,
    ) -> None:
        self.clock, self.store, self.pod_subnets = clock, store, pod_subnets
        self._write, self._remove = write, remove
        self.start_delay, self.ready_delay = start_delay, ready_delay
        self._pod_ip_next: dict[str, int] = {}
        self._next_node = 0

    def start(self, pod: k8s.V1Pod) -> None:
        """Bind a new Pod to a node and set its start and readiness on the clock."""
        if pod.status is not None and (
            pod.status.pod_ip or pod.status.phase not in (None, "Pending")
        ):
            return  # imported with a status: the kubelet's report is taken as is
        node = self._schedule_node(pod)
        if node is None:
            self._update(pod, lambda p: setattr(p, "status", k8s.V1PodStatus(phase="Pending")))
            return

        def bind(p: k8s.V1Pod) -> None:
            p.spec.node_name = node.metadata.name
            p.status = k8s.V1PodStatus(
                phase="Pending",
                host_ip=internal_ip(node),
                conditions=[
                    k8s.V1PodCondition(
                        type="PodScheduled",
                        status="True",
                        last_transition_time=self.clock.timestamp(),
                    )
                ],
            )

        self._update(pod, bind)
        ns, name, uid = pod.metadata.namespace, pod.metadata.name, pod.metadata.uid
        self.clock.after(self.start_delay, lambda: self._run(ns, name, uid))

    def _schedule_node(self, pod: k8s.V1Pod) -> k8s.V1Node | None:
        nodes = self.store.list("Node")
        if pod.spec.node_name:
            return self.store.get("Node", None, pod.spec.node_name)
        if not nodes:
            return None
        node = nodes[self._next_node % len(nodes)]  # round-robin, as a spreading scheduler would
        self._next_node += 1
        return node

    def _run(self, namespace: str, name: str, uid: str) -> None:
        pod = self.store.get("Pod", namespace, name)
        if pod is None or pod.metadata.uid != uid or pod.metadata.deletion_timestamp:
            return
        node = self.store.get("Node", None, pod.spec.node_name)
        ip = self._next_ip(node)

        def run(p: k8s.V1Pod) -> None:
            now = self.clock.timestamp()
            p.status.phase, p.status.pod_ip, p.status.start_time = "Running", ip, now
            p.status.pod_ips = [k8s.V1PodIP(ip=ip)]
            p.status.container_statuses = [
                k8s.V1ContainerStatus(
                    name=c.name,
                    image=c.image or "",
                    image_id="",
                    ready=False,
                    restart_count=0,
                    started=True,
                    state=k8s.V1ContainerState(running=k8s.V1ContainerStateRunning(started_at=now)),
                )
                for c in p.spec.containers
            ]
            p.status.conditions = [
                *p.status.conditions,
                k8s.V1PodCondition(type="Initialized", status="True", last_transition_time=now),
                k8s.V1PodCondition(
                    type="ContainersReady", status="False", last_transition_time=now
                ),
                k8s.V1PodCondition(type="Ready", status="False", last_transition_time=now),
            ]

        self._update(pod, run)
        self.clock.after(self.ready_delay, lambda: self._ready(namespace, name, uid))

    def _ready(self, namespace: str, name: str, uid: str) -> None:
        pod = self.store.get("Pod", namespace, name)
        if pod is None or pod.metadata.uid != uid or pod.metadata.deletion_timestamp:
            return
        self._update(pod, lambda p: set_ready(p, True, self.clock.timestamp()))

    def terminate(self, pod: k8s.V1Pod, grace_period_seconds: int | None = None) -> None:
        """Mark a Pod Terminating and remove it after its grace period (at once if forced)."""
        if pod.metadata.deletion_timestamp is not None:
            return
        grace = pod.spec.termination_grace_period_seconds or 0
        if grace_period_seconds is not None:
            grace = grace_period_seconds
        forced = (
            grace_period_seconds == 0
        )  # DeleteOptions gracePeriodSeconds=0: no terminating spell
        if forced or not pod.spec.node_name or not (pod.status and pod.status.pod_ip):
            self._remove(pod)  # forced, or never ran: nothing to wait for
            return

        def mark(p: k8s.V1Pod) -> None:
            p.metadata.deletion_timestamp = self.clock.timestamp(self.clock.now + grace)
            p.metadata.deletion_grace_period_seconds = grace

        self._update(pod, mark)
        ns, name, uid = pod.metadata.namespace, pod.metadata.name, pod.metadata.uid
        self.clock.after(grace, lambda: self._finish(ns, name, uid))

    def _finish(self, namespace: str, name: str, uid: str) -> None:
        pod = self.store.get("Pod", namespace, name)
        if pod is not None and pod.metadata.uid == uid:
            self._remove(pod)

    def _update(self, pod: k8s.V1Pod, change: Callable[[k8s.V1Pod], None]) -> None:
        updated = pod.model_copy(deep=True)
        change(updated)
        self._write(updated, pod)

    def _next_ip(self, node: k8s.V1Node | None) -> str:
        # host-local IPAM: skip the network address and the bridge (.1), hand out increasing
        # addresses and wrap, so a new Pod gets an address no recent Pod had.
        subnet = (
            ipaddress.ip_network(node.spec.pod_cidr)
            if node and node.spec.pod_cidr
            else self.pod_subnets[0]
        )
        used = {p.status.pod_ip for p in self.store.list("Pod") if p.status and p.status.pod_ip}
        span = subnet.num_addresses - 3
        start = self._pod_ip_next.get(str(subnet), 0)
        for step in range(min(span, len(used) + 1)):
            index = (start + step) % span
            ip = str(subnet.network_address + 2 + index)
            if ip not in used:
                self._pod_ip_next[str(subnet)] = index + 1
                return ip
        raise ManifestError(
            "<api>", object_label(node) if node else "", "spec.podCIDR", "no free pod IP"
        )

    # --- controllers -------------------------------------------------------------------------


def node_subnets(pod_cidr: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The per-node Pod CIDRs of `pod_cidr` (the controller manager's /24 or /64 by default)."""
    network = ipaddress.ip_network(pod_cidr)
    node_prefix = 24 if network.version == 4 else 64  # --node-cidr-mask-size defaults
    if network.prefixlen >= node_prefix:
        return [network]
    count = min(2 ** (node_prefix - network.prefixlen), 4096)
    return list(itertools.islice(network.subnets(new_prefix=node_prefix), count))


def internal_ip(node: k8s.V1Node) -> str | None:
    """The node's ``InternalIP`` address, if it reports one."""
    for address in (node.status.addresses if node.status else None) or []:
        if address.type == "InternalIP":
            return address.address
    return None


def set_ready(pod: k8s.V1Pod, ready: bool, when: dt.datetime | None = None) -> None:
    """Set the Pod's ``Ready`` and ``ContainersReady`` conditions and its containers' ready."""
    status = "True" if ready else "False"
    conditions = [
        c for c in (pod.status.conditions or []) if c.type not in ("Ready", "ContainersReady")
    ]
    pod.status.conditions = [
        *conditions,
        k8s.V1PodCondition(type="ContainersReady", status=status, last_transition_time=when),
        k8s.V1PodCondition(type="Ready", status=status, last_transition_time=when),
    ]
    for container in pod.status.container_statuses or []:
        container.ready = ready
