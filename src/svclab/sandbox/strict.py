"""Field validation of request bodies (``?fieldValidation=Strict|Warn|Ignore``): unknown fields.

The API server decodes bodies strictly on request: with ``Strict`` an unknown field fails the
request (400), with ``Warn`` (the default) it comes back as a ``Warning`` header, with ``Ignore``
it is dropped silently. Known fields are those of the official client's models.

>>> import kubernetes.client as k8s
>>> unknown_fields(k8s.V1Service, {"metadata": {"name": "web", "labelz": {}},
...                                "spec": {"prots": [], "ports": [{"port": 80, "nmae": "x"}]}})
['metadata.labelz', 'spec.prots', 'spec.ports[0].nmae']
>>> unknown_fields(k8s.V1Service, {"metadata": {"labels": {"any-key": "v"}}})
[]
"""

from __future__ import annotations

import re
from typing import Any

import kubernetes.client as k8s

_NESTED = re.compile(r"(?:[Ll]ist\[)?(V\w+)\]?")


def unknown_fields(model: type, data: Any, path: str = "") -> list[str]:
    """Paths of the keys in `data` that `model` (a client model class) has no field for."""
    if not isinstance(data, dict):
        return []
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    found = []
    for key, value in data.items():
        child = f"{path}.{key}" if path else key
        attr = by_json_name.get(key)
        if attr is None:
            found.append(child)
            continue
        match = _NESTED.fullmatch(model.openapi_types[attr])
        nested = getattr(k8s, match.group(1), None) if match else None
        if nested is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                found += unknown_fields(nested, item, f"{child}[{index}]")
        else:
            found += unknown_fields(nested, value, child)
    return found


def strict_error_message(kind: str, api_version: str, fields: list[str]) -> str:
    """The 400 message of a strict decoding failure.

    >>> strict_error_message("Service", "v1", ["spec.prots"])
    'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.prots"'
    """
    listed = ", ".join(f'unknown field "{f}"' for f in fields)
    version = api_version.split("/")[-1]
    return f'{kind} in version "{version}" cannot be handled as a {kind}: strict decoding error: {listed}'
