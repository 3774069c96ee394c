"""Server-side printing: the ``meta.k8s.io/v1`` ``Table`` that ``kubectl get`` asks for.

Columns and cells follow kubernetes ``pkg/printers/internalversion/printers.go`` (printService,
printPod, printEndpointSlice, printNode, printNamespace, printDeployment); like the API server,
every column is filled (the wide ones too) and kubectl hides priority-1 columns unless ``-o wide``.

>>> svc = {"metadata": {"name": "web", "creationTimestamp": "2025-01-01T00:00:00Z"},
...        "spec": {"type": "NodePort", "clusterIPs": ["10.96.0.10"], "selector": {"app": "web"},
...                 "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}}
>>> row_cells("Service", svc, now=parse_time("2025-01-01T00:03:30Z"))
['web', 'NodePort', '10.96.0.10', '<none>', '80:30080/TCP', '3m30s', 'app=web']
>>> eps = {"metadata": {"name": "web-abc"}, "addressType": "IPv4", "ports": [{"port": 8080}],
...        "endpoints": [{"addresses": [f"10.0.0.{i}"]} for i in range(5)]}
>>> row_cells("EndpointSlice", eps, now=0)[1:4]
['IPv4', '8080', '10.0.0.0,10.0.0.1,10.0.0.2 + 2 more...']
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


def _column(
    name: str, description: str, priority: int = 0, kind: str = "string", form: str = ""
) -> Obj:
    return {
        "name": name,
        "type": kind,
        "format": form,
        "description": description,
        "priority": priority,
    }


_NAME = _column("Name", "Name of the object.", form="name")
_AGE = _column("Age", "Time since the object was created.")


COLUMNS: dict[str, list[Obj]] = {
    "Service": [
        _NAME,
        _column("Type", "Service type."),
        _column("Cluster-IP", "The virtual IP."),
        _column("External-IP", "External IPs or load-balancer ingress."),
        _column("Port(s)", "Service ports."),
        _AGE,
        _column("Selector", "Pod selector.", 1),
    ],
    "Pod": [
        _NAME,
        _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _column("Status", "The aggregate status of the containers in this pod."),
        _column("Restarts", "The number of times the containers in this pod have been restarted."),
        _AGE,
        _column("IP", "The Pod's IP.", 1),
        _column("Node", "The node it runs on.", 1),
        _column("Nominated Node", "Node nominated by preemption.", 1),
        _column("Readiness Gates", "Readiness gates that are true.", 1),
    ],
    "EndpointSlice": [
        _NAME,
        _column("AddressType", "Address type."),
        _column("Ports", "Endpoint ports."),
        _column("Endpoints", "Endpoint addresses."),
        _AGE,
    ],
    "Namespace": [_NAME, _column("Status", "The status of the namespace"), _AGE],
    "Node": [
        _NAME,
        _column("Status", "The status of the node"),
        _column("Roles", "The roles of the node"),
        _AGE,
        _column("Version", "Kubelet version."),
        _column("Internal-IP", "Internal address.", 1),
        _column("External-IP", "External address.", 1),
        _column("OS-Image", "OS image.", 1),
        _column("Kernel-Version", "Kernel version.", 1),
        _column("Container-Runtime", "Container runtime.", 1),
    ],
    "Deployment": [
        _NAME,
        _column("Ready", "Number of ready pods out of desired."),
        _column("Up-to-date", "Pods updated to the latest template.", kind="integer"),
        _column("Available", "Available pods.", kind="integer"),
        _AGE,
        _column("Containers", "Names of each container in the template.", 1),
        _column("Images", "Images referenced by each container in the template.", 1),
        _column("Selector", "Label selector for pods.", 1),
    ],
}


def parse_time(text: str | None) -> float | None:
    """An RFC 3339 timestamp as seconds since the epoch.

    >>> parse_time("1970-01-01T00:01:00Z")
    60.0
    """
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration``: about 2-3 significant figures.

    >>> [human_duration(s) for s in (-5, 5, 119, 150, 600, 4 * 3600 + 60, 3 * 86400 + 3600, 800 * 86400)]
    ['<invalid>', '5s', '119s', '2m30s', '10m', '4h1m', '3d1h', '2y70d']
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def _age(obj: Obj, now: float) -> str:
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration(now - created)


def _format_labels(labels: dict[str, str] | None) -> str:
    """``labels.FormatLabels``: sorted ``k=v`` pairs, ``<none>`` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def _format_label_selector(selector: Obj | None) -> str:
    """``metav1.FormatLabelSelector`` for matchLabels and matchExpressions."""
    selector = selector or {}
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key, op, values = (
            expression.get("key"),
            expression.get("operator"),
            expression.get("values") or [],
        )
        if op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
        else:
            parts.append(f"{key} {op.lower()} ({','.join(sorted(values))})")
    return ",".join(parts) or "<none>"


def _with_more(items: list[str], limit: int = 3) -> str:
    """``listWithMoreString``: the first three, then `` + N more...``; ``<unset>`` when empty."""
    shown = ",".join(items[:limit])
    if len(items) > limit:
        return f"{shown} + {len(items) - limit} more..."
    return shown or "<unset>"


def _service_cells(svc: Obj, now: float) -> list[Any]:
    spec = svc.get("spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    ports = ",".join(
        f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}"
        if p.get("nodePort")
        else f"{p.get('port')}/{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    return [
        svc["metadata"]["name"],
        svc_type,
        (spec.get("clusterIPs") or ["<none>"])[0],
        _external_ip(svc, svc_type),
        ports or "<none>",
        _age(svc, now),
        _format_labels(spec.get("selector")),
    ]


def _external_ip(svc: Obj, svc_type: str) -> str:
    """``getServiceExternalIP`` with wide output (no truncation)."""
    spec = svc.get("spec") or {}
    external = list(spec.get("externalIPs") or [])
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if svc_type == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        addresses = [
            i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")
        ]
        return ",".join(addresses + external) or "<pending>"
    if svc_type == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


def _pod_cells(pod: Obj, now: float) -> list[Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or ""
    ready = restarts = 0
    for container in reversed(status.get("containerStatuses") or []):
        restarts += container.get("restartCount", 0)
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated")
        if waiting.get("reason"):
            reason = waiting["reason"]
        elif terminated is not None:
            reason = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
        elif container.get("ready") and "running" in state:
            ready += 1
    if (pod.get("metadata") or {}).get("deletionTimestamp") and status.get("phase") not in (
        "Succeeded",
        "Failed",
    ):
        reason = "Terminating"
    gates = spec.get("readinessGates") or []
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    gates_cell = (
        f"{sum(conditions.get(g.get('conditionType')) == 'True' for g in gates)}/{len(gates)}"
        if gates
        else "<none>"
    )
    pod_ips = status.get("podIPs") or []
    return [
        pod["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        str(restarts),
        _age(pod, now),
        (pod_ips[0].get("ip") if pod_ips else None) or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]


def _endpoint_slice_cells(eps: Obj, now: float) -> list[Any]:
    ports = [
        str(p["port"]) if p.get("port") is not None else p.get("name") or "*"
        for p in eps.get("ports") or []
    ]
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        eps["metadata"]["name"],
        eps.get("addressType", ""),
        _with_more(ports),
        _with_more(addresses),
        _age(eps, now),
    ]


def _namespace_cells(ns: Obj, now: float) -> list[Any]:
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", ""), _age(ns, now)]


def _node_cells(node: Obj, now: float) -> list[Any]:
    status, info = node.get("status") or {}, (node.get("status") or {}).get("nodeInfo") or {}
    ready = next(
        (c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None
    )
    state = {"True": "Ready", "False": "NotReady"}.get(ready or "", "Unknown")
    if (node.get("spec") or {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = (node.get("metadata") or {}).get("labels") or {}
    roles = sorted(
        {
            k.removeprefix("node-role.kubernetes.io/")
            for k in labels
            if k.startswith("node-role.kubernetes.io/")
        }
        | ({labels["kubernetes.io/role"]} if labels.get("kubernetes.io/role") else set())
    )
    addresses = status.get("addresses") or []

    def address(kind: str) -> str:
        return (
            next((a.get("address") for a in addresses if a.get("type") == kind), None) or "<none>"
        )

    return [
        node["metadata"]["name"],
        state,
        ",".join(r for r in roles if r) or "<none>",
        _age(node, now),
        info.get("kubeletVersion", ""),
        address("InternalIP"),
        address("ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]


def _deployment_cells(deploy: Obj, now: float) -> list[Any]:
    spec, status = deploy.get("spec") or {}, deploy.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    desired = spec.get("replicas", 1)
    return [
        deploy["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{desired}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _age(deploy, now),
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
        _format_label_selector(spec.get("selector")),
    ]


_CELLS: dict[str, Callable[[Obj, float], list[Any]]] = {
    "Service": _service_cells,
    "Pod": _pod_cells,
    "EndpointSlice": _endpoint_slice_cells,
    "Namespace": _namespace_cells,
    "Node": _node_cells,
    "Deployment": _deployment_cells,
}


def row_cells(kind: str, obj: Obj, now: float) -> list[Any]:
    """The cells of one object's row; `now` (seconds since the epoch) dates the Age column."""
    return _CELLS[kind](obj, now)


def _row_object(obj: Obj, include: str) -> Obj | None:
    if include == "Object":
        return obj
    if include == "None":
        return None
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata", {}),
    }


def table(
    kind: str,
    objects: list[Obj],
    now: float,
    *,
    resource_version: str,
    include_object: str = "Metadata",
    headers: bool = True,
) -> Obj:
    """A ``Table`` of `objects`; `include_object` is the ``includeObject`` parameter
    (``None``, ``Metadata`` — the default — or ``Object``), `headers` False drops the column
    definitions as the API server does after a watch's first event.

    >>> t = table("Namespace", [{"metadata": {"name": "default"}, "status": {"phase": "Active"}}], 0,
    ...           resource_version="7")
    >>> [c["name"] for c in t["columnDefinitions"]], t["rows"][0]["cells"]
    (['Name', 'Status', 'Age'], ['default', 'Active', '<unknown>'])
    >>> t["rows"][0]["object"]["kind"]
    'PartialObjectMetadata'
    """
    rows = []
    for obj in objects:
        row: Obj = {"cells": row_cells(kind, obj, now)}
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": COLUMNS[kind] if headers else [],
        "rows": rows,
    }
