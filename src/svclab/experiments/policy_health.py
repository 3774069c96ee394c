"""How a cloud load balancer uses kube-proxy's ``healthCheckNodePort``, probed for real.

Every node of the model cluster runs its own `ServiceHealth` (on loopback, an ephemeral port
standing in for ``<node IP>:<healthCheckNodePort>``), fed with that node's local ready endpoint
counts as its kube-proxy would feed it. A load balancer GETs each node's check and sends
connections only to nodes that answer 200, evenly or, if it reads the
``X-Load-Balancing-Endpoint-Weight`` header, in proportion to it. The connections then walk
that node's rules (`svclab.experiments.policy_paths.Lab`).

>>> from svclab.experiments.policy_cluster import load
>>> rows = probe(load())
>>> [(row["node"], row["status"], row["weight"]) for row in rows]
[('node-1', 200, '1'), ('node-2', 200, '2'), ('node-3', 503, '0')]
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from svclab.api.state import ClusterState
from svclab.experiments.policy_cluster import nodes, proxy_config
from svclab.experiments.policy_paths import Lab
from svclab.proxy.healthcheck import (
    ProxyHealth,
    ServiceHealth,
    SimClock,
    get,
    health_check_ports,
    local_ready_endpoints,
)
from svclab.report.result import say

SERVICE = ("default", "web-local")
STRATEGIES = {
    "ignore": {"en": "ignores the health check", "zh_CN": "不看健康检查"},
    "healthy": {"en": "healthy nodes, evenly", "zh_CN": "健康节点，平均分配"},
    "weighted": {"en": "healthy nodes, by weight header", "zh_CN": "健康节点，按权重头"},
}


@contextmanager
def health_servers(state: ClusterState) -> Iterator[dict[str, ServiceHealth]]:
    """Node name → its running `ServiceHealth`, synced from `state`; closed on exit."""
    with ExitStack() as stack:
        servers = {}
        for node in nodes(state):
            config = proxy_config(node)
            proxy = ProxyHealth(SimClock())
            proxy.updated()
            server = stack.enter_context(ServiceHealth(proxy))
            server.sync_services(health_check_ports(state, config))
            server.sync_endpoints(local_ready_endpoints(state, config))
            servers[node.name] = server
        yield servers


def probe(state: ClusterState, service: tuple[str, str] = SERVICE) -> list[dict]:
    """One health-check GET per node: status, weight header and the body's count."""
    rows = []
    with health_servers(state) as servers:
        for name, server in servers.items():
            status, headers, body = get(server.url(service, "/healthz"))
            rows.append(
                {
                    "node": name,
                    "status": status,
                    "weight": headers["X-Load-Balancing-Endpoint-Weight"],
                    "localEndpoints": json.loads(body)["localEndpoints"],
                }
            )
    return rows


def balance(
    state: ClusterState, strategy: str, connections: int = 600, case: str = "etp-local"
) -> dict:
    """Spread `connections` over the nodes as a load balancer following `strategy` does, and
    return the share (%) each Pod got and the share dropped."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    checks = {row["node"]: row for row in probe(state)}
    targets = {
        name: (1 if strategy != "weighted" else int(row["weight"]))
        for name, row in checks.items()
        if strategy == "ignore" or row["status"] == 200
    }
    lab = Lab.of(state)
    total = sum(targets.values())
    counts: Counter[str] = Counter()
    for name, weight in targets.items():
        share = round(connections * weight / total)
        split = lab.split(case, name, share)
        for pod, pct in split.shares.items():
            counts[pod] += pct * share / 100
        counts["dropped"] += split.dropped_pct * share / 100
    pods = sorted(lab.pod_names.values())
    return {pod: round(100 * counts[pod] / connections, 1) for pod in [*pods, "dropped"]}


def balance_rows(state: ClusterState, connections: int = 600, lang: str = "en") -> list[dict]:
    """A row per load-balancer strategy: where `connections` ETP Local connections went."""
    return [
        {"load_balancer": say(text, lang), **balance(state, key, connections)}
        for key, text in STRATEGIES.items()
    ]
