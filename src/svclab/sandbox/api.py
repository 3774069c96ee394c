"""The Kubernetes REST conventions over a `Store`: routing, verbs, negotiation and watch streams.

Independent of HTTP: `Api.handle` takes a `Request` and returns a `Response` whose body is a
JSON-shaped object or, for a watch, an iterator of watch events. Behaviour follows
k8s.io/apiserver ``pkg/endpoints/handlers`` (get, list, watch, create, update, patch, delete),
its ``storage/cacher`` for resourceVersion semantics and its ``rest`` strategies for what a
client may set.

>>> import threading
>>> from svclab.cluster import Cluster
>>> api = Api(Store(Cluster(seed=1)), stopping=threading.Event())
>>> bootstrap_namespaces(api.store)
>>> r = api.handle(Request("GET", "/api/v1/namespaces/default/services/kubernetes"))
>>> r.code, r.body["spec"]["clusterIP"]
(200, '10.96.0.1')
>>> r = api.handle(Request("GET", "/api/v1/namespaces/default/services/nope"))
>>> r.code, r.body["reason"], r.body["message"]
(404, 'NotFound', 'services "nope" not found')
>>> r = api.handle(Request("GET", "/api/v1/namespaces", {"labelSelector": "kubernetes.io/metadata.name=default"}))
>>> [ns["metadata"]["name"] for ns in r.body["items"]]
['default']
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import kubernetes.client as k8s
import yaml

from svclab.api.defaults import apply_defaults
from svclab.api.manifests import KINDS, build_object
from svclab.errors import ManifestError
from svclab.sandbox import openapi, resources, status, tables
from svclab.sandbox.patch import json_patch, merge_patch, strategic_merge_patch
from svclab.sandbox.resources import RESOURCES_BY_PATH, Resource, field_value
from svclab.sandbox.selectors import (
    field_selector_error,
    parse_field_selector,
    parse_label_selector,
)
from svclab.sandbox.status import ApiError
from svclab.sandbox.store import Store, WatchEvent, object_key
from svclab.sandbox.strict import strict_error_message, unknown_fields

Obj = dict[str, Any]
log = logging.getLogger("svclab.sandbox")

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
PATCH_TYPES: dict[str, Callable[[Obj, Any, str], Any]] = {
    "application/merge-patch+json": lambda obj, patch, kind: merge_patch(obj, patch),
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/json-patch+json": lambda obj, patch, kind: json_patch(obj, patch),
}
BODY_TYPES = ("application/json", "application/yaml")


@dataclass
class Request:
    """One API request: method, path, query parameters, headers (lower-case names), body."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Response:
    """A status code and a JSON body, or a stream of watch events."""

    code: int
    body: Obj | None = None
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    events: Iterator[Obj | None] | None = None  # a watch: events, None while nothing happens


@dataclass(frozen=True)
class Target:
    """What a resource path names: the resource, a namespace (None: all) and an object name."""

    resource: Resource
    namespace: str | None
    name: str | None


def bootstrap_namespaces(store: Store) -> None:
    """Create the system namespaces and every namespace objects already live in, as the API
    server's bootstrap controller and an operator's ``kubectl create namespace`` would."""

    def create() -> None:
        used = {
            ns
            for kind in ("Service", "Pod", "EndpointSlice", "Deployment")
            for ns in (object_key(o)[0] for o in store.list(kind, None)[0])
        }
        for name in sorted(set(SYSTEM_NAMESPACES) | used):
            if store.get("Namespace", "", name) is None:
                store.apply(
                    _prepare_namespace(
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
                    )
                )

    store.locked(create)


def _prepare_namespace(ns: Obj) -> Obj:
    """Namespace create strategy: phase Active, the ``kubernetes`` finalizer, the name label."""
    name = ns["metadata"].get("name", "")
    ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    ns["spec"] = {"finalizers": ["kubernetes"]}
    ns["status"] = {"phase": "Active"}
    return ns


def negotiate(accept: str) -> str:
    """``json``, or the Table group-version (``v1``/``v1beta1``) when the client prefers a Table.

    >>> negotiate("application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    'v1'
    >>> negotiate("application/json, */*")
    'json'
    >>> negotiate("application/vnd.kubernetes.protobuf")
    Traceback (most recent call last):
    ...
    svclab.sandbox.status.ApiError: only application/json is served (optionally as=Table;g=meta.k8s.io;v=v1)
    """
    if not accept.strip():
        return "json"
    for media in accept.split(","):
        media_type, *raw = (part.strip() for part in media.split(";"))
        params = dict(p.split("=", 1) for p in raw if "=" in p)
        if media_type not in ("application/json", "application/*", "*/*"):
            continue
        if (
            params.get("as") == "Table"
            and params.get("g") == "meta.k8s.io"
            and params.get("v") in ("v1", "v1beta1")
        ):
            return params["v"]
        if "as" not in params:
            return "json"
    raise status.not_acceptable(
        "only application/json is served (optionally as=Table;g=meta.k8s.io;v=v1)"
    )


class Api:
    """Answers Kubernetes API requests from a `Store`."""

    def __init__(
        self,
        store: Store,
        *,
        stopping: threading.Event,
        server_address: str = "127.0.0.1",
        max_watch_seconds: float = 1800.0,
        bookmark_interval: float = 60.0,
    ) -> None:
        self.store = store
        self.stopping = stopping
        self.server_address = server_address
        self.max_watch_seconds = max_watch_seconds
        self.bookmark_interval = bookmark_interval

    def handle(self, request: Request) -> Response:
        """Answer one request; every failure becomes a `Status`, never an exception."""
        try:
            return self._route(request)
        except ApiError as error:
            return Response(error.code, error.status())
        except Exception as error:  # a sandbox bug: report it as the API server would, log it here
            log.exception("internal error on %s %s", request.method, request.path)
            return Response(500, status.internal(error).status())

    # --- routing ---------------------------------------------------------------------------

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        document = self._non_resource(parts)
        if document is not None:
            if request.method != "GET":
                raise status.method_not_allowed_here()
            negotiate(request.headers.get("accept", ""))
            return Response(200, document)
        target = self._target(parts)
        verb = self._verb(request, target)
        if verb not in target.resource.verbs:
            raise status.method_not_allowed(target.resource.plural, target.resource.group, verb)
        handler: Callable[[Target, Request], Response] = getattr(self, f"_{verb}")
        return handler(target, request)

    def _non_resource(self, parts: list[str]) -> Obj | None:
        path = "/".join(parts)
        if path == "version":
            return resources.version_info()
        if path == "api":
            return resources.api_versions(self.server_address)
        if path == "apis":
            return resources.api_group_list()
        if len(parts) == 2 and parts[0] == "api":
            return _found(resources.resource_list("", parts[1]))
        if len(parts) == 2 and parts[0] == "apis":
            return _found(resources.api_group(parts[1]))
        if len(parts) == 3 and parts[0] == "apis":
            return _found(resources.resource_list(parts[1], parts[2]))
        if path == "openapi/v3":
            return openapi.openapi_root()
        if parts[:2] == ["openapi", "v3"]:
            document = openapi.group_version_document("/".join(parts[2:]))
            return _found(document if document["paths"] else None)
        if parts[:1] == ["openapi"]:
            raise status.resource_not_found()  # no v2: kubectl is content with v3
        return None

    def _target(self, parts: list[str]) -> Target:
        if len(parts) >= 3 and parts[0] == "api":
            group, version, rest = "", parts[1], parts[2:]
        elif len(parts) >= 4 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise status.resource_not_found()
        namespace = None
        nested = RESOURCES_BY_PATH.get((group, version, rest[2])) if len(rest) >= 3 else None
        if rest[0] == "namespaces" and nested is not None and nested.namespaced:
            namespace, rest = rest[1], rest[2:]
        resource = RESOURCES_BY_PATH.get((group, version, rest[0]))
        if resource is None or len(rest) > 2:  # no subresources (status, scale, log …) are served
            raise status.resource_not_found()
        return Target(resource, namespace, rest[1] if len(rest) == 2 else None)

    def _verb(self, request: Request, target: Target) -> str:
        watching = request.query.get("watch") in ("true", "1")
        on_item = target.name is not None
        cluster_wide = target.resource.namespaced and target.namespace is None
        verbs = {
            ("GET", False): "watch" if watching else "list",
            ("GET", True): "watch" if watching else "get",
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
            ("DELETE", False): "deletecollection",
        }
        verb = verbs.get((request.method, on_item))
        if verb is None or (cluster_wide and verb not in ("list", "watch")):
            raise status.method_not_allowed_here()
        return verb

    # --- reading ---------------------------------------------------------------------------

    def _matcher(self, target: Target, query: dict[str, str]) -> Callable[[Obj], bool]:
        labels = parse_label_selector(query.get("labelSelector", ""))
        terms = parse_field_selector(query.get("fieldSelector", ""))
        for term in terms:
            if field_value(target.resource, {}, term.field) is None:
                raise field_selector_error(term.field)
        name = target.name

        def matches(obj: Obj) -> bool:
            meta = obj.get("metadata") or {}
            return (
                (name is None or meta.get("name") == name)
                and (target.namespace is None or meta.get("namespace") == target.namespace)
                and labels(meta.get("labels") or {})
                and all(t.matches(field_value(target.resource, obj, t.field) or "") for t in terms)
            )

        return matches

    def _present(
        self, target: Target, request: Request, objects: list[Obj], rv: int, *, single: bool
    ) -> Response:
        table_version = negotiate(request.headers.get("accept", ""))
        kind = target.resource.kind
        if table_version != "json":
            include = request.query.get("includeObject", "Metadata")
            if include not in ("None", "Metadata", "Object"):
                raise status.bad_request(f'unrecognized includeObject value: "{include}"')
            body = tables.table(
                kind, objects, self.store.now(), resource_version=str(rv), include_object=include
            )
            body["apiVersion"] = f"meta.k8s.io/{table_version}"
            return Response(200, body, f"application/json;as=Table;v={table_version};g=meta.k8s.io")
        if single:
            return Response(200, objects[0])
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in objects]
        return Response(
            200,
            {
                "kind": f"{kind}List",
                "apiVersion": target.resource.api_version,
                "metadata": {"resourceVersion": str(rv)},
                "items": items,
            },
        )

    def _get(self, target: Target, request: Request) -> Response:
        resource = target.resource
        obj = self.store.get(resource.kind, target.namespace or "", target.name or "")
        if obj is None:
            raise status.not_found(resource.plural, resource.group, target.name or "")
        return self._present(
            target, request, [obj], int(obj["metadata"]["resourceVersion"]), single=True
        )

    def _list(self, target: Target, request: Request) -> Response:
        query = request.query
        matches = self._matcher(target, query)
        if query.get("continue"):
            raise status.bad_request(
                "continue key is not valid: the sandbox returns whole lists and issues no continue tokens"
            )
        asked, exact = _list_resource_version(query)
        objects, current = self.store.list(target.resource.kind, target.namespace)
        if asked > current:
            raise status.too_large_resource_version(asked, current)
        if exact and asked != current:
            raise status.expired(f"too old resource version: {asked} ({current})")
        return self._present(
            target, request, [o for o in objects if matches(o)], current, single=False
        )

    def _watch(self, target: Target, request: Request) -> Response:
        query = request.query
        matches = self._matcher(target, query)
        table_version = negotiate(request.headers.get("accept", ""))
        include = query.get("includeObject", "Metadata")
        timeout = min(
            _number(query, "timeoutSeconds", self.max_watch_seconds), self.max_watch_seconds
        )
        bookmarks = query.get("allowWatchBookmarks") == "true"
        rv_text = query.get("resourceVersion", "")
        send_initial = _send_initial_events(query, rv_text, bookmarks)
        asked = _parse_rv(rv_text) if rv_text else None

        def begin() -> tuple[list[Obj], int, int]:
            objects, current = self.store.list(target.resource.kind, target.namespace)
            return (
                [o for o in objects if matches(o)] if send_initial else [],
                current,
                self.store.position(),
            )

        initial, current, now = self.store.locked(begin)

        def encode(event_type: str, obj: Obj, first: bool) -> Obj:
            if table_version == "json" or event_type in ("ERROR", "BOOKMARK"):
                return {"type": event_type, "object": obj}
            rows = tables.table(
                target.resource.kind,
                [obj],
                self.store.now(),
                include_object=include,
                resource_version=obj["metadata"].get("resourceVersion", ""),
                headers=first,
            )
            rows["apiVersion"] = f"meta.k8s.io/{table_version}"
            return {"type": event_type, "object": rows}

        def stream() -> Iterator[Obj | None]:
            first = True
            for obj in initial:
                yield encode("ADDED", obj, first)
                first = False
            if send_initial and bookmarks:
                yield encode("BOOKMARK", self._bookmark(target, current, initial_end=True), first)
            start, start_rv = now, current
            if not send_initial and asked is not None:
                # Errors past this point are ERROR events, as the watch cache reports them.
                if asked > current:
                    yield encode(
                        "ERROR", status.too_large_resource_version(asked, current).status(), first
                    )
                    return
                try:
                    start, start_rv = self.store.position(asked), asked
                except ApiError as error:
                    yield encode("ERROR", error.status(), first)
                    return
            for change in self._changes(
                target, matches, start, start_rv, time.monotonic() + timeout, bookmarks
            ):
                if change is None:
                    yield None
                    continue
                yield encode(*change, first)
                first = first and change[0] in ("BOOKMARK", "ERROR")

        content_type = (
            "application/json"
            if table_version == "json"
            else f"application/json;as=Table;v={table_version};g=meta.k8s.io"
        )
        return Response(200, None, content_type, events=stream())

    def _changes(
        self,
        target: Target,
        matches: Callable[[Obj], bool],
        seq: int,
        rv: int,
        deadline: float,
        bookmarks: bool,
    ) -> Iterator[tuple[str, Obj] | None]:
        """Events after history position `seq` as this watcher sees them, until the deadline or
        shutdown; None after each quiet second, so the HTTP layer can notice a client that left."""
        last_sent = time.monotonic()
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                events = self.store.events_after(seq)
            except ApiError as error:
                yield "ERROR", error.status()
                return
            for event in events:
                seq, rv = event.seq, event.rv
                seen = _as_seen(event, target.resource.kind, matches)
                if seen is not None:
                    last_sent = time.monotonic()
                    yield seen
            if bookmarks and time.monotonic() - last_sent >= self.bookmark_interval:
                last_sent = time.monotonic()
                yield "BOOKMARK", self._bookmark(target, rv)
            remaining = deadline - time.monotonic()
            self.store.wait(seq, timeout=max(min(remaining, 1.0), 0.0), stop=self.stopping.is_set)
            yield None

    def _bookmark(self, target: Target, rv: int, *, initial_end: bool = False) -> Obj:
        """A BOOKMARK object: only kind, apiVersion and the resourceVersion reached."""
        meta: Obj = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {INITIAL_EVENTS_END: "true"}
        return {
            "kind": target.resource.kind,
            "apiVersion": target.resource.api_version,
            "metadata": meta,
        }

    # --- writing ---------------------------------------------------------------------------

    def _decode(self, target: Target, request: Request) -> tuple[Obj, list[tuple[str, str]]]:
        """The request body as an object of the target's kind, and any field-validation warnings."""
        resource = target.resource
        content_type = (
            request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        )
        if content_type not in BODY_TYPES:
            raise status.unsupported_media_type(content_type, BODY_TYPES)
        body = _parse_body(request.body, content_type)
        if not isinstance(body, dict):
            raise status.bad_request("the request body must be a single object")
        version, kind = (
            body.setdefault("apiVersion", resource.api_version),
            body.setdefault("kind", resource.kind),
        )
        if version != resource.api_version:
            raise status.bad_request(
                f"the API version in the data ({version}) does not match the expected API version ({resource.api_version})"
            )
        if kind != resource.kind:
            raise status.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )
        if not isinstance(body.setdefault("metadata", {}), dict):
            raise status.bad_request("metadata must be an object")
        if request.query.get("dryRun"):
            raise status.bad_request("dryRun is not supported by the svclab sandbox")
        return body, self._field_validation(resource, body, request.query)

    def _field_validation(
        self, resource: Resource, body: Obj, query: dict[str, str]
    ) -> list[tuple[str, str]]:
        mode = query.get("fieldValidation", "Warn")
        if mode not in ("Ignore", "Warn", "Strict"):
            raise status.bad_request(
                f'fieldValidation must be one of "Ignore", "Warn" or "Strict", not "{mode}"'
            )
        unknown = (
            []
            if mode == "Ignore"
            else unknown_fields(KINDS[(resource.api_version, resource.kind)], body)
        )
        if unknown and mode == "Strict":
            raise status.bad_request(
                strict_error_message(resource.kind, resource.api_version, unknown)
            )
        return [("Warning", f'299 - "unknown field \\"{f}\\""') for f in unknown]

    def _check_namespace(self, target: Target, body: Obj) -> None:
        meta = body["metadata"]
        if not target.resource.namespaced:
            return
        if meta.get("namespace") and meta["namespace"] != target.namespace:
            raise status.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = target.namespace
        if self.store.get("Namespace", "", target.namespace or "") is None:
            raise status.not_found("namespaces", "", target.namespace or "")

    def _store_apply(self, target: Target, obj: Obj) -> Obj:
        resource = target.resource
        try:
            return self.store.apply(obj)
        except ManifestError as error:
            name = (obj.get("metadata") or {}).get("name") or ""
            if not error.field and error.rule.startswith("Internal error"):
                raise ApiError(500, "InternalError", error.rule) from None
            raise status.invalid(resource.kind, resource.group, name, error) from None

    def _create(self, target: Target, request: Request) -> Response:
        resource = target.resource
        body, warnings = self._decode(target, request)
        meta = body["metadata"]
        if meta.get("resourceVersion"):
            raise status.bad_request("resourceVersion should not be set on objects to be created")
        for server_set in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
            meta.pop(server_set, None)
        body.pop("status", None)  # the create strategies reset status
        if resource.kind == "Namespace":
            _prepare_namespace(body)

        def create() -> Obj:
            self._check_namespace(target, body)
            name = meta.get("name")
            if name and self.store.get(resource.kind, target.namespace or "", name) is not None:
                raise status.already_exists(resource.plural, resource.group, name)
            return self._store_apply(target, body)

        return Response(201, self.store.locked(create), headers=warnings)

    def _update(self, target: Target, request: Request) -> Response:
        body, warnings = self._decode(target, request)
        return Response(
            200, self.store.locked(lambda: self._replace(target, body)), headers=warnings
        )

    def _patch(self, target: Target, request: Request) -> Response:
        resource = target.resource
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        patcher = PATCH_TYPES.get(content_type)
        if patcher is None:  # includes server-side apply (application/apply-patch+yaml)
            raise status.unsupported_media_type(content_type, tuple(PATCH_TYPES))
        patch = _parse_body(request.body, "application/json")

        def apply_patch() -> tuple[Obj, list[tuple[str, str]]]:
            current = self._current(target)
            patched = patcher(current, patch, resource.kind)
            if not isinstance(patched, dict):
                raise ApiError(422, "Invalid", "the patch did not result in an object")
            patched["apiVersion"], patched["kind"] = resource.api_version, resource.kind
            if not isinstance(patched.setdefault("metadata", {}), dict):
                raise status.bad_request("metadata must be an object")
            warnings = self._field_validation(resource, patched, request.query)
            return self._replace(target, patched), warnings

        obj, warnings = self.store.locked(apply_patch)
        return Response(200, obj, headers=warnings)

    def _current(self, target: Target) -> Obj:
        resource = target.resource
        current = self.store.get(resource.kind, target.namespace or "", target.name or "")
        if current is None:
            raise status.not_found(resource.plural, resource.group, target.name or "")
        return current

    def _replace(self, target: Target, new: Obj) -> Obj:
        """Update semantics shared by PUT and PATCH (called holding the store lock)."""
        resource, meta = target.resource, new["metadata"]
        if meta.get("name") != target.name:
            raise status.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({target.name})"
            )
        self._check_namespace(target, new)
        current = self._current(target)
        current_rv = current["metadata"]["resourceVersion"]
        if meta.get("resourceVersion") and meta["resourceVersion"] != current_rv:
            raise status.conflict(
                resource.plural,
                resource.group,
                target.name or "",
                "the object has been modified; please apply your changes to the latest version and try again",
            )
        new = {k: v for k, v in new.items() if k != "status"}
        if "status" in current:  # the main resource cannot change status (update strategies)
            new["status"] = current["status"]
        if resource.kind == "Pod" and _pod_spec(new) != current.get("spec"):
            raise status.invalid(
                "Pod",
                "",
                target.name or "",
                ManifestError(
                    "<api>",
                    "",
                    "spec",
                    "Forbidden: pod updates may not change fields other than metadata "
                    "labels and annotations in the svclab sandbox (the API server also allows image, "
                    "activeDeadlineSeconds, tolerations and terminationGracePeriodSeconds changes)",
                ),
            )
        return self._store_apply(target, new)

    def _delete(self, target: Target, request: Request) -> Response:
        resource = target.resource
        options = _parse_body(request.body, "application/json") if request.body.strip() else {}
        if not isinstance(options, dict):
            raise status.bad_request("DeleteOptions must be an object")
        if request.query.get("dryRun") or options.get("dryRun"):
            raise status.bad_request("dryRun is not supported by the svclab sandbox")
        preconditions = options.get("preconditions") or {}

        def delete() -> Obj:
            current = self._current(target)
            for key in ("uid", "resourceVersion"):
                wanted, actual = preconditions.get(key), current["metadata"].get(key)
                if wanted and wanted != actual:
                    label = "UID" if key == "uid" else "ResourceVersion"
                    raise status.conflict(
                        resource.plural,
                        resource.group,
                        target.name or "",
                        f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: {actual}",
                    )
            return self.store.delete(resource.kind, target.namespace or "", target.name or "")

        deleted = self.store.locked(delete)
        if resource.returns_deleted_object:
            return Response(200, deleted)
        details = {
            "name": target.name,
            "group": resource.group,
            "kind": resource.plural,
            "uid": deleted.get("metadata", {}).get("uid"),
        }
        return Response(
            200,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": {k: v for k, v in details.items() if v},
            },
        )


def _found(document: Obj | None) -> Obj:
    if document is None:
        raise status.resource_not_found()
    return document


def _number(query: dict[str, str], name: str, default: float) -> float:
    try:
        return float(query[name]) if name in query else default
    except ValueError:
        raise status.bad_request(f"{name}: invalid value {query[name]!r}") from None


def _parse_rv(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ApiError(
            400,
            "BadRequest",
            f'resourceVersion: Invalid value: "{text}": must be a non-negative integer',
        )
    return value


def _list_resource_version(query: dict[str, str]) -> tuple[int, bool]:
    """(the version asked for, whether it must match exactly) from ``resourceVersion(Match)``."""
    text, match = query.get("resourceVersion", ""), query.get("resourceVersionMatch", "")
    if match and not text:
        raise status.bad_request(
            "resourceVersionMatch is forbidden unless resourceVersion is provided"
        )
    if match not in ("", "NotOlderThan", "Exact"):
        raise status.bad_request(f'resourceVersionMatch: Unsupported value: "{match}"')
    asked = _parse_rv(text) if text else 0
    if match == "Exact" and asked == 0:
        raise status.bad_request(
            'resourceVersionMatch "Exact" is forbidden for resourceVersion "0"'
        )
    return asked, match == "Exact"


def _send_initial_events(query: dict[str, str], rv_text: str, bookmarks: bool) -> bool:
    """Whether a watch starts with the current objects as ADDED events (``sendInitialEvents``,
    or the legacy rule: no resourceVersion or ``0``)."""
    asked = query.get("sendInitialEvents")
    if asked is None:
        return rv_text in ("", "0")
    if query.get("resourceVersionMatch") != "NotOlderThan" or not bookmarks:
        raise status.bad_request(
            "sendInitialEvents requires resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true"
        )
    return asked == "true"


def _as_seen(
    event: WatchEvent, kind: str, matches: Callable[[Obj], bool]
) -> tuple[str, Obj] | None:
    """The event as a filtered watch reports it: an object leaving the selection is DELETED
    (its last matching state, at the event's version), one entering it is ADDED
    (cacheWatcher.convertToWatchEvent)."""
    if event.kind != kind:
        return None
    if event.type == "DELETED":
        return ("DELETED", event.obj) if matches(event.obj) else None
    now_in = matches(event.obj)
    was_in = event.previous is not None and matches(event.previous)
    if now_in:
        return ("MODIFIED" if was_in else "ADDED"), event.obj
    if was_in and event.previous is not None:
        gone = json.loads(json.dumps(event.previous))
        gone["metadata"]["resourceVersion"] = str(event.rv)
        return "DELETED", gone
    return None


def _parse_body(raw: bytes, content_type: str) -> Any:
    try:
        if content_type == "application/yaml":
            return yaml.safe_load(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None


def _pod_spec(pod: Obj) -> Obj | None:
    """The Pod's spec after defaulting, for comparison with the stored one."""
    try:
        obj = build_object(k8s.V1Pod, pod)
    except ManifestError:
        return pod.get("spec")
    return apply_defaults(obj).model_dump(mode="json", by_alias=True, exclude_none=True).get("spec")
