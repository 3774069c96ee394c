"""The three patch formats the API server accepts for built-in kinds: JSON merge patch (RFC 7386),
JSON patch (RFC 6902) and strategic merge patch (for the cases ``kubectl apply`` sends).

Strategic merge patch merges lists that the Go types tag with a ``patchMergeKey`` (containers by
name, Service ports by port …), honours the ``$patch``, ``$retainKeys``, ``$setElementOrder/`` and
``$deleteFromPrimitiveList/`` directives and replaces every other list, as
k8s.io/apimachinery ``pkg/util/strategicpatch/patch.go`` does for those types.

>>> svc = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]}}
>>> strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}, "Service")
{'spec': {'ports': [{'port': 80, 'name': 'http', 'targetPort': 8080}, {'port': 443, 'name': 'https'}]}}
>>> merge_patch(svc, {"spec": {"ports": [{"port": 80}]}})
{'spec': {'ports': [{'port': 80}]}}
>>> json_patch({"metadata": {"labels": {"a": "1"}}}, [{"op": "add", "path": "/metadata/labels/b", "value": "2"}])
{'metadata': {'labels': {'a': '1', 'b': '2'}}}
"""

from __future__ import annotations

import copy
from typing import Any

from svclab.sandbox.status import ApiError, bad_request

_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")
_CONTAINER_LIST_KEYS = {
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
_POD_SPEC_KEYS = {
    **{containers: "name" for containers in _CONTAINERS},
    **{f"{c}.{field}": key for c in _CONTAINERS for field, key in _CONTAINER_LIST_KEYS.items()},
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "resourceClaims": "name",
}

_COMMON_KEYS = {"metadata.ownerReferences": "uid", "status.conditions": "type"}

MERGE_KEYS: dict[str, dict[str, str]] = {
    "Pod": _COMMON_KEYS
    | {f"spec.{path}": key for path, key in _POD_SPEC_KEYS.items()}
    | {"status.containerStatuses": "name", "status.podIPs": "ip"},
    "Deployment": _COMMON_KEYS
    | {f"spec.template.spec.{path}": key for path, key in _POD_SPEC_KEYS.items()},
    "Service": _COMMON_KEYS | {"spec.ports": "port"},
}
"""``patchMergeKey`` tags of the Go types (k8s.io/api core/v1, apps/v1 ``types.go``), by list path."""

PRIMITIVE_MERGE_LISTS = frozenset({"metadata.finalizers"})
"""Lists of scalars tagged ``patchStrategy:"merge"``: the patch's items are added, not replacing."""


def merge_patch(original: Any, patch: Any) -> Any:
    """RFC 7386: maps merge, ``null`` deletes, everything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(original: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of `kind`."""
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    merged = _merge_map(copy.deepcopy(original), patch, "", MERGE_KEYS.get(kind, _COMMON_KEYS))
    return merged if merged is not None else {}


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], path: str, keys: dict[str, str]
) -> dict[str, Any] | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip_directives(patch)
    if directive is not None:
        raise bad_request(f"Unknown patch type: {directive!r}")
    if "$retainKeys" in patch:
        retain = set(patch["$retainKeys"] or [])
        original = {k: v for k, v in original.items() if k in retain}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        child = f"{path}.{key}" if path else key
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value or []
        elif key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            original[name] = [
                item for item in original.get(name) or [] if item not in (value or [])
            ]
        elif key.startswith("$"):
            continue
        elif value is None:
            original.pop(key, None)
        elif isinstance(value, dict) and isinstance(original.get(key), dict):
            merged = _merge_map(original[key], value, child, keys)
            if merged is None:
                original.pop(key)
            else:
                original[key] = merged
        elif isinstance(value, list) and child in keys:
            original[key] = _merge_list(original.get(key) or [], value, child, keys)
        elif isinstance(value, list) and child in PRIMITIVE_MERGE_LISTS:
            existing = original.get(key) or []
            original[key] = existing + [item for item in value if item not in existing]
        else:
            original[key] = _strip_directives(value)
    for name, order in orders.items():
        original[name] = _ordered(
            original.get(name) or [], order, keys.get(f"{path}.{name}" if path else name)
        )
    return original


def _merge_list(
    original: list[Any], patch: list[Any], path: str, keys: dict[str, str]
) -> list[Any]:
    key = keys[path]
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [
            _strip_directives(item)
            for item in patch
            if not (isinstance(item, dict) and "$patch" in item)
        ]
    result = [copy.deepcopy(item) for item in original]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        index = next(
            (
                i
                for i, old in enumerate(result)
                if isinstance(old, dict) and old.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_strip_directives(item))
        else:
            result[index] = _merge_map(result[index], item, path, keys)
    return result


def _ordered(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    """Sort `items` by the positions `$setElementOrder` gives; unnamed items keep their place after."""

    def identity(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [identity(entry) for entry in order]
    ranked = [item for name in wanted for item in items if identity(item) == name]
    return ranked + [item for item in items if identity(item) not in wanted]


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def json_patch(original: Any, operations: Any) -> Any:
    """RFC 6902 operations (add, remove, replace, move, copy, test) with RFC 6901 pointers.

    >>> json_patch({"a": [1, 2]}, [{"op": "add", "path": "/a/-", "value": 3}, {"op": "remove", "path": "/a/0"}])
    {'a': [2, 3]}
    >>> json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    Traceback (most recent call last):
    ...
    svclab.sandbox.status.ApiError: the server rejected our request due to an error in our request: test failed at /a
    """
    if not isinstance(operations, list):
        raise bad_request("json patch must be a JSON array of operations")
    document = copy.deepcopy(original)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise _patch_error(f"invalid operation {operation!r}")
        op, path = operation["op"], operation["path"]
        if op in ("add", "replace", "test") and "value" not in operation:
            raise _patch_error(f"{op} at {path} needs a value")
        if op == "test":
            if _lookup(document, path) != operation["value"]:
                raise _patch_error(f"test failed at {path}")
        elif op == "remove":
            document = _remove(document, path)
        elif op == "add":
            document = _add(document, path, copy.deepcopy(operation["value"]))
        elif op == "replace":
            document = _add(_remove(document, path), path, copy.deepcopy(operation["value"]))
        elif op in ("move", "copy"):
            value = copy.deepcopy(_lookup(document, operation.get("from", "")))
            if op == "move":
                document = _remove(document, operation["from"])
            document = _add(document, path, value)
        else:
            raise _patch_error(f"unknown operation {op!r}")
    return document


def _patch_error(message: str) -> ApiError:
    # The API server answers an inapplicable JSON patch with 422 (handlers/patch.go).
    return ApiError(
        422, "Invalid", f"the server rejected our request due to an error in our request: {message}"
    )


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _patch_error(f"invalid pointer {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _step(container: Any, token: str, pointer: str) -> Any:
    if isinstance(container, dict) and token in container:
        return container[token]
    if isinstance(container, list) and token.isdigit() and int(token) < len(container):
        return container[int(token)]
    raise _patch_error(f"path {pointer} does not exist")


def _lookup(document: Any, pointer: str) -> Any:
    for token in _tokens(pointer):
        document = _step(document, token, pointer)
    return document


def _parent(document: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    if not tokens:
        raise _patch_error("cannot change the whole document")
    parent = document
    for token in tokens[:-1]:
        parent = _step(parent, token, pointer)
    return parent, tokens[-1]


def _add(document: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(document, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list) and (
        token == "-" or (token.isdigit() and int(token) <= len(parent))
    ):
        parent.insert(len(parent) if token == "-" else int(token), value)
    else:
        raise _patch_error(f"path {pointer} does not exist")
    return document


def _remove(document: Any, pointer: str) -> Any:
    parent, token = _parent(document, pointer)
    _step(parent, token, pointer)
    if isinstance(parent, dict):
        del parent[token]
    else:
        del parent[int(token)]
    return document
