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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes.client as k8s
import pydantic
import yaml

from svclab.api import bounded_yaml
from svclab.api.bounded_yaml import MAX_FILE_BYTES, documents
from svclab.errors import ManifestError


class _Models(Mapping[tuple[str, str], type]):
    """Client models by (apiVersion, kind), each imported when first looked up."""

    def __init__(self, names: dict[tuple[str, str], str]) -> None:
        self._names = names

    def __getitem__(self, key: tuple[str, str]) -> type:
        return getattr(k8s, self._names[key])

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


KINDS: Mapping[tuple[str, str], type] = _Models(
    {
        ("v1", "Service"): "V1Service",
        ("v1", "Pod"): "V1Pod",
        ("v1", "Node"): "V1Node",
        ("v1", "Namespace"): "V1Namespace",
        ("v1", "Endpoints"): "V1Endpoints",
        ("discovery.k8s.io/v1", "EndpointSlice"): "V1EndpointSlice",
        ("apps/v1", "Deployment"): "V1Deployment",
    }
)
"""The kinds svclab understands, by (apiVersion, kind). Other kinds are skipped, as a
component that does not watch them would skip them. A model is imported when first used (a
Pod's takes a tenth of a second), so reading Services alone does not pay for Pods."""

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

MAX_NAME_SHOWN = 64
"""Longest object name shown in a message (a longer one is cut and its length given)."""


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
    if len(name) > MAX_NAME_SHOWN:
        name = f"{name[:MAX_NAME_SHOWN]}... ({len(name)} characters)"
    if kind in ("Node", "Namespace"):
        return f"{kind} {name}"
    namespace = (meta.namespace if meta else None) or "default"
    return f"{kind} {namespace}/{name}" if name != "<unnamed>" else f"{kind} {name}"


Warn = Callable[[str], None]
"""Where a reader says what it skipped: one line, without the ``svclab: warning:`` prefix."""


def load_manifests(
    paths: Iterable[str | Path], *, recursive: bool = False, warn: Warn | None = None
) -> list[Manifest]:
    """Load every manifest in the given files and folders (folders in name order)."""
    return list(iter_manifests(paths, recursive=recursive, warn=warn))


def iter_manifests(
    paths: Iterable[str | Path], *, recursive: bool = False, warn: Warn | None = None
) -> Iterator[Manifest]:
    """Each object as soon as it is read, so a bad one stops the reading at once.

    A folder gives its own ``.yaml``, ``.yml`` and ``.json`` files, and those of its subfolders
    with `recursive` (kubectl's ``-f DIR`` and ``-R``); a file named directly is read whatever
    its name. Skipped input (an empty file or folder, an unknown kind, an unknown field) is
    passed to `warn`.
    """
    say = warn or (lambda _: None)
    for path in paths:
        files = list(_manifest_files(Path(path), recursive))
        if Path(path).is_dir() and not files:
            say(f"{path}: no manifest files ({', '.join(MANIFEST_SUFFIXES)})")
        for file in files:
            found = 0
            for manifest in _load(_read(file), str(file), say):
                found += 1
                yield manifest
            if not found:
                say(f"{file}: no objects")


def _read(file: Path) -> str:
    try:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ManifestError(
                str(file),
                "",
                "",
                f"larger than {MAX_FILE_BYTES // 2**20} MiB, the most svclab reads",
            )
        return file.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ManifestError(str(file), "", "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(
            str(file), "", "", f"cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def load_text(text: str, source: str = "<string>", warn: Warn | None = None) -> list[Manifest]:
    """Load the documents of one YAML or JSON text."""
    return list(_load(text, source, warn or (lambda _: None)))


def _load(text: str, source: str, warn: Warn) -> Iterator[Manifest]:
    count = 0
    for document in documents(text, source):
        if document is None:
            continue
        for obj in _objects(document, source, warn):
            count += 1
            if count > bounded_yaml.MAX_OBJECTS:
                limit = bounded_yaml.MAX_OBJECTS
                raise ManifestError(source, "", "", f"more than {limit} objects in one file")
            yield Manifest(obj, source)


def _manifest_files(path: Path, recursive: bool) -> Iterator[Path]:
    if path.is_dir():
        children = path.rglob("*") if recursive else path.iterdir()
        yield from sorted(p for p in children if p.suffix in MANIFEST_SUFFIXES and p.is_file())
    elif path.exists():
        yield path
    else:
        raise ManifestError(str(path), "", "", "no such file or folder")


def _objects(document: Any, source: str, warn: Warn) -> Iterator[Any]:
    if not isinstance(document, dict):
        raise ManifestError(source, "", "", "a manifest must be a mapping with apiVersion and kind")
    kind, api_version = document.get("kind"), document.get("apiVersion")
    metadata = document.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    label = f"{kind or '<no kind>'} {name or '<unnamed>'}"
    if not kind:
        raise ManifestError(source, label, "kind", "required")
    if not isinstance(kind, str):
        raise ManifestError(source, label, "kind", "must be a string")
    if kind == "List" or (kind.endswith("List") and "items" in document):
        items = document.get("items") or []
        if not isinstance(items, list):
            raise ManifestError(source, label, "items", "must be a list")
        for item in items:
            yield from _objects(item, source, warn)
        return
    if not api_version:
        raise ManifestError(source, label, "apiVersion", "required")
    if not isinstance(api_version, str):
        raise ManifestError(source, label, "apiVersion", "must be a string")
    model = KINDS.get((api_version, kind))
    if model is None:
        if any(known_kind == kind for _, known_kind in KINDS):
            raise ManifestError(
                source, label, "apiVersion", f"{api_version!r} is not served for {kind}"
            )
        namespace = (metadata.get("namespace") if isinstance(metadata, dict) else None) or "default"
        named = f"{kind} {namespace}/{name}" if name else f"{kind} <unnamed>"
        warn(f"{source}: {named}: skipped: svclab does not read kind {kind} ({api_version})")
        return
    obj = build_object(model, document, source)
    for field in unknown_fields(model, document):
        warn(f'{source}: {object_label(obj)}: unknown field "{field}"')
    yield obj


def unknown_fields(model: type, data: Any, path: str = "") -> Iterator[str]:
    """Fields the client model does not know, as the API server's warnings name them.

    >>> list(unknown_fields(k8s.V1Service, {"spec": {"ports": [{"port": 80, "prot": "TCP"}]}}))
    ['spec.ports[0].prot']
    """
    if not isinstance(data, dict):
        return
    by_json_name = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, value in data.items():
        sub_path = f"{path}.{key}" if path else str(key)
        attr = by_json_name.get(key)
        if attr is None:
            yield sub_path
            continue
        nested = _nested_model(model.openapi_types[attr])
        if nested is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                yield from unknown_fields(nested, item, f"{sub_path}[{index}]")
        else:
            yield from unknown_fields(nested, value, sub_path)


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
