"""Client-side load balancing over a watched backend list, measured against DNS round-robin.

A client that watches a Service's EndpointSlices (for instance with
``examples/discover_endpoints.py``'s ``watch_backends``) and balances round-robin over the
ready endpoints is put next to clients that balance over the A records of the same headless
Service, while the sandbox rolls the Deployment. Every pick is checked against the cluster's
own record of its Pods: still ready, terminating, or gone.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from kubernetes import client
from matplotlib.figure import Figure

from svclab.cluster import Cluster
from svclab.dns.resolver import FOREVER, CachingResolver
from svclab.dns.server import DnsServer
from svclab.pages.backends import backends
from svclab.report.result import Result, say
from svclab.sandbox.server import Sandbox

READY, TERMINATING, GONE = "ready", "terminating", "gone"
"""Where a request lands: a Pod that is ready, one that was told to stop, or none at all."""

NOT_READY = "not ready"
"""A running Pod that has not passed (or has failed) its readiness check."""

OUTCOMES = (READY, TERMINATING, GONE)

CLIENTS = ("api-watch", "dns-ttl", "dns-once")
"""The client groups: EndpointSlice watch; headless DNS with the TTL honoured; resolved once."""

Watch = Callable[..., Iterator[set[str]]]
"""``watch(DiscoveryV1Api, namespace, service, timeout=seconds)``: backend sets, the first as
listed, then one after each change (the signature of the example's ``watch_backends``)."""

LABELS = {
    "api-watch": {"en": "EndpointSlice watch", "zh_CN": "监视 EndpointSlice"},
    "dns-ttl": {"en": "DNS, TTL honoured", "zh_CN": "DNS，遵守 TTL"},
    "dns-once": {"en": "DNS, resolved once", "zh_CN": "DNS，只解析一次"},
    READY: {"en": "ready Pod", "zh_CN": "就绪的 Pod"},
    TERMINATING: {"en": "terminating Pod", "zh_CN": "终止中的 Pod"},
    GONE: {"en": "Pod gone", "zh_CN": "Pod 已不存在"},
}


class RoundRobin:
    """Round-robin over a live backend list: `update` it whenever the list changes (from a
    watch or a DNS answer), `pick` one backend per request.

    >>> balancer = RoundRobin()
    >>> balancer.update({"10.0.0.2:8080", "10.0.0.1:8080"})
    >>> [balancer.pick() for _ in range(3)]
    ['10.0.0.1:8080', '10.0.0.2:8080', '10.0.0.1:8080']
    >>> balancer.update({"10.0.0.3:8080", "10.0.0.1:8080"})
    >>> balancer.pick(), balancer.backends
    ('10.0.0.3:8080', ('10.0.0.1:8080', '10.0.0.3:8080'))
    >>> RoundRobin().pick() is None
    True
    """

    def __init__(self) -> None:
        self.backends: tuple[str, ...] = ()
        self._turn = 0

    def update(self, backends: Iterable[str]) -> None:
        """Replace the list; the turn carries on, as gRPC's round_robin keeps going on update."""
        self.backends = tuple(sorted(backends))

    def pick(self) -> str | None:
        """The next backend in turn, or None when the list is empty."""
        if not self.backends:
            return None
        backend = self.backends[self._turn % len(self.backends)]
        self._turn += 1
        return backend


def host(backend: str) -> str:
    """The address of an ``address:port`` backend (IPv6 in brackets), or a bare address as is.

    >>> host("10.0.0.1:8080"), host("[fd00::1]:8080"), host("10.0.0.1")
    ('10.0.0.1', 'fd00::1', '10.0.0.1')
    """
    if backend.startswith("["):
        return backend[1 : backend.index("]")]
    return backend.rsplit(":", 1)[0] if backend.count(":") == 1 else backend


def pod_states(cluster: Cluster, namespace: str) -> dict[str, str]:
    """IP → `READY`, `TERMINATING` or `NOT_READY` for the namespace's Pods that have an IP (an
    IP that is not here belongs to no Pod: `GONE`).

    >>> cluster = Cluster(seed=1)
    >>> pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
    ...        "spec": {"containers": [{"name": "c", "image": "i"}]}}
    >>> _ = cluster.apply(pod)
    >>> cluster.advance(5)
    >>> pod_states(cluster, "default")
    {'10.244.0.2': 'ready'}
    >>> _ = cluster.delete("Pod", "default", "a")
    >>> pod_states(cluster, "default")
    {'10.244.0.2': 'terminating'}
    """
    states = {}
    for pod in cluster.list("Pod", namespace):
        if not (pod.status and pod.status.pod_ip):
            continue
        ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
        state = TERMINATING if pod.metadata.deletion_timestamp else READY if ready else NOT_READY
        states[pod.status.pod_ip] = state
    return states


def serving_addresses(cluster: Cluster, namespace: str, service: str) -> set[str]:
    """Addresses of the Service's endpoints that are ready and not terminating, read from the
    cluster itself: the list a watcher must arrive at.

    >>> serving_addresses(Cluster(seed=1), "default", "kubernetes")
    {'172.18.0.2'}
    """
    rows = backends(cluster.state(), namespace, service)
    return {row["address"] for row in rows if row["ready"] and not row["terminating"]}


def restart_patch(at: str) -> dict:
    """The patch ``kubectl rollout restart`` sends: the time in a Pod template annotation. The
    template changes, so the Deployment replaces every Pod.

    >>> restart_patch("2025-01-01T00:00:05Z")["spec"]["template"]["metadata"]
    {'annotations': {'kubectl.kubernetes.io/restartedAt': '2025-01-01T00:00:05Z'}}
    """
    annotations = {"kubectl.kubernetes.io/restartedAt": at}
    return {"spec": {"template": {"metadata": {"annotations": annotations}}}}


@dataclass
class _Group:
    """One client group: its balancer, how it brings its list up to date (returning the
    lookups that took), and where its requests went."""

    name: str
    refresh: Callable[[RoundRobin], int]
    balancer: RoundRobin = field(default_factory=RoundRobin)
    lookups: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    missed: list[tuple[int, int]] = field(default_factory=list)  # (terminating, gone) so far


def rollout_requests(
    cluster: Cluster,
    *,
    watch: Watch,
    patch: dict,
    namespace: str = "default",
    deployment: str = "image-resize",
    service: str = "image-resize-headless",
    ttl: int = 30,
    rate: float = 10.0,
    step: float = 0.5,
    duration: float = 60.0,
    watch_timeout: float = 60.0,
) -> Result:
    """Serve `cluster` in a sandbox, start a rollout of `deployment` by sending it `patch`
    through the API (for instance `restart_patch`), and send
    `rate` requests per second from each client group (`CLIENTS`) for `duration` virtual
    seconds, all to the headless `service`.

    The clock moves `step` seconds at a time. After each step the watcher reads its stream
    until it agrees with the cluster (a watch delivers a change in milliseconds, much sooner
    than a step), DNS clients ask a real DNS server on loopback, serving records with `ttl`,
    when their cache says so; then each group sends its requests. One row per group: requests
    by outcome, and lookups (DNS queries, or backend lists read from the API).

    >>> from svclab.api.manifests import load_text
    >>> cluster = Cluster(seed=2)
    >>> for m in load_text('''
    ... apiVersion: apps/v1
    ... kind: Deployment
    ... metadata: {name: web}
    ... spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata:
    ...   {labels: {app: web}}, spec: {containers: [{name: web, image: "web:1"}]}}}
    ... ---
    ... apiVersion: v1
    ... kind: Service
    ... metadata: {name: web}
    ... spec: {clusterIP: None, selector: {app: web}, ports: [{port: 80}]}
    ... '''):
    ...     _ = cluster.apply(m.obj)
    >>> def poll(api, namespace, service, *, timeout):  # lists again each time it is asked
    ...     while True:
    ...         yield {a for s in api.list_namespaced_endpoint_slice(namespace).items
    ...                if s.metadata.labels["kubernetes.io/service-name"] == service
    ...                for e in s.endpoints if e.conditions.ready for a in e.addresses}
    >>> result = rollout_requests(cluster, watch=poll, patch=restart_patch("2025-01-01T00:00:05Z"),
    ...                           deployment="web", service="web", duration=45)
    >>> [(r["client"], r["requests"], r["gone"] > 0) for r in result.rows]
    [('api-watch', 450, False), ('dns-ttl', 450, False), ('dns-once', 450, True)]
    """
    cluster.advance(5)  # the Pods start and pass their readiness checks before anyone asks
    name = f"{service}.{namespace}.svc.cluster.local"
    with (
        Sandbox(cluster, speed=0) as box,
        box.api_client() as api,
        DnsServer(cluster.state(), ttl=ttl) as dns_server,
    ):
        updates = watch(client.DiscoveryV1Api(api), namespace, service, timeout=watch_timeout)

        def catch_up(balancer: RoundRobin) -> int:
            truth = box.store.locked(lambda: serving_addresses(cluster, namespace, service))
            read = 0
            while {host(b) for b in balancer.backends} != truth:
                listed = next(updates, None)
                if listed is None:
                    raise RuntimeError(f"the watch of {service} ended before it caught up")
                balancer.update(listed)
                read += 1
            return read

        def resolve(dns: CachingResolver) -> Callable[[RoundRobin], int]:
            def refresh(balancer: RoundRobin) -> int:
                sent = dns.queries_sent
                balancer.update(dns.resolve(name).addresses)
                return dns.queries_sent - sent

            return refresh

        clock = lambda: cluster.now  # noqa: E731 (the resolvers' caches expire on virtual time)
        groups = [
            _Group("api-watch", catch_up),
            _Group("dns-ttl", resolve(CachingResolver(dns_server.address, clock=clock))),
            _Group(
                "dns-once",
                resolve(CachingResolver(dns_server.address, cache_ttl=FOREVER, clock=clock)),
            ),
        ]
        times = np.arange(step, duration + step / 2, step)
        with contextlib.closing(updates):
            for group in groups:
                group.lookups += group.refresh(group.balancer)
            client.AppsV1Api(api).patch_namespaced_deployment(deployment, namespace, patch)
            for _ in times:
                box.advance(step)
                dns_server.update(box.store.locked(cluster.state))
                states = box.store.locked(lambda: pod_states(cluster, namespace))
                for group in groups:
                    group.lookups += group.refresh(group.balancer)
                    for _ in range(round(rate * step)):
                        picked = group.balancer.pick()  # None (no backend) fails like GONE
                        group.counts[states.get(host(picked), GONE) if picked else GONE] += 1
                    group.missed.append((group.counts[TERMINATING], group.counts[GONE]))
    rows = [
        {
            "client": g.name,
            "requests": g.counts.total(),
            **{outcome: g.counts[outcome] for outcome in OUTCOMES},
            "lookups": g.lookups,
        }
        for g in groups
    ]
    data = {"times": times, "missed": {g.name: np.array(g.missed) for g in groups}}
    return Result("rollout-requests", rows, data, _draw)


LINE_COLOURS = ("C0", "C4", "C5")  # blue, purple, brown: apart from the bars' green, amber, red


def _draw(result: Result, fig: Figure, lang: str) -> None:
    times, missed = result.data["times"], result.data["missed"]
    left, right = fig.subplots(1, 2, width_ratios=(3, 2))
    for index, group in enumerate(CLIENTS):
        # the watcher's lines lie on zero, under the others: draw them wider and on top
        style = {
            "color": LINE_COLOURS[index],
            "linewidth": 3 if index == 0 else 1.5,
            "zorder": 3 - index,
        }
        left.plot(times, missed[group][:, 1], label=say(LABELS[group], lang), **style)
        left.plot(times, missed[group][:, 0], linestyle=":", **style)
    left.set_xlabel(
        say({"en": "seconds since the rollout began", "zh_CN": "滚动更新开始后的秒数"}, lang)
    )
    left.set_ylabel(
        say(
            {
                "en": "requests sent to a Pod that is gone (solid) or terminating (dotted)",
                "zh_CN": "发往已不存在（实线）或终止中（点线）Pod 的请求数",
            },
            lang,
        ),
        fontsize="small",
    )
    left.legend(fontsize="small")
    rows = {row["client"]: row for row in result.rows}
    bottom = np.zeros(len(CLIENTS))
    colours = {READY: "#4c9a2a", TERMINATING: "#e8a33d", GONE: "#c0392b"}
    for outcome in OUTCOMES:
        share = np.array([100 * rows[g][outcome] / max(rows[g]["requests"], 1) for g in CLIENTS])
        right.barh(
            [say(LABELS[g], lang) for g in CLIENTS],
            share,
            left=bottom,
            color=colours[outcome],
            label=say(LABELS[outcome], lang),
        )
        bottom += share
    right.invert_yaxis()
    right.set_xlabel(say({"en": "share of requests (%)", "zh_CN": "请求占比（%）"}, lang))
    right.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=3)
    fig.suptitle(
        say(
            {
                "en": "Where the requests went while the Pods were replaced",
                "zh_CN": "替换 Pod 期间请求都去了哪里",
            },
            lang,
        )
    )
