"""Experiment: long-lived connections behind a ClusterIP stay on one Pod; clients of a headless
Service spread their requests, and only a client that resolves again finds a new Pod.

Everything is real and on loopback: the Pods are HTTP servers
(`svclab.experiments._pods.PodServers`), the ClusterIP is the userspace proxy
(`svclab.proxy.userspace.UserspaceProxy`, which, like every kube-proxy mode, chooses a Pod per
connection), and the names come from the cluster DNS server (`svclab.dns.server.DnsServer`),
asked by each client's own resolver. Three clients send requests in turn:

- ``clusterip``: resolves the Service name once and keeps one HTTP/1.1 connection;
- ``headless-once``: resolves the headless name once, keeps a connection to every address
  and sends each request to the next one (gRPC's ``round_robin`` does this);
- ``headless-refresh``: the same, but resolves again every `refresh_every` requests (as
  gRPC does when a connection closes, or a client whose answer's TTL ran out).

Halfway, the Deployment scales up by one Pod: the new Pod starts, the proxy and the DNS
records learn of it.
"""

from __future__ import annotations

from collections import Counter

from matplotlib.figure import Figure

from svclab.dns.resolver import FOREVER, CachingResolver
from svclab.dns.server import DnsServer
from svclab.experiments._pods import HttpClient, PodServers
from svclab.experiments.rollout_real import NAMES, VIP, dns_state, pod_ip
from svclab.proxy.userspace import Address, UserspaceProxy
from svclab.report.result import Result, say
from svclab.sim.traffic import Discovery

NAME = "headless-clients"
TITLE = {
    "en": "Keep-alive clients: a ClusterIP or a headless Service",
    "zh_CN": "长连接客户端：ClusterIP 还是无头服务",
}
CLIENTS = ("clusterip", "headless-once", "headless-refresh")
PHASES = ("before", "after")
LABELS = {
    "clusterip": {"en": "ClusterIP,\none kept connection", "zh_CN": "ClusterIP，\n一条长连接"},
    "headless-once": {"en": "headless,\nresolved once", "zh_CN": "无头服务，\n只解析一次"},
    "headless-refresh": {"en": "headless,\nresolved again", "zh_CN": "无头服务，\n定期重新解析"},
    "before": {"en": "{n} Pods", "zh_CN": "{n} 个 Pod"},
    "after": {"en": "after scaling up to {n} Pods", "zh_CN": "扩容到 {n} 个 Pod 之后"},
    "share": {"en": "share of the client's requests (%)", "zh_CN": "占该客户端请求的比例（%）"},
    "pod": {"en": "Pod {i}", "zh_CN": "Pod {i}"},
    "new": {"en": "Pod {i} (new)", "zh_CN": "Pod {i}（新）"},
}


class _ClusterIpClient:
    """Resolves the Service name once, then sends every request on one kept connection."""

    def __init__(self, server: tuple[str, int], port: int) -> None:
        self.vip = (
            CachingResolver(server, cache_ttl=FOREVER)
            .resolve(NAMES[Discovery.CLUSTER_IP])
            .addresses[0]
        )
        self.port, self.http = port, HttpClient()

    def send(self) -> int:
        return self.http.get(self.vip, self.port)

    def close(self) -> None:
        self.http.close()


class _HeadlessClient:
    """Keeps a connection per resolved address and sends each request to the next address;
    resolves again every `refresh_every` requests (never, if None)."""

    def __init__(self, server: tuple[str, int], port: int, refresh_every: int | None) -> None:
        self.resolver = CachingResolver(server, cache_ttl=0)
        self.port, self.refresh_every = port, refresh_every
        self.connections: dict[str, HttpClient] = {}
        self.sent = 0
        self.addresses = self._resolve()

    def _resolve(self) -> list[str]:
        return list(self.resolver.resolve(NAMES[Discovery.DNS]).addresses)

    def send(self) -> int:
        if self.refresh_every and self.sent and self.sent % self.refresh_every == 0:
            self.addresses = self._resolve()
        address = self.addresses[self.sent % len(self.addresses)]
        self.sent += 1
        return self.connections.setdefault(address, HttpClient()).get(address, self.port)

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


def run(
    *, seed: int = 0, pods: int = 3, requests: int = 300, refresh_every: int = 40, progress=None
) -> Result:
    """One row per (client, phase): requests per Pod, Pods reached, the busiest Pod's share and
    the new Pod's requests. `requests` per client and phase (real HTTP requests, so at most
    a few thousand in all); `seed` is for the common interface, nothing here is random.

    >>> r = run(requests=60)
    >>> [(row["client"], row["phase"], row["pods_reached"]) for row in r.rows]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('clusterip', 'before', 1), ('clusterip', 'after', 1),
     ('headless-once', 'before', 3), ('headless-once', 'after', 3),
     ('headless-refresh', 'before', 3), ('headless-refresh', 'after', 4)]
    """
    if not 1 <= pods < 200 or not 1 <= requests <= 5000:
        raise ValueError("pods must be 1-199 and requests 1-5000 (real requests on loopback)")
    counts = {(client, phase): Counter() for client in CLIENTS for phase in PHASES}
    with PodServers() as servers:
        for i in range(pods):
            servers.start(i, pod_ip(i))
        backends: list[Address] = [(pod_ip(i), servers.port) for i in range(pods)]
        with (
            UserspaceProxy(backends, vip=VIP) as proxy,
            DnsServer(dns_state(list(range(pods)))) as dns,
        ):
            clients = {
                "clusterip": _ClusterIpClient(dns.address, proxy.port),
                "headless-once": _HeadlessClient(dns.address, servers.port, None),
                "headless-refresh": _HeadlessClient(dns.address, servers.port, refresh_every),
            }
            for k, phase in enumerate(PHASES):
                if phase == "after":  # the Deployment scales up by one Pod
                    servers.start(pods, pod_ip(pods))
                    proxy.set_backends([*backends, (pod_ip(pods), servers.port)])
                    dns.update(dns_state(list(range(pods + 1))))
                for _ in range(requests):
                    for name, client in clients.items():
                        counts[name, phase][client.send()] += 1
                if progress:
                    progress((k + 1) / len(PHASES))
            for client in clients.values():
                client.close()
    rows = []
    for (client, phase), count in counts.items():
        per_pod = tuple(count[i] for i in range(pods + 1))
        rows.append(
            {
                "client": client,
                "phase": phase,
                "per_pod": per_pod,
                "pods_reached": sum(1 for n in per_pod if n),
                "top_pod_pct": round(100 * max(per_pod) / requests, 1),
                "new_pod_requests": per_pod[pods],
            }
        )
    return Result(NAME, rows, {"pods": pods, "requests": requests}, _draw)


def _draw(result: Result, fig: Figure, lang: str) -> None:
    pods, requests = result.data["pods"], result.data["requests"]
    axes = fig.subplots(1, len(PHASES), sharey=True)
    width = 0.8 / (pods + 1)
    for ax, phase in zip(axes, PHASES, strict=True):
        rows = result.where(phase=phase)
        for i in range(pods + 1):
            key = "new" if i == pods else "pod"
            ax.bar(
                [c + (i - pods / 2) * width for c in range(len(rows))],
                [100 * row["per_pod"][i] / requests for row in rows],
                width,
                label=say(LABELS[key], lang).format(i=i),
                hatch="//" if i == pods else None,
            )
        ax.set_xticks(range(len(rows)), [say(LABELS[row["client"]], lang) for row in rows])
        shown = pods if phase == "before" else pods + 1
        ax.set_title(say(LABELS[phase], lang).format(n=shown))
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].set_ylabel(say(LABELS["share"], lang))
    axes[-1].legend(fontsize="small")
    fig.suptitle(say(TITLE, lang))
