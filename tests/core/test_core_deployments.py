"""The Deployment controller on virtual time: Pod naming, placement, IPs, rolling updates.

Rolling-update bounds follow kubernetes ``pkg/controller/deployment/rolling.go`` and
``pkg/controller/deployment/util/deployment_util.go`` (``NewRSNewReplicas``, ``MaxUnavailable``,
``MaxSurge``: surge rounds up, unavailable rounds down); defaults 25%/25% and a 30 s grace period
from ``pkg/apis/apps/v1/defaults.go`` and ``pkg/apis/core/v1/defaults.go``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from svclab.api.helpers import is_pod_ready
from svclab.cluster import Cluster

HASH = "pod-template-hash"


def deployment(replicas: int = 4, image: str = "nginx:1", **strategy: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": image,
                        "ports": [{"name": "http", "containerPort": 8080}],
                    }
                ]
            },
        },
    }
    if strategy:
        spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": strategy}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": spec,
    }


def with_image(cluster: Cluster, image: str) -> Any:
    d = cluster.get("Deployment", "default", "web").model_copy(deep=True)
    d.spec.template.spec.containers[0].image = image
    return cluster.apply(d)


def test_pods_are_named_placed_and_addressed() -> None:
    c = Cluster(seed=11, nodes=3)
    c.apply(deployment(replicas=6))
    pods = c.list("Pod")
    assert len(pods) == 6
    template_hash = pods[0].metadata.labels[HASH]
    for p in pods:
        prefix, pod_hash, suffix = p.metadata.name.split("-")
        assert (prefix, pod_hash, len(suffix)) == ("web", template_hash, 5)
        assert p.metadata.owner_references[0].name == f"web-{template_hash}"
    assert sorted(p.spec.node_name for p in pods) == [
        "node-1",
        "node-1",
        "node-2",
        "node-2",
        "node-3",
        "node-3",
    ]
    c.advance(1)
    for p in c.list("Pod"):
        node = c.get("Node", None, p.spec.node_name)
        assert ipaddress.ip_address(p.status.pod_ip) in ipaddress.ip_network(node.spec.pod_cidr)
        assert p.status.phase == "Running" and not is_pod_ready(p)
    c.advance(1)
    assert all(is_pod_ready(p) for p in c.list("Pod"))
    status = c.get("Deployment", "default", "web").status
    assert (status.replicas, status.ready_replicas, status.updated_replicas) == (6, 6, 6)


def test_same_seed_same_cluster() -> None:
    def run(seed: int) -> list[tuple[str, str]]:
        c = Cluster(seed=seed, nodes=2)
        c.apply(deployment())
        c.advance(2)
        return [(p.metadata.name, p.status.pod_ip) for p in c.list("Pod")]

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize(
    ("surge", "unavailable", "max_total", "min_ready"),
    [
        (None, None, 5, 3),  # defaults 25%/25% of 4: surge 1, unavailable 1
        (0, 1, 4, 3),
        (2, 0, 6, 4),
        ("50%", "50%", 6, 2),
    ],
)
def test_rolling_update_keeps_its_bounds(
    surge: Any, unavailable: Any, max_total: int, min_ready: int
) -> None:
    strategy = {
        k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable)) if v is not None
    }
    c = Cluster(seed=12, nodes=2)
    c.apply(deployment(**strategy))
    c.advance(2)
    old_pods = {p.metadata.name for p in c.list("Pod")}
    seen_ips = {p.status.pod_ip for p in c.list("Pod")}
    worst_total, worst_ready = 0, 99

    def observe(event: str, obj: Any) -> None:
        nonlocal worst_total, worst_ready
        if obj.kind != "Pod":
            return
        active = [p for p in c.list("Pod") if p.metadata.deletion_timestamp is None]
        worst_total = max(worst_total, len(active))
        worst_ready = min(worst_ready, sum(1 for p in active if is_pod_ready(p)))

    c.watch(observe)
    with_image(c, "nginx:2")
    c.run_until_idle()
    pods = c.list("Pod")
    assert len(pods) == 4 and not {p.metadata.name for p in pods} & old_pods
    assert all(p.spec.containers[0].image == "nginx:2" and is_pod_ready(p) for p in pods)
    assert worst_total <= max_total and worst_ready >= min_ready
    assert worst_total == max_total  # the surge is used, not just allowed
    new_ips = {p.status.pod_ip for p in pods}
    assert not new_ips & seen_ips  # every new Pod gets a new address


def test_old_pods_terminate_for_their_grace_period() -> None:
    c = Cluster(seed=13)
    c.apply(deployment(replicas=1, maxSurge=1, maxUnavailable=0))
    c.advance(2)
    (old,) = c.list("Pod")
    with_image(c, "nginx:2")
    c.advance(2)  # the new Pod is Ready: the old one starts terminating now
    doomed = c.get("Pod", "default", old.metadata.name)
    assert doomed.metadata.deletion_timestamp is not None
    assert doomed.metadata.deletion_grace_period_seconds == 30
    c.advance(29.5)
    assert c.get("Pod", "default", old.metadata.name) is not None
    c.advance(0.5)
    assert c.get("Pod", "default", old.metadata.name) is None


def test_scale_down_and_delete() -> None:
    c = Cluster(seed=14)
    c.apply(deployment(replicas=3))
    c.advance(2)
    d = c.get("Deployment", "default", "web").model_copy(deep=True)
    d.spec.replicas = 1
    c.apply(d)
    assert sum(1 for p in c.list("Pod") if p.metadata.deletion_timestamp is None) == 1
    c.delete("Deployment", "default", "web")
    assert all(p.metadata.deletion_timestamp is not None for p in c.list("Pod"))
    c.advance(30)
    assert c.list("Pod") == []


def test_recreate_strategy_waits_for_old_pods() -> None:
    c = Cluster(seed=15)
    d = deployment(replicas=2)
    d["spec"]["strategy"] = {"type": "Recreate"}
    c.apply(d)
    c.advance(2)
    with_image(c, "nginx:2")
    c.advance(29)
    assert all(p.spec.containers[0].image == "nginx:1" for p in c.list("Pod"))
    c.advance(1)
    assert [p.spec.containers[0].image for p in c.list("Pod")] == ["nginx:2", "nginx:2"]
