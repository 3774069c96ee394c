"""The sandbox's building blocks against their specifications and upstream test cases."""

from __future__ import annotations

import pytest

from svclab.sandbox.patch import json_patch, merge_patch, strategic_merge_patch
from svclab.sandbox.selectors import parse_field_selector, parse_label_selector
from svclab.sandbox.status import ApiError
from svclab.sandbox.tables import human_duration, row_cells

# --- label selectors: k8s.io/apimachinery pkg/labels/selector_test.go (TestSelectorMatches,
# TestSelectorDoesNotMatch) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "labels"),
    [
        ("", {"x": "y"}),
        ("x=y", {"x": "y"}),
        ("x=y,z=w", {"x": "y", "z": "w"}),
        ("x!=y,z!=w", {"x": "z", "z": "a"}),
        ("notin=in", {"notin": "in"}),  # in and notin in a key or value are not operators
        ("x", {"x": "z"}),
        ("!x", {"y": "z"}),
        ("x>1", {"x": "2"}),
        ("x<1", {"x": "0"}),
        ("x in (y,z)", {"x": "z"}),
        ("x notin (y)", {}),
        ("x!=y", {}),
    ],
)
def test_label_selector_matches(selector: str, labels: dict[str, str]) -> None:
    assert parse_label_selector(selector)(labels)


@pytest.mark.parametrize(
    ("selector", "labels"),
    [
        ("x=y", {}),
        ("x=z", {"x": "y"}),
        ("x=y,z=w", {"x": "w", "z": "w"}),
        ("x!=y,z!=w", {"x": "z", "z": "w"}),
        ("x", {"y": "z"}),
        ("!x", {"x": "z"}),
        ("x>1", {"x": "0"}),
        ("x<1", {"x": "2"}),
        ("x in (y)", {}),
    ],
)
def test_label_selector_does_not_match(selector: str, labels: dict[str, str]) -> None:
    assert not parse_label_selector(selector)(labels)


@pytest.mark.parametrize("selector", ["x=a||y=b", "x in (", "x notin y", "=y", "x>a"])
def test_bad_label_selectors_are_400(selector: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_label_selector(selector)
    assert raised.value.code == 400


def test_field_selector_escapes() -> None:
    # k8s.io/apimachinery pkg/fields/selector_test.go: "\\," and "\\=" are literal in values
    [term] = parse_field_selector(r"metadata.name=a\,b\=c")
    assert (term.field, term.op, term.value) == ("metadata.name", "=", "a,b=c")
    assert parse_field_selector("x==y")[0].op == "="


# --- JSON merge patch: RFC 7386 Appendix A -------------------------------------------------


@pytest.mark.parametrize(
    ("original", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc7386(original: dict, patch: dict, result: dict) -> None:
    assert merge_patch(original, patch) == result


# --- JSON patch: RFC 6902 Appendix A -------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "operations", "result"),
    [
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/baz", "value": "qux"}],
            {"baz": "qux", "foo": "bar"},
        ),
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        (
            {"foo": ["bar", "qux", "baz"]},
            [{"op": "remove", "path": "/foo/1"}],
            {"foo": ["bar", "baz"]},
        ),
        (
            {"baz": "qux", "foo": "bar"},
            [{"op": "replace", "path": "/baz", "value": "boo"}],
            {"baz": "boo", "foo": "bar"},
        ),
        (
            {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
            [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
            {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
        ),
        (
            {"baz": "qux", "foo": ["a", 2, "c"]},
            [
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2},
            ],
            {"baz": "qux", "foo": ["a", 2, "c"]},
        ),
        (
            {"foo": "bar"},
            [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
            {"foo": "bar", "child": {"grandchild": {}}},
        ),
        (
            {"foo": ["bar"]},
            [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
            {"foo": ["bar", ["abc", "def"]]},
        ),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    ],
)
def test_json_patch_rfc6902(document: dict, operations: list, result: dict) -> None:
    assert json_patch(document, operations) == result


@pytest.mark.parametrize(
    "operations",
    [
        [{"op": "test", "path": "/baz", "value": "bar"}],  # A.9: test fails
        [{"op": "add", "path": "/baz/bat", "value": "qux"}],  # A.12: add to a nonexistent target
        [{"op": "remove", "path": "/nothing"}],
        [{"op": "frobnicate", "path": "/baz"}],
    ],
)
def test_json_patch_errors_are_422(operations: list) -> None:
    with pytest.raises(ApiError) as raised:
        json_patch({"baz": "qux"}, operations)
    assert raised.value.code == 422


# --- strategic merge patch: k8s.io/apimachinery pkg/util/strategicpatch/patch_test.go ----


POD = {
    "spec": {"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]},
    "metadata": {"finalizers": ["x"]},
}


def test_strategic_merge_merges_containers_by_name() -> None:
    patched = strategic_merge_patch(
        POD, {"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c"}]}}, "Pod"
    )
    assert patched["spec"]["containers"] == [
        {"name": "a", "image": "a:1"},
        {"name": "b", "image": "b:2"},
        {"name": "c"},
    ]


def test_strategic_merge_directives() -> None:
    deleted = strategic_merge_patch(
        POD, {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}, "Pod"
    )
    assert [c["name"] for c in deleted["spec"]["containers"]] == ["b"]
    replaced = strategic_merge_patch(
        POD, {"spec": {"containers": [{"name": "z"}, {"$patch": "replace"}]}}, "Pod"
    )
    assert replaced["spec"]["containers"] == [{"name": "z"}]
    ordered = strategic_merge_patch(
        POD, {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}, "Pod"
    )
    assert [c["name"] for c in ordered["spec"]["containers"]] == ["b", "a"]
    retained = strategic_merge_patch(
        {"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}},
        {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
        "Deployment",
    )
    assert retained["spec"]["strategy"] == {"type": "Recreate"}
    finalizers = strategic_merge_patch(POD, {"metadata": {"finalizers": ["y"]}}, "Pod")["metadata"][
        "finalizers"
    ]
    assert finalizers == ["x", "y"]  # a primitive list with patchStrategy merge
    dropped = strategic_merge_patch(
        POD, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}, "Pod"
    )
    assert dropped["metadata"]["finalizers"] == []


def test_strategic_merge_replaces_lists_without_a_merge_key() -> None:
    svc = {"spec": {"externalIPs": ["1.1.1.1"], "ports": [{"port": 80, "name": "http"}]}}
    patched = strategic_merge_patch(
        svc, {"spec": {"externalIPs": ["2.2.2.2"], "ports": [{"port": 443}]}}, "Service"
    )
    assert patched["spec"] == {
        "externalIPs": ["2.2.2.2"],
        "ports": [{"port": 80, "name": "http"}, {"port": 443}],
    }


# --- printing: apimachinery pkg/util/duration/duration_test.go (TestHumanDuration) and
# kubernetes pkg/printers/internalversion/printers_test.go (TestPrintPod) ----------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1s"),
        (70, "70s"),
        (190, "3m10s"),
        (70 * 60, "70m"),
        (47 * 3600, "47h"),
        (49 * 3600, "2d1h"),
        ((8 * 24 + 2) * 3600, "8d"),
        (367 * 24 * 3600, "367d"),
        ((365 * 2 * 24 + 25) * 3600, "2y1d"),
        ((365 * 8 * 24 + 2) * 3600, "8y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_pod_row_of_a_terminating_pod() -> None:
    pod = {
        "metadata": {
            "name": "p",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "deletionTimestamp": "2025-01-01T00:01:00Z",
        },
        "spec": {"containers": [{"name": "c"}, {"name": "d"}], "nodeName": "n1"},
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.1"}],
            "containerStatuses": [
                {"name": "c", "ready": True, "restartCount": 2, "state": {"running": {}}},
                {
                    "name": "d",
                    "ready": False,
                    "restartCount": 1,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                },
            ],
        },
    }
    assert row_cells("Pod", pod, now=1735689600 + 30) == [
        "p",
        "1/2",
        "Terminating",
        "3",
        "30s",
        "10.0.0.1",
        "n1",
        "<none>",
        "<none>",
    ]
