"""Experiment 5: traffic policies — what externalTrafficPolicy, internalTrafficPolicy and
trafficDistribution do to client IPs, hops, drops and the load per Pod.

One `ClusterState` holds a few Services in front of the same Pods, which sit unevenly on
the nodes (1/2/0 by default). Every node's kube-proxy rules are rendered from it
(`svclab.proxy.iptables.render` with that node's name, IP and zone) and connections are
drawn through those rules by `svclab.proxy.sampler.Sampler`, so masquerade, DNAT target
and DROP are what the rules say, not what this module assumes.

- External traffic comes through a cloud load balancer that spreads connections evenly
  over its target nodes. For ``externalTrafficPolicy: Local`` it keeps only the nodes whose
  ``healthCheckNodePort`` answers 200: kube-proxy's health server answers 503 on a node
  with no local ready endpoint (`pkg/proxy/healthcheck/service_health.go`, counting
  `EndpointsMap.LocalReadyEndpoints`). The ``ETP Local, no health check`` case shows what a
  balancer that ignores the check gets.
- Internal traffic comes from one client Pod per node, each opening the same number of
  connections to the ClusterIP.
- ``trafficDistribution: PreferClose`` works through EndpointSlice hints: the EndpointSlice
  controller gives every ready endpoint with a zone a hint for its own zone
  (`staging/src/k8s.io/endpointslice/trafficdist/trafficdist.go`, `preferCloseHeuristic`),
  and kube-proxy narrows each node's endpoints by them (`svclab.proxy.servicemap`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

import kubernetes.client as k8s
import numpy as np
from matplotlib.figure import Figure

from svclab.api.manifests import build_object
from svclab.api.state import SERVICE_NAME_LABEL, ClusterState
from svclab.cluster.trafficdist import hints_for
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import render
from svclab.proxy.packet import Packet
from svclab.proxy.sampler import EPHEMERAL_PORTS, Sampler
from svclab.proxy.servicemap import build_service_ports
from svclab.report.result import Result, say

NAME = "traffic-policy"
TITLE = {
    "en": "Traffic policies: where connections go, and what the Pod sees",
    "zh_CN": "流量策略：连接去向与 Pod 看到的客户端",
}
VIEWS = ("cases", "pods", "nodes")
"""``cases``: a row per policy case; ``pods``: a row per case and Pod (its share);
``nodes``: a row per node (its Pods, health check, whether the load balancer uses it)."""

CLUSTER_CIDR = "10.244.0.0/16"
PORT, TARGET_PORT = 80, 8080
HEALTH_CHECK_NODE_PORT = 32011
EXTERNAL_CLIENTS = 16
"""Distinct external client IPs (203.0.113.1 …): enough to see that each keeps its own."""


@dataclass(frozen=True)
class Case:
    """One way of reaching the Pods: a Service, from outside or from Pods, and its label."""

    label: dict[str, str]
    service: str
    external: bool
    health_checked: bool = False


CASES = {
    "ETP Cluster": Case(
        {"en": "ETP Cluster", "zh_CN": "ETP Cluster"}, "etp-cluster", external=True
    ),
    "ETP Local": Case(
        {"en": "ETP Local", "zh_CN": "ETP Local"}, "etp-local", external=True, health_checked=True
    ),
    "ETP Local, no health check": Case(
        {"en": "ETP Local, LB ignores health", "zh_CN": "ETP Local，LB 不做健康检查"},
        "etp-local",
        external=True,
    ),
    "ITP Cluster": Case({"en": "ITP Cluster", "zh_CN": "ITP Cluster"}, "etp-cluster", False),
    "ITP Local": Case({"en": "ITP Local", "zh_CN": "ITP Local"}, "itp-local", False),
    "PreferClose": Case({"en": "PreferClose", "zh_CN": "PreferClose"}, "prefer-close", False),
}
"""Case name → how it is reached (ITP Cluster is the ETP Cluster Service's own ClusterIP)."""

SERVICES = {
    # name: (type, ClusterIP, load-balancer IP, nodePort, extra spec)
    "etp-cluster": ("LoadBalancer", "10.96.0.10", "198.51.100.10", 30010, {}),
    "etp-local": (
        "LoadBalancer",
        "10.96.0.11",
        "198.51.100.11",
        30011,
        {"externalTrafficPolicy": "Local", "healthCheckNodePort": HEALTH_CHECK_NODE_PORT},
    ),
    "itp-local": ("ClusterIP", "10.96.0.12", None, None, {"internalTrafficPolicy": "Local"}),
    "prefer-close": ("ClusterIP", "10.96.0.13", None, None, {"trafficDistribution": "PreferClose"}),
}


@dataclass(frozen=True)
class Node:
    """A node: its number, zone and the backend Pod IPs it runs (from its Pod CIDR)."""

    number: int
    zone: str
    pods: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"node-{self.number}"

    @property
    def ip(self) -> str:
        return f"192.168.0.{self.number}"

    @property
    def client(self) -> str:
        """The IP of the client Pod this node runs (internal traffic starts there)."""
        return f"10.244.{self.number}.200"

    def config(self) -> ProxyConfig:
        """This node's kube-proxy flags."""
        return ProxyConfig(
            hostname_override=self.name,
            node_ips=[self.ip],
            cluster_cidr=CLUSTER_CIDR,
            node_zone=self.zone,
        )


class Made(NamedTuple):
    """One connection: the node it entered, the Pod it reached (None if refused), whether it
    was masqueraded, and the rules' verdict."""

    entry: Node
    pod: str | None
    masquerade: bool
    verdict: str


def layout(pods_per_node: tuple[int, ...], zones: tuple[str, ...]) -> list[Node]:
    """Nodes ``node-1`` … with `pods_per_node` backend Pods each, in `zones` (cycled).

    >>> [(n.name, n.zone, n.pods) for n in layout((1, 2, 0), ("zone-a", "zone-b"))]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('node-1', 'zone-a', ('10.244.1.10',)), ('node-2', 'zone-b', ('10.244.2.10', '10.244.2.11')),
     ('node-3', 'zone-a', ())]
    """
    if not pods_per_node or min(pods_per_node) < 0 or sum(pods_per_node) == 0:
        raise ValueError("pods_per_node needs at least one Pod and no negative counts")
    if len(pods_per_node) > 200 or max(pods_per_node) > 100:
        raise ValueError("at most 200 nodes and 100 Pods per node")
    return [
        Node(
            k,
            zones[(k - 1) % len(zones)],
            tuple(f"10.244.{k}.{10 + j}" for j in range(count)),
        )
        for k, count in enumerate(pods_per_node, start=1)
    ]


def prefer_close_hints(endpoint: dict) -> dict:
    """The endpoint as the EndpointSlice controller writes it for ``PreferClose``: a ready
    endpoint with a zone gets a hint for that zone (upstream `preferCloseHeuristic.update`).

    >>> prefer_close_hints({"addresses": ["10.0.0.1"], "zone": "z1", "conditions": {"ready": True}})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'addresses': ['10.0.0.1'], 'zone': 'z1', 'conditions': {'ready': True},
     'hints': {'forZones': [{'name': 'z1'}]}}
    """
    ready = endpoint.get("conditions", {}).get("ready")
    written = k8s.V1Endpoint(
        addresses=endpoint["addresses"],
        zone=endpoint.get("zone"),
        node_name=endpoint.get("nodeName"),
    )
    hints = hints_for(written, "PreferClose") if ready else None
    if hints is None:
        return endpoint
    return {**endpoint, "hints": {"forZones": [{"name": zone.name} for zone in hints.for_zones]}}


def cluster_state(nodes: list[Node]) -> ClusterState:
    """The Services of `SERVICES` and one EndpointSlice each, all over the same Pods."""
    endpoints = [
        {"addresses": [ip], "nodeName": node.name, "zone": node.zone, "conditions": {"ready": True}}
        for node in nodes
        for ip in node.pods
    ]
    state = ClusterState()
    for name, (kind, cluster_ip, lb_ip, node_port, extra) in SERVICES.items():
        port = {"name": "http", "port": PORT, "targetPort": TARGET_PORT, "protocol": "TCP"}
        if node_port:
            port["nodePort"] = node_port
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": kind, "clusterIP": cluster_ip, "ports": [port], **extra},
        }
        if lb_ip:
            service["status"] = {"loadBalancer": {"ingress": [{"ip": lb_ip}]}}
        hinted = extra.get("trafficDistribution") == "PreferClose"
        eps = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{name}-1",
                "namespace": "default",
                "labels": {SERVICE_NAME_LABEL: name},
            },
            "addressType": "IPv4",
            "endpoints": [prefer_close_hints(ep) if hinted else ep for ep in endpoints],
            "ports": [{"name": "http", "port": TARGET_PORT, "protocol": "TCP"}],
        }
        state.services.append(build_object(k8s.V1Service, service, NAME))
        state.endpoint_slices.append(build_object(k8s.V1EndpointSlice, eps, NAME))
    return state


def local_ready_endpoints(state: ClusterState, node: Node, service: str) -> int:
    """What `node`'s health check reports for `service`: its distinct local ready endpoint IPs.

    >>> nodes = layout((1, 2, 0), ("zone-a",))
    >>> [local_ready_endpoints(cluster_state(nodes), n, "etp-local") for n in nodes]
    [1, 2, 0]
    """
    return len(
        {
            ep.ip
            for port in build_service_ports(state, node.config())
            if port.service == service
            for ep in port.endpoints
            if ep.is_local and ep.ready
        }
    )


def run(
    *,
    seed: int = 0,
    pods_per_node: tuple[int, ...] = (1, 2, 0),
    zones: tuple[str, ...] = ("zone-a", "zone-b"),
    connections: int = 3000,
    view: str = "cases",
    progress=None,
) -> Result:
    """Send `connections` through each case's rules; one row per case (or per Pod, per node).

    Columns of the ``cases`` view: ``client_ip_kept_pct`` (delivered connections not
    masqueraded), ``extra_hop_pct`` (DNATed to a Pod on another node than the one they
    entered), ``same_zone_pct``, ``dropped_pct`` and the busiest and idlest Pod's share.

    >>> r = run(connections=600)
    >>> [(row["case"], row["client_ip_kept_pct"], row["extra_hop_pct"], row["dropped_pct"])
    ...  for row in r.rows]  # doctest: +NORMALIZE_WHITESPACE
    [('ETP Cluster', 0.0, 68.33, 0.0), ('ETP Local', 100.0, 0.0, 0.0),
     ('ETP Local, no health check', 100.0, 0.0, 33.33), ('ITP Cluster', 100.0, 64.17, 0.0),
     ('ITP Local', 100.0, 0.0, 33.33), ('PreferClose', 100.0, 33.33, 0.0)]
    >>> [(row["pod"], row["share_pct"]) for row in run(connections=600, view="pods").where(
    ...     case="ETP Local")]
    [('10.244.1.10', 50.0), ('10.244.2.10', 24.17), ('10.244.2.11', 25.83)]
    >>> [(row["node"], row["health_check"]) for row in run(connections=1, view="nodes").rows]
    [('node-1', 200), ('node-2', 200), ('node-3', 503)]
    """
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; choose from {', '.join(VIEWS)}")
    if connections < 1:
        raise ValueError("connections must be at least 1")
    nodes = layout(pods_per_node, zones)
    state = cluster_state(nodes)
    samplers = {
        node.name: Sampler.for_mode(
            "iptables", render(state, node.config()), node.config(), seed=seed + k
        )
        for k, node in enumerate(nodes)
    }
    healthy = [n for n in nodes if local_ready_endpoints(state, n, "etp-local") > 0]
    outcomes: dict[str, list[Made]] = {}
    for i, (name, case) in enumerate(CASES.items()):
        entries = healthy if case.health_checked else nodes
        outcomes[name] = _connect(case, entries, samplers, connections)
        if progress:
            progress((i + 1) / len(CASES))
    data = {"nodes": nodes, "outcomes": outcomes, "healthy": healthy}
    if view == "nodes":
        rows = [
            {
                "node": n.name,
                "zone": n.zone,
                "pods": len(n.pods),
                "local_endpoints": local_ready_endpoints(state, n, "etp-local"),
                "health_check": 200 if n in healthy else 503,
                "lb_target_etp_local": n in healthy,
            }
            for n in nodes
        ]
        return Result(NAME, rows, data, _draw)
    if view == "pods":
        rows = [row for name in CASES for row in _pod_rows(name, outcomes[name], nodes)]
        return Result(NAME, rows, data, _draw)
    return Result(NAME, [_row(name, outcomes[name], nodes) for name in CASES], data, _draw)


def _connect(
    case: Case, entries: list[Node], samplers: dict[str, Sampler], connections: int
) -> list[Made]:
    """What happened to each connection.

    The load balancer (or the set of client Pods) takes the entry nodes in turn, so each
    gets the same share; every connection has its own source port and closes at once.
    """
    service = SERVICES[case.service]
    dst = service[2] if case.external else service[1]
    made = []
    for i in range(connections):
        node = entries[i % len(entries)]
        src = f"203.0.113.{1 + i % EXTERNAL_CLIENTS}" if case.external else node.client
        packet = Packet(src, dst, PORT)
        sport = EPHEMERAL_PORTS[i % len(EPHEMERAL_PORTS)]
        outcome = samplers[node.name].connect(packet, sport)
        samplers[node.name].close(packet, sport)
        pod = outcome.destination.rpartition(":")[0] if outcome.destination else None
        made.append(Made(node, pod, outcome.masquerade, outcome.verdict))
    return made


def _pct(part: float, whole: float) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _shares(made: list[Made], nodes: list[Node]) -> dict[str, float]:
    """Share (%) of the delivered connections each backend Pod got, every Pod listed."""
    counts = Counter(m.pod for m in made if m.pod is not None)
    delivered = sum(counts.values())
    return {ip: _pct(counts[ip], delivered) for n in nodes for ip in n.pods}


def _row(name: str, made: list[Made], nodes: list[Node]) -> dict:
    where = {ip: n for n in nodes for ip in n.pods}
    delivered = [(m.entry, where[m.pod], m.masquerade) for m in made if m.pod is not None]
    shares = _shares(made, nodes)
    return {
        "case": name,
        "traffic": "external" if CASES[name].external else "internal",
        "entry_nodes": len({m.entry.name for m in made}),
        "connections": len(made),
        "dropped_pct": _pct(sum(m.verdict == "DROP" for m in made), len(made)),
        "client_ip_kept_pct": _pct(sum(not masq for _, _, masq in delivered), len(delivered)),
        "extra_hop_pct": _pct(sum(e.name != p.name for e, p, _ in delivered), len(delivered)),
        "same_zone_pct": _pct(sum(e.zone == p.zone for e, p, _ in delivered), len(delivered)),
        "pod_max_pct": max(shares.values()),
        "pod_min_pct": min(shares.values()),
    }


def _pod_rows(name: str, made: list[Made], nodes: list[Node]) -> list[dict]:
    shares = _shares(made, nodes)
    return [
        {"case": name, "pod": ip, "node": n.name, "zone": n.zone, "share_pct": shares[ip]}
        for n in nodes
        for ip in n.pods
    ]


def _draw(result: Result, fig: Figure, lang: str) -> None:
    nodes, outcomes = result.data["nodes"], result.data["outcomes"]
    left, right = fig.subplots(1, 2)
    labels = [say(CASES[name].label, lang) for name in outcomes]
    x = np.arange(len(labels))
    pods = [(n, ip) for n in nodes for ip in n.pods]
    width = 0.8 / len(pods)
    for j, (node, ip) in enumerate(pods):
        shares = [_shares(made, nodes)[ip] for made in outcomes.values()]
        left.bar(x + (j - (len(pods) - 1) / 2) * width, shares, width, label=f"{ip} ({node.name})")
    left.axhline(100 / len(pods), color="black", ls=":", lw=1)
    left.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    left.set_ylabel(say({"en": "share of connections (%)", "zh_CN": "连接占比（%）"}, lang))
    left.set_title(say({"en": "Load per Pod", "zh_CN": "每个 Pod 的负载"}, lang))
    left.legend(fontsize=7)
    rows = [_row(name, made, nodes) for name, made in outcomes.items()]
    measures = {
        "client_ip_kept_pct": {"en": "client IP kept", "zh_CN": "保留客户端 IP"},
        "extra_hop_pct": {"en": "extra hop to another node", "zh_CN": "多一跳到其他节点"},
        "dropped_pct": {"en": "dropped", "zh_CN": "被丢弃"},
    }
    width = 0.8 / len(measures)
    for j, (column, text) in enumerate(measures.items()):
        right.bar(x + (j - 1) * width, [row[column] for row in rows], width, label=say(text, lang))
    right.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    right.set_ylabel(say({"en": "connections (%)", "zh_CN": "连接（%）"}, lang))
    right.set_title(say({"en": "What each connection met", "zh_CN": "每个连接的遭遇"}, lang))
    right.set_ylim(0, 120)  # room for the legend above the 100 % bars
    right.legend(fontsize=7, ncol=3, loc="upper center")
    fig.suptitle(say(TITLE, lang))
