"""The in-process cluster: API-server bookkeeping, defaults, watch events, virtual time, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from svclab.api.manifests import load_text, to_yaml
from svclab.cluster import EPOCH, Cluster
from svclab.errors import ManifestError


def web_service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}], **spec},
    }


def test_kubernetes_service_is_there() -> None:
    c = Cluster(service_cidr="10.100.0.0/16")
    svc = c.get("Service", "default", "kubernetes")
    assert svc.spec.cluster_ip == "10.100.0.1"
    assert [(p.name, p.port, p.target_port) for p in svc.spec.ports] == [("https", 443, 6443)]
    (eps,) = c.state().slices_for("default", "kubernetes")
    assert eps.endpoints[0].addresses == ["172.18.0.2"] and eps.ports[0].port == 6443


def test_service_defaults_and_allocation() -> None:
    c = Cluster(seed=1)
    svc = c.apply(web_service(type="LoadBalancer", externalTrafficPolicy="Local"))
    s = svc.spec
    assert (s.session_affinity, s.internal_traffic_policy, s.external_traffic_policy) == (
        "None",
        "Cluster",
        "Local",
    )
    assert s.ip_families == ["IPv4"] and s.ip_family_policy == "SingleStack"
    assert s.cluster_ips == [s.cluster_ip] and c.cluster_ips.contains(s.cluster_ip)
    assert not c.cluster_ips.in_static_band(s.cluster_ip)
    assert s.ports[0].target_port == 80 and s.ports[0].protocol == "TCP"
    assert 30086 <= s.ports[0].node_port <= 32767
    assert (
        30000 <= s.health_check_node_port <= 32767 and s.allocate_load_balancer_node_ports is True
    )
    assert svc.metadata.uid and svc.metadata.creation_timestamp == EPOCH


def test_client_ip_affinity_gets_the_default_timeout() -> None:
    svc = Cluster().apply(web_service(sessionAffinity="ClientIP"))
    assert svc.spec.session_affinity_config.client_ip.timeout_seconds == 10800


def test_headless_and_external_name_get_no_cluster_ip() -> None:
    c = Cluster()
    assert c.apply(web_service(clusterIP="None")).spec.cluster_ips == ["None"]
    ext = c.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com."},
        }
    )
    assert ext.spec.cluster_ip is None and ext.spec.ip_families is None


def test_update_keeps_ip_and_node_ports_and_delete_releases_them() -> None:
    c = Cluster(seed=2)
    first = c.apply(web_service(type="NodePort"))
    changed = c.apply(web_service(type="NodePort", selector={"app": "web2"}))
    assert changed.spec.cluster_ip == first.spec.cluster_ip
    assert changed.spec.ports[0].node_port == first.spec.ports[0].node_port
    assert changed.metadata.uid == first.metadata.uid
    assert int(changed.metadata.resource_version) > int(first.metadata.resource_version)
    with pytest.raises(ManifestError, match=r"spec.clusterIPs\[0\]: .*may not change once set"):
        c.apply(web_service(type="NodePort", clusterIP="10.96.0.99"))
    c.delete("Service", "shop", "web")
    again = c.apply(
        web_service(
            type="NodePort",
            clusterIP=first.spec.cluster_ip,
            ports=[{"port": 80, "nodePort": first.spec.ports[0].node_port}],
        )
    )
    assert again.spec.cluster_ip == first.spec.cluster_ip


def test_failed_create_releases_what_it_took() -> None:
    c = Cluster()
    with pytest.raises(ManifestError, match="provided port is not in the valid range"):
        c.apply(
            web_service(
                type="NodePort",
                ports=[
                    {"name": "a", "port": 80, "nodePort": 30001},
                    {"name": "b", "port": 81, "nodePort": 80},
                ],
            )
        )
    assert c.get("Service", "shop", "web") is None
    svc = c.apply(web_service(type="NodePort", ports=[{"port": 80, "nodePort": 30001}]))
    assert svc.spec.ports[0].node_port == 30001


def test_every_change_is_watched_with_increasing_resource_versions() -> None:
    c = Cluster(seed=3)
    events: list[tuple[str, str, int]] = []
    c.watch(lambda event, obj: events.append((event, obj.kind, int(obj.metadata.resource_version))))
    c.apply(web_service())
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }
    )
    c.advance(2)
    c.delete("Pod", "shop", "p")
    c.advance(30)
    versions = [rv for event, _, rv in events if event != "DELETED"]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    kinds = {(event, kind) for event, kind, _ in events}
    assert {
        ("ADDED", "Service"),
        ("ADDED", "Pod"),
        ("MODIFIED", "Pod"),
        ("DELETED", "Pod"),
        ("ADDED", "EndpointSlice"),
        ("MODIFIED", "EndpointSlice"),
    } <= kinds


def test_virtual_time() -> None:
    c = Cluster()
    fired: list[float] = []
    c.schedule(5, lambda: fired.append(c.now))
    c.advance(4.9)
    assert fired == [] and c.now == pytest.approx(4.9)
    c.advance(0.1)
    assert fired == [5.0]
    assert c.timestamp() == EPOCH.replace(second=5)
    with pytest.raises(ValueError):
        c.advance(-1)


def test_pod_without_nodes_stays_pending() -> None:
    c = Cluster(nodes=0)
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }
    )
    c.advance(10)
    p = c.get("Pod", "default", "p")
    assert p.status.phase == "Pending" and p.status.pod_ip is None


def test_lookups_accept_resource_names() -> None:
    c = Cluster()
    assert c.list("services", "default") == c.list("Service", "default")
    assert [n.metadata.name for n in c.list("nodes")] == ["node-1"]
    with pytest.raises(ManifestError, match="unknown kind"):
        c.list("ingresses")
    with pytest.raises(ManifestError, match="not found"):
        c.delete("Service", "default", "nope")


def test_ipv6_cluster() -> None:
    c = Cluster(service_cidr="fd00:10:96::/112", pod_cidr="fd00:10:244::/56")
    assert c.get("Service", "default", "kubernetes").spec.cluster_ip == "fd00:10:96::1"
    svc = c.apply(web_service())
    assert svc.spec.ip_families == ["IPv6"]
    c.apply(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "ports": [{"name": "http", "containerPort": 80}],
                    }
                ]
            },
        }
    )
    c.advance(2)
    (eps,) = c.state().slices_for("shop", "web")
    assert eps.address_type == "IPv6" and ":" in eps.endpoints[0].addresses[0]


def test_from_manifests_keeps_sources_and_imported_status(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("""\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, labels: {app: web}}
  spec: {nodeName: node-1, containers: [{name: c, image: nginx}]}
  status:
    phase: Running
    podIP: 10.244.0.77
    conditions: [{type: Ready, status: "True"}]
""")
    c = Cluster.from_manifests([tmp_path])
    state = c.state()
    web = next(s for s in state.services if s.metadata.name == "web")
    assert state.source_of(web) == str(tmp_path / "a.yaml")
    (eps,) = state.slices_for("default", "web")
    assert eps.endpoints[0].addresses == ["10.244.0.77"] and eps.ports[0].port == 8080


def test_yaml_export_round_trips() -> None:
    c = Cluster(seed=4)
    c.apply(web_service(type="NodePort", sessionAffinity="ClientIP"))
    c.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "nginx",
                                "ports": [{"name": "http", "containerPort": 80}],
                            }
                        ]
                    },
                },
            },
        }
    )
    c.advance(2)
    objects = [
        *c.list("Service"),
        *c.list("EndpointSlice"),
        *c.list("Pod"),
        *c.list("Node"),
        *c.list("Deployment"),
    ]
    for obj in objects:
        text = to_yaml(obj)
        (back,) = load_text(text, "export.yaml")
        assert back.obj == obj, text
    svc_text = to_yaml(c.get("Service", "shop", "web"))
    assert (
        "clusterIP: " in svc_text and "nodePort: " in svc_text and "resourceVersion: " in svc_text
    )
