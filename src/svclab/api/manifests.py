"""Read Kubernetes manifests (YAML or JSON files, folders, ``kind: List``) into client objects.

Objects are the official ``kubernetes`` client models (``V1Service``, ``V1EndpointSlice``…),
each paired with where it came from so later errors can name the file.

>>> docs = load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web, namespace: shop}
... spec:
...   selector: {app: web}
...   ports: [{name: http, port: 80, targetPort: 8080}]
... ''', source="web.yaml")
>>> svc = docs[0].obj
>>> type(svc).__name__, svc.metadata.name, svc.spec.ports[0].target_port
('V1Service', 'web', 8080)
>>> docs[0].source
'web.yaml'
>>> load_text("kind: Service\\napiVersion: v1\\nspec: {ports: [{port: http}]}", "bad.yaml")
Traceback (most recent call last):
...
svclab.errors.ManifestError: bad.yaml: Service <unnamed>: spec.ports[0].port: Input should be a valid integer
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pydantic
import yaml

from svclab.errors import ManifestError

KINDS: dict[tuple[str, str], type] = {
    ("v1", "Service"): k8s.V1Service,
    ("v1", "Pod"): k8s.V1Pod,
    ("v1", "Node"): k8s.V1Node,
    ("v1", "Namespace"): k8s.V1Namespace,
    ("v1", "Endpoints"): k8s.V1Endpoints,
    ("discovery.k8s.io/v1", "EndpointSlice"): k8s.V1EndpointSlice,
    ("apps/v1", "Deployment"): k8s.V1Deployment,
}
"""The kinds svclab understands, by (apiVersion, kind). Other kinds are skipped, as a
component that does not watch them would skip them."""

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Manifest:
    """A client object and the file it was read from."""

    obj: Any
    source: str

    @property
    def label(self) -> str:
        """``Kind namespace/name`` as used in error messages."""
        return object_label(self.obj)


def object_label(obj: Any) -> str:
    """Name an object the way error messages do.

    >>> object_label(k8s.V1Service(kind="Service", metadata=k8s.V1ObjectMeta(name="a")))
    'Service default/a'
    >>> object_label(k8s.V1Node(kind="Node", metadata=k8s.V1ObjectMeta(name="n1")))
    'Node n1'
    """
    kind = getattr(obj, "kind", None) or type(obj).__name__.removeprefix("V1")
    meta = getattr(obj, "metadata", None)
    name = (meta.name if meta else None) or "<unnamed>"
    if kind in ("Node", "Namespace"):
        return f"{kind} {name}"
    namespace = (meta.namespace if meta else None) or "default"
    return f"{kind} {namespace}/{name}" if name != "<unnamed>" else f"{kind} {name}"


def load_manifests(paths: Iterable[str | Path]) -> list[Manifest]:
    """Load every manifest in the given files and folders (folders in name order)."""
    loaded: list[Manifest] = []
    for path in paths:
        for file in _manifest_files(Path(path)):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise ManifestError(str(file), "", "", f"cannot read: {exc}") from None
            loaded.extend(load_text(text, str(file)))
    return loaded


def load_text(text: str, source: str = "<string>") -> list[Manifest]:
    """Load the documents of one YAML or JSON text."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ManifestError(source, "", "", f"{where}not valid YAML: {problem}") from None
    return [
        Manifest(obj, source)
        for document in documents
        if document is not None
        for obj in _objects(document, source)
    ]


def _manifest_files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.suffix in MANIFEST_SUFFIXES)
    elif path.exists():
        yield path
    else:
        raise ManifestError(str(path), "", "", "no such file or folder")


def _objects(document: Any, source: str) -> Iterator[Any]:
    if not isinstance(document, dict):
        raise ManifestError(source, "", "", "a manifest must be a mapping with apiVersion and kind")
    kind, api_version = document.get("kind"), document.get("apiVersion")
    name = (
        (document.get("metadata") or {}).get("name")
        if isinstance(document.get("metadata"), dict)
        else None
    )
    label = f"{kind or '<no kind>'} {name or '<unnamed>'}"
    if not kind:
        raise ManifestError(source, label, "kind", "required")
    if kind == "List" or (kind.endswith("List") and "items" in document):
        items = document.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(source, label, "items", "must be a list")
        for item in items:
            yield from _objects(item, source)
        return
    if not api_version:
        raise ManifestError(source, label, "apiVersion", "required")
    model = KINDS.get((api_version, kind))
    if model is None:
        if any(known_kind == kind for _, known_kind in KINDS):
            raise ManifestError(
                source, label, "apiVersion", f"{api_version!r} is not served for {kind}"
            )
        return  # a kind svclab does not model, skipped as an uninterested controller would
    yield build_object(model, document, source)


def build_object(model: type, document: dict[str, Any], source: str = "<string>") -> Any:
    """Turn a JSON-shaped dict into a client object; a bad field raises `ManifestError`.

    >>> build_object(k8s.V1Pod, {"kind": "Pod", "metadata": {"name": "p"}}).metadata.name
    'p'
    """
    try:
        return model.from_dict(document)
    except pydantic.ValidationError as exc:
        name = (
            (document.get("metadata") or {}).get("name")
            if isinstance(document.get("metadata"), dict)
            else None
        )
        label = f"{document.get('kind', model.__name__.removeprefix('V1'))} {name or '<unnamed>'}"
        if name and isinstance(document.get("metadata"), dict):
            namespace = document["metadata"].get("namespace") or "default"
            if document.get("kind") not in ("Node", "Namespace"):
                label = f"{document.get('kind')} {namespace}/{name}"
        field, message = _locate_error(model, document, "")
        raise ManifestError(source, label, field or "", message or _first_message(exc)) from None


def _first_message(exc: pydantic.ValidationError) -> str:
    return exc.errors()[0]["msg"]


def _locate_error(model: type, data: Any, path: str) -> tuple[str, str]:
    """Find the deepest field whose value the client model rejects."""
    if not isinstance(data, dict):
        return path, f"must be an object, not {type(data).__name__}"
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, value in data.items():
        attr = by_json_name.get(key)
        if attr is None or value is None:
            continue
        sub_path = f"{path}.{key}" if path else key
        type_name = model.openapi_types[attr]
        nested = _nested_model(type_name)
        if nested is None:
            continue
        if type_name.startswith(("List[", "list[")):
            if not isinstance(value, list):
                return sub_path, "must be a list"
            for index, item in enumerate(value):
                found = _check(nested, item, f"{sub_path}[{index}]")
                if found:
                    return found
        elif found := _check(nested, value, sub_path):
            return found
    try:
        model.from_dict(data)
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        loc = ".".join(str(part) for part in error["loc"])
        json_loc = model.attribute_map.get(loc, loc)
        return (f"{path}.{json_loc}" if path else json_loc), error["msg"]
    return path, ""


def _check(model: type, value: Any, path: str) -> tuple[str, str] | None:
    try:
        model.from_dict(value)
    except pydantic.ValidationError:
        return _locate_error(model, value, path)
    return None


def _nested_model(type_name: str) -> type | None:
    match = re.fullmatch(r"(?:[Ll]ist\[)?(V\w+)\]?", type_name)
    return getattr(k8s, match.group(1), None) if match else None


def to_manifest_dict(obj: Any) -> dict[str, Any]:
    """The object as the API shows it: camelCase keys, unset fields left out.

    >>> import datetime
    >>> to_manifest_dict(k8s.V1Service(api_version="v1", kind="Service",
    ...                  spec=k8s.V1ServiceSpec(cluster_ip="10.96.0.1")))
    {'apiVersion': 'v1', 'kind': 'Service', 'spec': {'clusterIP': '10.96.0.1'}}
    >>> to_manifest_dict(k8s.V1ObjectMeta(creation_timestamp=datetime.datetime(
    ...     2026, 11, 25, 9, 0, tzinfo=datetime.timezone.utc)))
    {'creationTimestamp': '2026-11-25T09:00:00Z'}
    """
    return _kubectl_times(k8s.ApiClient().sanitize_for_serialization(obj))


def _kubectl_times(value: Any) -> Any:
    """Timestamps in UTC end in ``Z``, as the API server and kubectl write them."""
    if isinstance(value, dict):
        return {key: _kubectl_times(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_kubectl_times(item) for item in value]
    if isinstance(value, str) and _UTC_SUFFIX.search(value):
        return _UTC_SUFFIX.sub("Z", value)
    return value


_UTC_SUFFIX = re.compile(r"(?<=T\d\d:\d\d:\d\d)(\.\d+)?\+00:00$")


def to_yaml(obj: Any) -> str:
    """The object as ``kubectl get -o yaml`` prints it (keys sorted, block style).

    >>> print(to_yaml(k8s.V1Namespace(api_version="v1", kind="Namespace",
    ...                               metadata=k8s.V1ObjectMeta(name="shop"))), end="")
    apiVersion: v1
    kind: Namespace
    metadata:
      name: shop
    """
    return yaml.safe_dump(to_manifest_dict(obj), sort_keys=True, default_flow_style=False)
