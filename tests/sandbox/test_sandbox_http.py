"""The sandbox over raw HTTP: discovery documents, Tables, watch streams and malformed requests.

Discovery shapes follow k8s.io/apimachinery ``pkg/apis/meta/v1/types.go`` (APIVersions,
APIGroupList, APIResourceList); Table columns follow kubernetes
``pkg/printers/internalversion/printers.go``; watch semantics k8s.io/apiserver
``pkg/storage/cacher`` and ``pkg/endpoints/handlers/watch.go``.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

import pytest
from sandbox_helpers import box_fixture, start_sandbox  # noqa: F401 (fixture)

from svclab import KUBERNETES_VERSION
from svclab.sandbox import Sandbox

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"


def request(
    box: Sandbox,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", box.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        data = reply.read()
        return (
            reply.status,
            {k.lower(): v for k, v in reply.getheaders()},
            json.loads(data) if data else None,
        )
    finally:
        connection.close()


def watch_lines(box: Sandbox, path: str) -> list[dict]:
    """Every event of a (bounded) watch, read until the server ends the stream."""
    connection = http.client.HTTPConnection("127.0.0.1", box.port, timeout=10)
    try:
        connection.request("GET", path)
        reply = connection.getresponse()
        assert reply.status == 200 and reply.getheader("Transfer-Encoding") == "chunked"
        return [json.loads(line) for line in reply.read().splitlines() if line.strip()]
    finally:
        connection.close()


def test_discovery_documents(box: Sandbox) -> None:
    code, _, version = request(box, "GET", "/version")
    assert code == 200 and f"{version['major']}.{version['minor']}" == KUBERNETES_VERSION
    assert request(box, "GET", "/api")[2]["versions"] == ["v1"]
    groups = request(box, "GET", "/apis")[2]
    assert groups["kind"] == "APIGroupList"
    assert {g["preferredVersion"]["groupVersion"] for g in groups["groups"]} == {
        "apps/v1",
        "discovery.k8s.io/v1",
    }
    core = {r["name"]: r for r in request(box, "GET", "/api/v1")[2]["resources"]}
    assert set(core) == {"namespaces", "nodes", "pods", "services"}
    assert core["services"]["shortNames"] == ["svc"] and core["services"]["namespaced"]
    assert core["services"]["verbs"] == [
        "create",
        "delete",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    assert core["nodes"]["verbs"] == ["get", "list", "watch"] and not core["nodes"]["namespaced"]
    apps = request(box, "GET", "/apis/apps/v1")[2]
    assert apps["groupVersion"] == "apps/v1" and [r["kind"] for r in apps["resources"]] == [
        "Deployment"
    ]
    assert request(box, "GET", "/apis/example.com/v1")[0] == 404


def test_openapi_v3_tells_kubectl_the_server_validates_fields(box: Sandbox) -> None:
    root = request(box, "GET", "/openapi/v3")[2]
    url = root["paths"]["apis/discovery.k8s.io/v1"]["serverRelativeURL"]
    document = request(box, "GET", url)[2]
    patch = document["paths"][
        "/apis/discovery.k8s.io/v1/namespaces/{namespace}/endpointslices/{name}"
    ]["patch"]
    assert {
        "name": "fieldValidation",
        "in": "query",
        "schema": {"type": "string", "uniqueItems": True},
    } in patch["parameters"]
    assert request(box, "GET", "/openapi/v2")[0] == 404


def test_tables_for_kubectl_get(box: Sandbox) -> None:
    code, headers, table = request(
        box, "GET", "/api/v1/namespaces/default/services", headers={"Accept": TABLE}
    )
    assert code == 200 and headers["content-type"].startswith("application/json;as=Table")
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    columns = [(c["name"], c["priority"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", 0),
        ("Type", 0),
        ("Cluster-IP", 0),
        ("External-IP", 0),
        ("Port(s)", 0),
        ("Age", 0),
        ("Selector", 1),
    ]
    web = next(r for r in table["rows"] if r["cells"][0] == "web")
    assert web["cells"][1:3] == [
        "ClusterIP",
        box.cluster.get("Service", "default", "web").spec.cluster_ip,
    ]
    assert web["cells"][4] == "80/TCP" and web["cells"][6] == "app=web" and web["cells"][5] == "5s"
    assert web["object"]["kind"] == "PartialObjectMetadata" and "spec" not in web["object"]
    whole = request(
        box,
        "GET",
        "/api/v1/namespaces/default/services/web?includeObject=Object",
        headers={"Accept": TABLE},
    )[2]
    assert whole["rows"][0]["object"]["spec"]["selector"] == {"app": "web"}
    assert (
        request(
            box, "GET", "/api/v1/pods", headers={"Accept": "application/vnd.kubernetes.protobuf"}
        )[0]
        == 406
    )


def test_watch_streams_chunked_json_lines_and_ends_on_time(box: Sandbox) -> None:
    started = time.monotonic()
    events = watch_lines(box, "/api/v1/namespaces/default/services?watch=true&timeoutSeconds=1")
    assert time.monotonic() - started < 5
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "kubernetes"),
        ("ADDED", "web"),
    ]


def test_watch_from_a_version_older_than_the_history_is_an_error_event() -> None:
    box = start_sandbox(history=5)
    try:
        with box.store.lock:
            for i in range(6):
                box.cluster.apply(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"n{i}"}}
                )
        events = watch_lines(
            box, "/api/v1/namespaces?watch=true&resourceVersion=1&timeoutSeconds=1"
        )
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        error = events[0]["object"]
        assert (error["code"], error["reason"]) == (410, "Expired")
        assert error["message"].startswith("too old resource version: 1 (")
    finally:
        box.stop()


def test_send_initial_events_ends_with_a_bookmark(box: Sandbox) -> None:
    events = watch_lines(
        box,
        "/api/v1/namespaces/default/services?watch=true&timeoutSeconds=1&sendInitialEvents=true"
        "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    )
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    bookmark = events[-1]["object"]
    assert bookmark["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert int(bookmark["metadata"]["resourceVersion"]) >= max(
        int(e["object"]["metadata"]["resourceVersion"]) for e in events[:2]
    )


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "code", "reason"),
    [
        ("GET", "/no/such/path", None, {}, 404, "NotFound"),
        ("GET", "/api/v1/namespaces/default/pods/x/log", None, {}, 404, "NotFound"),
        ("POST", "/version", b"{}", {}, 405, "MethodNotAllowed"),
        ("OPTIONS", "/api/v1/pods", None, {}, 405, "MethodNotAllowed"),
        (
            "POST",
            "/api/v1/pods",
            b"{}",
            {"Content-Type": "application/json"},
            405,
            "MethodNotAllowed",
        ),
        (
            "POST",
            "/api/v1/nodes",
            b"{}",
            {"Content-Type": "application/json"},
            405,
            "MethodNotAllowed",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/services",
            b"{not json",
            {"Content-Type": "application/json"},
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/services",
            b"[]",
            {"Content-Type": "application/json"},
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/services",
            b'{"kind": "Pod", "apiVersion": "v1"}',
            {"Content-Type": "application/json"},
            400,
            "BadRequest",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/services",
            b"<xml/>",
            {"Content-Type": "application/xml"},
            415,
            "UnsupportedMediaType",
        ),
        (
            "POST",
            "/api/v1/namespaces/default/services?fieldValidation=Strict",
            b'{"metadata": {"name": "t"}, "spec": {"prots": []}}',
            {"Content-Type": "application/json"},
            400,
            "BadRequest",
        ),
        (
            "PUT",
            "/api/v1/namespaces/default/services/web",
            b'{"metadata": {"name": "other"}}',
            {"Content-Type": "application/json"},
            400,
            "BadRequest",
        ),
        ("GET", "/api/v1/pods?resourceVersion=abc", None, {}, 400, "BadRequest"),
        (
            "GET",
            "/api/v1/pods?resourceVersion=1&resourceVersionMatch=Exact",
            None,
            {},
            410,
            "Expired",
        ),
    ],
)
def test_bad_requests_get_a_status(
    box: Sandbox,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    code: int,
    reason: str,
) -> None:
    status, reply_headers, reply = request(box, method, path, body, headers)
    assert status == code and reply_headers["content-type"] == "application/json"
    assert (reply["kind"], reply["code"], reply["reason"]) == ("Status", code, reason)


def test_unknown_fields_are_warned_about_by_default(box: Sandbox) -> None:
    body = b'{"metadata": {"name": "t"}, "spec": {"prots": [], "ports": [{"port": 80}]}}'
    code, headers, created = request(
        box,
        "POST",
        "/api/v1/namespaces/default/services",
        body,
        {"Content-Type": "application/json"},
    )
    assert code == 201 and created["spec"]["ports"][0]["port"] == 80
    assert headers["warning"] == '299 - "unknown field \\"spec.prots\\""'


def test_a_huge_body_is_refused_unread() -> None:
    box = start_sandbox(max_body=1024)
    try:
        with socket.create_connection(("127.0.0.1", box.port), timeout=5) as sock:
            sock.sendall(
                b"POST /api/v1/namespaces/default/services HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n{"
            )
            reply = _read_all(sock)
        assert reply.startswith(b"HTTP/1.1 413 ")
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["reason"] == "RequestEntityTooLarge"
    finally:
        box.stop()


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_garbage_and_slow_clients_do_not_hurt_the_server() -> None:
    box = start_sandbox(read_timeout=0.5)
    try:
        with socket.create_connection(("127.0.0.1", box.port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")  # a TLS hello or line noise
            reply = _read_all(sock)
        assert reply.startswith(b"HTTP/1.1 400 ") and b'"kind": "Status"' in reply
        with socket.create_connection(("127.0.0.1", box.port), timeout=5) as slow:
            slow.sendall(b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\n")  # and then nothing
            assert _read_all(slow) == b""  # dropped after the read timeout
        assert request(box, "GET", "/api/v1/nodes")[0] == 200
    finally:
        box.stop()


def test_connections_beyond_the_limit_are_refused_with_429() -> None:
    box = start_sandbox(max_connections=2)
    try:
        idle = [socket.create_connection(("127.0.0.1", box.port), timeout=5) for _ in range(2)]
        time.sleep(0.2)  # let the server accept them
        with socket.create_connection(("127.0.0.1", box.port), timeout=5) as third:
            assert _read_all(third).startswith(b"HTTP/1.1 429 ")
        for sock in idle:
            sock.close()
    finally:
        box.stop()


def test_stopping_ends_open_watches() -> None:
    box = start_sandbox()
    connection = http.client.HTTPConnection("127.0.0.1", box.port, timeout=10)
    connection.request("GET", "/api/v1/pods?watch=true")
    reply = connection.getresponse()
    assert json.loads(reply.readline())["type"] == "ADDED"
    box.stop(timeout=5)
    assert all(not t.is_alive() for t in box._threads)
    connection.close()
