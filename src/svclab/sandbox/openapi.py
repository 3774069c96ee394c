"""The OpenAPI v3 documents ``kubectl`` reads before it writes: paths and their query parameters only.

``kubectl apply``/``create`` validate with ``--validate=strict`` by default. They look up the
PATCH operation of the kind in ``/openapi/v3/<group-version>`` and, when it lists the
``fieldValidation`` query parameter, leave validation to the server (cli-runtime
``query_param_verifier_v3.go``). No schemas are published, so kubectl computes its apply patches
from its compiled-in Go types. ``dryRun`` is not listed: the sandbox has no dry run, and kubectl
then refuses ``--dry-run=server`` with a clear message instead of writing for real.

>>> root = openapi_root()
>>> sorted(root["paths"])
['api/v1', 'apis/apps/v1', 'apis/discovery.k8s.io/v1']
>>> doc = group_version_document("api/v1")
>>> patch = doc["paths"]["/api/v1/namespaces/{namespace}/services/{name}"]["patch"]
>>> patch["x-kubernetes-group-version-kind"], [p["name"] for p in patch["parameters"]]
({'group': '', 'version': 'v1', 'kind': 'Service'}, ['fieldManager', 'fieldValidation'])
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from svclab.sandbox.resources import RESOURCES, Resource

Obj = dict[str, Any]

_WRITE_PARAMETERS = [
    {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
    {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
]
# verb → (HTTP method, on the item path?, takes a body?)
_OPERATIONS = {
    "list": ("get", False, False),
    "create": ("post", False, True),
    "get": ("get", True, False),
    "update": ("put", True, True),
    "patch": ("patch", True, True),
    "delete": ("delete", True, False),
}


def _prefix(resource: Resource) -> str:
    return (
        f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"
    )


def _paths(resource: Resource) -> Obj:
    base = "/" + _prefix(resource)
    collection = (
        f"{base}/namespaces/{{namespace}}/{resource.plural}"
        if resource.namespaced
        else f"{base}/{resource.plural}"
    )
    paths: Obj = {}
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    for verb, (method, on_item, has_body) in _OPERATIONS.items():
        if verb not in resource.verbs:
            continue
        path = f"{collection}/{{name}}" if on_item else collection
        operation: Obj = {
            "operationId": f"{verb}{resource.kind}",
            "x-kubernetes-action": verb,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": list(_WRITE_PARAMETERS) if has_body else [],
            "responses": {"200": {"description": "OK"}},
        }
        paths.setdefault(path, {})[method] = operation
    return paths


@cache
def group_version_document(group_version_path: str) -> Obj:
    """The document for ``api/v1`` or ``apis/<group>/<version>`` (empty paths when not served)."""
    paths: Obj = {}
    for resource in RESOURCES:
        if _prefix(resource) == group_version_path:
            paths |= _paths(resource)
    return {
        "openapi": "3.0.0",
        "info": {"title": "svclab sandbox", "version": "v1"},
        "paths": paths,
        "components": {},
    }


def _hash(document: Obj) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest().upper()


def openapi_root() -> Obj:
    """``/openapi/v3``: where each group-version's document lives (its hash makes it cacheable)."""
    prefixes = sorted({_prefix(r) for r in RESOURCES})
    return {
        "paths": {
            prefix: {
                "serverRelativeURL": f"/openapi/v3/{prefix}?hash={_hash(group_version_document(prefix))}"
            }
            for prefix in prefixes
        }
    }
