"""The sandbox driven by the official ``kubernetes`` Python client: list, watch, write, errors.

Expectations come from the API server's behaviour: status codes and reasons from
k8s.io/apimachinery ``pkg/api/errors/errors.go``, watch semantics from k8s.io/apiserver
``pkg/storage/cacher`` (``cache_watcher.go`` turns objects leaving a selector into DELETED,
``watch_cache_history.go`` answers 410 for versions older than the history).
"""

from __future__ import annotations

import ipaddress
import json
import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from sandbox_helpers import api_fixture, box_fixture, pod_ips, start_sandbox, until  # noqa: F401 (fixtures)

from svclab.sandbox import Sandbox

SLICE_SELECTOR = "kubernetes.io/service-name=web"


def status_of(error: ApiException) -> dict:
    """The Status object the server sent."""
    return json.loads(error.body)


def test_lists_what_the_cluster_holds(box: Sandbox, api: client.ApiClient) -> None:
    core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    assert [s.metadata.name for s in core.list_namespaced_service("default").items] == [
        "kubernetes",
        "web",
    ]
    assert [n.metadata.name for n in core.list_node().items] == ["node-1", "node-2"]
    assert {"default", "kube-system"} <= {ns.metadata.name for ns in core.list_namespace().items}
    pods = core.list_pod_for_all_namespaces(label_selector="app=web").items
    assert {p.status.pod_ip for p in pods} == pod_ips(box, app="web") and len(pods) == 3
    slices = discovery.list_namespaced_endpoint_slice(
        "default", label_selector=SLICE_SELECTOR
    ).items
    addresses = {a for s in slices for e in s.endpoints if e.conditions.ready for a in e.addresses}
    assert addresses == pod_ips(box, app="web")
    assert {p.port for s in slices for p in s.ports} == {8080}


def test_create_read_delete_a_service(box: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    body = client.V1Service(  # no kind/apiVersion: the API server takes them from the URL
        metadata=client.V1ObjectMeta(name="api"),
        spec=client.V1ServiceSpec(
            selector={"app": "web"}, ports=[client.V1ServicePort(port=443, target_port=8080)]
        ),
    )
    created = core.create_namespaced_service("default", body)
    assert ipaddress.ip_address(created.spec.cluster_ip) in ipaddress.ip_network("10.96.0.0/12")
    assert created.metadata.uid and created.metadata.resource_version
    assert core.read_namespaced_service("api", "default").spec.cluster_ip == created.spec.cluster_ip
    slices = (
        client.DiscoveryV1Api(api)
        .list_namespaced_endpoint_slice("default", label_selector="kubernetes.io/service-name=api")
        .items
    )
    assert {a for s in slices for e in s.endpoints for a in e.addresses} == pod_ips(box, app="web")
    deleted = core.delete_namespaced_service("api", "default")
    assert deleted.metadata.name == "api"  # services return the deleted object
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_service("api", "default")
    assert missing.value.status == 404 and status_of(missing.value)["reason"] == "NotFound"
    assert (
        client.DiscoveryV1Api(api)
        .list_namespaced_endpoint_slice("default", label_selector="kubernetes.io/service-name=api")
        .items
        == []
    )


def _bad_port(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default", {"metadata": {"name": "bad"}, "spec": {"ports": [{"port": 0}]}}
    )


def _create_twice(core: client.CoreV1Api) -> None:
    core.create_namespaced_service(
        "default", {"metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    )


def _stale_replace(core: client.CoreV1Api) -> None:
    svc = core.read_namespaced_service("web", "default")
    core.patch_namespaced_service("web", "default", {"metadata": {"labels": {"touched": "yes"}}})
    core.replace_namespaced_service("web", "default", svc)  # carries the old resourceVersion


@pytest.mark.parametrize(
    ("call", "code", "reason", "message"),
    [
        (
            lambda core: core.read_namespaced_service("nope", "default"),
            404,
            "NotFound",
            'services "nope" not found',
        ),
        (
            lambda core: core.create_namespaced_service(
                "nowhere", {"metadata": {"name": "x"}, "spec": {"ports": [{"port": 80}]}}
            ),
            404,
            "NotFound",
            'namespaces "nowhere" not found',
        ),
        (_create_twice, 409, "AlreadyExists", 'services "web" already exists'),
        (
            _stale_replace,
            409,
            "Conflict",
            'Operation cannot be fulfilled on services "web": the object has been modified',
        ),
        (
            _bad_port,
            422,
            "Invalid",
            'Service "bad" is invalid: spec.ports[0].port: Invalid value: 0',
        ),
        (
            lambda core: core.list_namespaced_pod("default", field_selector="spec.bogus=1"),
            400,
            "BadRequest",
            "field label not supported: spec.bogus",
        ),
        (
            lambda core: core.list_namespaced_pod("default", label_selector="app in (web"),
            400,
            "BadRequest",
            "unable to parse requirement",
        ),
        (
            lambda core: core.delete_collection_namespaced_service("default"),
            405,
            "MethodNotAllowed",
            'deletecollection is not supported on resources of kind "services"',
        ),
        (
            lambda core: core.patch_namespaced_service(
                "web", "default", {"spec": {}}, _content_type="application/apply-patch+yaml"
            ),
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format",
        ),
        (
            lambda core: core.list_namespaced_service("default", resource_version="999999"),
            504,
            "Timeout",
            "Too large resource version: 999999",
        ),
    ],
)
def test_each_error_is_a_status(
    api: client.ApiClient, call, code: int, reason: str, message: str
) -> None:
    with pytest.raises(ApiException) as raised:
        call(client.CoreV1Api(api))
    body = status_of(raised.value)
    assert raised.value.status == code
    assert (body["kind"], body["status"], body["code"], body["reason"]) == (
        "Status",
        "Failure",
        code,
        reason,
    )
    assert message in body["message"]


def test_invalid_names_the_field_in_its_causes(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        _bad_port(client.CoreV1Api(api))
    causes = status_of(raised.value)["details"]["causes"]
    assert causes == [
        {
            "reason": "FieldValueInvalid",
            "field": "spec.ports[0].port",
            "message": "Invalid value: 0: must be between 1 and 65535, inclusive",
        }
    ]


def test_a_watch_older_than_the_history_is_gone() -> None:
    box = start_sandbox(history=5)
    try:
        with box.api_client() as api:
            core = client.CoreV1Api(api)
            old = core.list_namespaced_service("default").metadata.resource_version
            for i in range(6):
                core.create_namespaced_service(
                    "default", {"metadata": {"name": f"s{i}"}, "spec": {"ports": [{"port": 80}]}}
                )
            with pytest.raises(ApiException) as raised:
                # timeout_seconds turns off the client's one silent retry after a 410
                list(
                    watch.Watch().stream(
                        core.list_namespaced_service,
                        "default",
                        resource_version=old,
                        timeout_seconds=2,
                    )
                )
            assert raised.value.status == 410
            assert "Expired: too old resource version" in raised.value.reason
            # listing again gives a version the watch accepts
            fresh = core.list_namespaced_service("default").metadata.resource_version
            assert (
                list(
                    watch.Watch().stream(
                        core.list_namespaced_service,
                        "default",
                        resource_version=fresh,
                        timeout_seconds=1,
                    )
                )
                == []
            )
    finally:
        box.stop()


def test_watch_endpoint_slices_across_a_rolling_update(box: Sandbox, api: client.ApiClient) -> None:
    discovery, apps = client.DiscoveryV1Api(api), client.AppsV1Api(api)
    listed = discovery.list_namespaced_endpoint_slice("default", label_selector=SLICE_SELECTOR)
    old_ips = pod_ips(box, app="web")
    seen: list[tuple[str, set[str]]] = []

    def follow() -> None:
        for event in watch.Watch().stream(
            discovery.list_namespaced_endpoint_slice,
            "default",
            label_selector=SLICE_SELECTOR,
            timeout_seconds=20,
            resource_version=listed.metadata.resource_version,
        ):
            ready = {
                a
                for e in event["object"].endpoints or []
                if e.conditions.ready
                for a in e.addresses
            }
            seen.append((event["type"], ready))
            if len(ready) == 3 and not ready & old_ips:  # rolled out
                return

    watcher = threading.Thread(target=follow)
    watcher.start()
    apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}},
    )
    until(lambda: not watcher.is_alive(), step=lambda: box.advance(0.5))
    new_ips = pod_ips(box, app="web")
    assert seen[-1][1] == new_ips and not new_ips & old_ips
    assert {kind for kind, _ in seen} == {"MODIFIED"}  # one slice, updated in place
    # maxSurge 25% / maxUnavailable 25% of 3: one old Pod at a time leaves, so some event
    # shows old and new backends side by side
    assert any(ready & old_ips and ready & new_ips for _, ready in seen)


def test_a_selector_watch_sees_objects_enter_and_leave(box: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(
        "default",
        {
            "metadata": {"name": "solo", "labels": {"team": "a"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        },
    )
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.patch_namespaced_pod("solo", "default", {"metadata": {"labels": {"team": "b"}}})
    core.patch_namespaced_pod("solo", "default", {"metadata": {"labels": {"team": "a"}}})
    events = [
        (e["type"], e["object"].metadata.labels["team"])
        for e in watch.Watch().stream(
            core.list_namespaced_pod,
            "default",
            label_selector="team=a",
            resource_version=rv,
            timeout_seconds=1,
        )
    ]
    assert events == [("DELETED", "a"), ("ADDED", "a")]


def test_field_selectors(box: Sandbox, api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    with box.store.lock:
        on_node_1 = {
            p.metadata.name for p in box.cluster.list("Pod") if p.spec.node_name == "node-1"
        }
    selected = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-1").items
    assert {p.metadata.name for p in selected} == on_node_1 and on_node_1
    others = core.list_pod_for_all_namespaces(
        field_selector="spec.nodeName!=node-1,status.phase=Running"
    ).items
    assert {p.metadata.name for p in others}.isdisjoint(on_node_1) and others
    assert [
        s.metadata.name
        for s in core.list_service_for_all_namespaces(field_selector="metadata.name=web").items
    ] == ["web"]
    assert (
        core.list_namespaced_service("default", field_selector="spec.clusterIP=10.96.0.1")
        .items[0]
        .metadata.name
        == "kubernetes"
    )


def test_patch_formats(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    core.patch_namespaced_service(
        "web", "default", {"spec": {"ports": [{"name": "metrics", "port": 9090}]}}
    )
    ports = core.read_namespaced_service("web", "default").spec.ports
    assert [(p.name, p.port) for p in ports] == [("http", 80), ("metrics", 9090)]  # merged by port
    core.patch_namespaced_service(
        "web",
        "default",
        {"spec": {"ports": [{"name": "metrics", "port": 9090}]}},
        _content_type="application/merge-patch+json",
    )
    assert [p.port for p in core.read_namespaced_service("web", "default").spec.ports] == [
        9090
    ]  # replaced
    core.patch_namespaced_service(
        "web", "default", [{"op": "add", "path": "/metadata/labels", "value": {"x": "1"}}]
    )
    assert core.read_namespaced_service("web", "default").metadata.labels == {"x": "1"}


def test_pod_specs_cannot_change(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = core.list_namespaced_pod("default", label_selector="app=web").items[0].metadata.name
    with pytest.raises(ApiException) as raised:
        core.patch_namespaced_pod(name, "default", {"spec": {"nodeName": "node-9"}})
    assert (
        raised.value.status == 422
        and status_of(raised.value)["details"]["causes"][0]["field"] == "spec"
    )
    patched = core.patch_namespaced_pod(name, "default", {"metadata": {"labels": {"extra": "1"}}})
    assert patched.metadata.labels["extra"] == "1"


def test_a_deployment_comes_up_and_goes_away_on_the_running_clock() -> None:
    box = start_sandbox(speed=20)  # 20 virtual seconds per real second: Pods are Ready in ~0.1 s
    try:
        with box.api_client() as api:
            apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
            apps.create_namespaced_deployment(
                "default",
                {
                    "metadata": {"name": "api"},
                    "spec": {
                        "replicas": 2,
                        "selector": {"matchLabels": {"app": "api"}},
                        "template": {
                            "metadata": {"labels": {"app": "api"}},
                            "spec": {"containers": [{"name": "api", "image": "api:1"}]},
                        },
                    },
                },
            )
            until(
                lambda: (
                    (apps.read_namespaced_deployment("api", "default").status.ready_replicas or 0)
                    == 2
                )
            )
            pods = core.list_namespaced_pod("default", label_selector="app=api").items
            assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in pods)
            gone = apps.delete_namespaced_deployment("api", "default")
            # a Status, not the object (this client version hands it back as a dict)
            assert (gone["kind"], gone["status"], gone["details"]["kind"]) == (
                "Status",
                "Success",
                "deployments",
            )
            until(lambda: not core.list_namespaced_pod("default", label_selector="app=api").items)
    finally:
        box.stop()
