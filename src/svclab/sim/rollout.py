"""A Deployment's rolling update, run by the cluster's own Deployment controller, as a `Timeline`.

`svclab.cluster.Cluster` steps on virtual time, so the simulator drives it directly: it applies
a Deployment, lets it settle, changes the Pod template, and records from the watch when each
Pod became Ready, started terminating (its endpoint leaves the ready set) and was removed.
"""

from __future__ import annotations

import math

from svclab.cluster import Cluster
from svclab.sim.lifecycle import PodSpan, Timeline


def deployment(
    name: str,
    replicas: int,
    image: str,
    grace: float,
    max_surge: str | int,
    max_unavailable: str | int,
) -> dict:
    """A minimal Deployment manifest whose Pods run `image` and get `grace` seconds to stop."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
            },
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": int(grace),
                    "containers": [{"name": name, "image": image}],
                },
            },
        },
    }


def rolling_update(
    replicas: int = 3,
    start: float = 10.0,
    ready_after: float = 5.0,
    drain: float = 0.0,
    max_surge: str | int = "25%",
    max_unavailable: str | int = "25%",
    nodes: int = 3,
    seed: int = 0,
) -> Timeline:
    """The Pods of a Deployment whose template changes at `start` (simulator seconds).

    New Pods become Ready `ready_after` seconds after creation and get new IPs; an old Pod
    terminates once enough new ones are Ready and stops answering `drain` seconds later (its
    whole grace period: 0 means the app exits on SIGTERM).

    >>> tl = rolling_update(replicas=3, start=10.0, ready_after=5.0)
    >>> sorted((p.ready, p.terminating) for p in tl.pods)  # doctest: +NORMALIZE_WHITESPACE
    [(0.0, 15.0), (0.0, 20.0), (0.0, 25.0), (15.0, inf), (20.0, inf), (25.0, inf)]
    >>> len({p.ip for p in tl.pods})
    6
    """
    if not 0 <= drain == int(drain):
        raise ValueError("drain is a grace period: whole seconds, not negative")
    cluster = Cluster(
        seed=seed,
        nodes=nodes,
        pod_start_delay=min(1.0, ready_after),
        pod_ready_delay=max(0.0, ready_after - 1.0),
    )
    seen: dict[str, dict] = {}

    def record(event: str, pod) -> None:
        if pod.kind != "Pod":
            return
        life = seen.setdefault(pod.metadata.uid, {"name": pod.metadata.name})
        status = pod.status
        if status and status.pod_ip:
            life.update(ip=status.pod_ip, node=pod.spec.node_name)
        ready = (
            any(c.type == "Ready" and c.status == "True" for c in (status.conditions or []))
            if status
            else False
        )
        if ready and "ready" not in life:
            life["ready"] = cluster.now
        if pod.metadata.deletion_timestamp and "terminating" not in life:
            life["terminating"] = cluster.now
        if event == "DELETED":
            life["gone"] = cluster.now

    cluster.watch(record)
    spec = (replicas, drain, max_surge, max_unavailable)
    cluster.apply(deployment("web", replicas, "web:1", *spec[1:]))
    cluster.run_until_idle()
    rollout_at = cluster.now
    offset = start - rollout_at  # the cluster's rollout instant becomes `start`
    cluster.apply(deployment("web", replicas, "web:2", *spec[1:]))
    cluster.run_until_idle()

    def when(life: dict, key: str) -> float:
        if key not in life:
            return math.inf
        # Pods ready before the rollout have been ready since before the simulation began
        return 0.0 if key == "ready" and life[key] <= rollout_at else life[key] + offset

    spans = [
        PodSpan(
            life["name"],
            life["ip"],
            life["node"],
            when(life, "ready"),
            when(life, "terminating"),
            when(life, "gone"),
        )
        for life in seen.values()
        if "ip" in life
    ]
    return Timeline(tuple(spans), start)
