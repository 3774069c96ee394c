"""The resources the sandbox serves and the discovery documents that describe them.

Discovery follows the legacy (non-aggregated) documents of the API server: ``/api`` is an
``APIVersions``, ``/apis`` an ``APIGroupList``, ``/api/v1`` and ``/apis/<group>/<version>`` are
``APIResourceList`` objects. Clients asking for aggregated discovery get these and fall back.

>>> RESOURCES_BY_PATH[("", "v1", "services")].kind
'Service'
>>> [r["name"] for r in resource_list("apps", "v1")["resources"]]
['deployments']
>>> field_value(by_kind("Pod"), {"spec": {"nodeName": "n1"}}, "spec.nodeName")
'n1'
>>> field_value(by_kind("Pod"), {"spec": {}}, "spec.hostNetwork")
'false'
>>> field_value(by_kind("Node"), {"metadata": {"name": "n1"}}, "metadata.namespace") is None
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from svclab import KUBERNETES_VERSION

Obj = dict[str, Any]

READ_VERBS = ("get", "list", "watch")
WRITE_VERBS = ("create", "delete", "patch", "update")


def _get(obj: Obj, path: str) -> Any:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _text(path: str, default: str = "") -> Callable[[Obj], str]:
    def read(obj: Obj) -> str:
        value = _get(obj, path)
        if isinstance(value, bool):
            return "true" if value else "false"
        return default if value is None else str(value)

    return read


def _first_pod_ip(obj: Obj) -> str:
    # PodToSelectableFields uses status.podIPs[0], not status.podIP.
    ips = _get(obj, "status.podIPs") or []
    return ips[0].get("ip", "") if ips else ""


@dataclass(frozen=True)
class Resource:
    """One served resource: where it lives, what it is called, what can be done to it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = READ_VERBS
    # Selectable fields besides metadata.name (and metadata.namespace when namespaced).
    fields: dict[str, Callable[[Obj], str]] = field(default_factory=dict, hash=False, compare=False)
    categories: tuple[str, ...] = ()
    # DELETE answers with the object (pods, services) rather than a Status (the registries'
    # ReturnDeletedObject).
    returns_deleted_object: bool = False

    @property
    def api_version(self) -> str:
        """``v1`` or ``group/version``."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """The lower-case kind, as discovery lists it."""
        return self.kind.lower()

    def discovery_entry(self) -> Obj:
        """This resource's entry in an ``APIResourceList``."""
        entry: Obj = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": sorted(self.verbs),
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        return entry


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        verbs=(*READ_VERBS, "create"),
        fields={"status.phase": _text("status.phase")},
    ),
    Resource(
        "",
        "v1",
        "nodes",
        "Node",
        namespaced=False,
        short_names=("no",),
        fields={"spec.unschedulable": _text("spec.unschedulable", "false")},
    ),
    Resource(
        "",
        "v1",
        "pods",
        "Pod",
        namespaced=True,
        short_names=("po",),
        verbs=READ_VERBS + WRITE_VERBS,
        fields={
            "spec.nodeName": _text("spec.nodeName"),
            "spec.restartPolicy": _text("spec.restartPolicy"),
            "spec.schedulerName": _text("spec.schedulerName"),
            "spec.serviceAccountName": _text("spec.serviceAccountName"),
            "spec.hostNetwork": _text("spec.hostNetwork", "false"),
            "status.phase": _text("status.phase"),
            "status.podIP": _first_pod_ip,
            "status.nominatedNodeName": _text("status.nominatedNodeName"),
        },
        categories=("all",),
        returns_deleted_object=True,
    ),
    Resource(
        "",
        "v1",
        "services",
        "Service",
        namespaced=True,
        short_names=("svc",),
        verbs=READ_VERBS + WRITE_VERBS,
        fields={"spec.clusterIP": _text("spec.clusterIP"), "spec.type": _text("spec.type")},
        categories=("all",),
        returns_deleted_object=True,
    ),
    Resource(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        namespaced=True,
        verbs=READ_VERBS + WRITE_VERBS,
    ),
    Resource(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        namespaced=True,
        short_names=("deploy",),
        verbs=READ_VERBS + WRITE_VERBS,
        categories=("all",),
    ),
)
"""Field sets from upstream ``GetAttrs``/``ToSelectableFields`` (pkg/registry/core/pod/strategy.go,
pkg/registry/core/service/strategy.go, node and namespace conversion funcs)."""

RESOURCES_BY_PATH = {(r.group, r.version, r.plural): r for r in RESOURCES}
GROUPS = ("discovery.k8s.io", "apps")


def by_kind(kind: str) -> Resource:
    """The resource serving a kind."""
    return next(r for r in RESOURCES if r.kind == kind)


def field_value(resource: Resource, obj: Obj, name: str) -> str | None:
    """The object's value for a selectable field, or None when the field is not selectable."""
    if name == "metadata.name":
        return _text("metadata.name")(obj)
    if name == "metadata.namespace" and resource.namespaced:
        return _text("metadata.namespace")(obj)
    reader = resource.fields.get(name)
    return reader(obj) if reader else None


def version_info() -> Obj:
    """``/version``: the Kubernetes release the sandbox imitates."""
    major, minor = KUBERNETES_VERSION.split(".")
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{KUBERNETES_VERSION}.0-svclab",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "svclab",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> Obj:
    """``/api``: the core group's versions."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str) -> Obj:
    version = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"name": name, "versions": [version], "preferredVersion": version}


def api_group_list() -> Obj:
    """``/apis``: every named group."""
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in GROUPS]}


def api_group(name: str) -> Obj | None:
    """``/apis/<group>``, or None for a group the sandbox does not serve."""
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)} if name in GROUPS else None


def resource_list(group: str, version: str) -> Obj | None:
    """``/api/v1`` or ``/apis/<group>/<version>``, or None when not served."""
    served = [r for r in RESOURCES if r.group == group and r.version == version]
    if not served:
        return None
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [r.discovery_entry() for r in served],
    }
