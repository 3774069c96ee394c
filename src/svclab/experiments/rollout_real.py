"""The rolling-update experiment on real sockets: the same Pods, clients and counts as the
simulator (`svclab.sim.traffic`), but every lookup and request goes over loopback.

- Pods are real HTTP servers (`svclab.experiments._pods.PodServers`), Pod ``i`` of the
  timeline on 127.77.1.(10 + i); each starts when it becomes ready and exits when gone.
- The cluster DNS server (`svclab.dns.server.DnsServer`) serves a headless Service for DNS
  round-robin and a ClusterIP Service whose address is the userspace proxy
  (`svclab.proxy.userspace.UserspaceProxy`), the stand-in for kube-proxy here (it dials
  round-robin and moves on from a refused backend, where iptables would pick at random and
  fail). Both learn of endpoint changes after the same delays as in the simulation.
- Each client has its own `svclab.dns.resolver.CachingResolver` (TTL honoured, ignored for
  `stale_hold` seconds, or kept for ever) and its own kept or per-request connection. Our
  DNS server lists addresses in a fixed order; CoreDNS's ``loadbalance`` shuffles them, so
  a client shuffles each fresh answer itself (seeded).

Time is virtual and compressed to nothing: one thread runs every Pod change, DNS and proxy
update and request in time order on the simulator's `Engine`, and the resolvers read that
clock, so a minute of traffic takes as long as its round trips.
"""

from __future__ import annotations

import math

import kubernetes.client as k8s
import numpy as np

from svclab.api.manifests import build_object
from svclab.api.state import SERVICE_NAME_LABEL, ClusterState
from svclab.cluster.clock import VirtualClock
from svclab.dns.resolver import FOREVER, CachingResolver
from svclab.dns.server import DnsServer
from svclab.errors import SvclabError
from svclab.experiments._pods import HttpClient, PodServers
from svclab.proxy.userspace import UserspaceProxy
from svclab.sim.engine import Engine
from svclab.sim.lifecycle import Timeline
from svclab.sim.traffic import Clients, Discovery, Resolver, TrafficResult, hold_seconds

VIP = "127.77.1.1"
"""The ClusterIP: where the userspace proxy listens."""
NAMES = {
    Discovery.DNS: "web-rr.default.svc.cluster.local",
    Discovery.CLUSTER_IP: "web.default.svc.cluster.local",
}
REAL_REQUESTS = 10_000
"""At most this many real requests per run, so that it stays a few seconds long."""


def pod_ip(index: int) -> str:
    """The loopback address of the timeline's Pod `index`.

    >>> pod_ip(0), pod_ip(5)
    ('127.77.1.10', '127.77.1.15')
    """
    if not 0 <= index < 240:
        raise ValueError("at most 240 Pods in a real run")
    return f"127.77.1.{10 + index}"


def dns_state(ready: list[int]) -> ClusterState:
    """The headless Service over the `ready` Pods and the ClusterIP Service at `VIP`."""
    headless = {
        "kind": "Service",
        "metadata": {"name": "web-rr"},
        "spec": {"clusterIP": "None", "ports": [{"port": 80}]},
    }
    cluster_ip = {
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {"clusterIP": VIP, "ports": [{"port": 80}]},
    }
    eps = {
        "kind": "EndpointSlice",
        "metadata": {"name": "web-rr-1", "labels": {SERVICE_NAME_LABEL: "web-rr"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [pod_ip(i)], "conditions": {"ready": True}} for i in ready],
        "ports": [{"port": 80}],
    }
    return ClusterState(
        services=[build_object(k8s.V1Service, s, "rolling-update") for s in (headless, cluster_ip)],
        endpoint_slices=[build_object(k8s.V1EndpointSlice, eps, "rolling-update")],
    )


class _Client:
    """One real client: its resolver, its answer order and its connection."""

    def __init__(self, spec: Clients, server: tuple[str, int], clock: VirtualClock, rng) -> None:
        self.spec, self.rng = spec, rng
        policy = {Resolver.HONOUR_TTL: None, Resolver.IGNORE_TTL: spec.stale_hold}
        self.resolver = CachingResolver(
            server, cache_ttl=policy.get(spec.resolver, FOREVER), clock=clock
        )
        self.order: list[str] = []
        self.http = HttpClient()

    def addresses(self) -> list[str]:
        """The addresses to try, from the cache when it still holds them."""
        result = self.resolver.resolve(NAMES[self.spec.discovery])
        if result.source == "network":
            # a seeded shuffle of a canonical order: what CoreDNS's loadbalance does per answer
            self.order = sorted(result.addresses)
            self.rng.shuffle(self.order)
        return self.order

    def send(self, port: int) -> tuple[int | None, int]:
        """One request with its retries: (the Pod that answered or None, failed attempts)."""
        left, failures = self.spec.retries + 1, 0
        if self.spec.reuse and self.http.sock is not None:
            try:
                return self.http.request(), 0
            except OSError:
                left, failures = left - 1, 1  # the kept connection's Pod is gone
        targets = self.addresses()
        for k in range(left):
            if not targets:
                break
            try:
                self.http.connect(targets[k % len(targets)], port)
                pod = self.http.request()
            except OSError:
                failures += 1
                continue
            if not self.spec.reuse:
                self.http.close()
            return pod, failures
        return None, failures


def simulate_real(
    timeline: Timeline,
    groups: list[Clients],
    until: float,
    seed: int = 0,
    bucket: float = 1.0,
    proxy_delay: float = 1.0,
    dns_delay: float = 1.0,
    progress=None,
) -> list[TrafficResult]:
    """`svclab.sim.traffic.simulate`'s results, measured on real sockets.

    >>> from svclab.sim.lifecycle import PodSpan
    >>> tl = Timeline((PodSpan("a", "x", terminating=5, gone=5), PodSpan("b", "y")))
    >>> once = Clients(Discovery.DNS, Resolver.RESOLVE_ONCE, count=4, rate=2, retries=0)
    >>> vip = Clients(Discovery.CLUSTER_IP, Resolver.RESOLVE_ONCE, count=4, rate=2, retries=0)
    >>> dns, proxy = simulate_real(tl, [once, vip], until=10, seed=1)
    >>> dns.requests == proxy.requests == 4 * 2 * 10
    True
    >>> int(dns.failed[7:].sum()) > 0, int(proxy.failed[7:].sum())
    (True, 0)
    """
    planned = sum(g.count * g.rate * until for g in groups)
    if planned > REAL_REQUESTS:
        raise SvclabError(
            f"a real run of {planned:.0f} requests would take too long (at most {REAL_REQUESTS}):"
            " lower --clients, --rate or --duration"
        )
    if len({g.ttl for g in groups}) > 1:
        raise ValueError("every client group of a real run must see the same TTL")
    engine, clock = Engine(seed), VirtualClock()
    buckets = max(1, math.ceil(until / bucket))
    ready0 = [int(i) for i in timeline.ready_at(0.0)]
    with (
        PodServers() as pods,
        DnsServer(dns_state(ready0), ttl=int(groups[0].ttl if groups else 30)) as server,
    ):
        for i in ready0:
            pods.start(i, pod_ip(i))
        proxy_backends = [(pod_ip(i), pods.port) for i in ready0]
        with UserspaceProxy(proxy_backends, vip=VIP, port=pods.port) as proxy:
            _schedule_world(engine, timeline, pods, server, proxy, proxy_delay, dns_delay, until)
            counts = [
                _schedule_group(
                    engine, g, server, clock, pods, until, bucket, buckets, len(timeline.pods)
                )
                for g in groups
            ]
            engine.run(until, progress)
            for _, clients in counts:
                for client in clients:
                    client.http.close()
    results = []
    for (arrays, clients), group in zip(counts, groups, strict=True):
        queries = np.zeros(buckets, dtype=np.int64)
        for client in clients:
            for entry in client.resolver.log:
                if entry.event == "query" and 0 <= entry.time < until:
                    queries[min(int(entry.time // bucket), buckets - 1)] += 1
        ok, failed, gone, load = arrays
        results.append(TrafficResult(group, bucket, ok, failed, gone, queries, load))
    return results


def _schedule_world(engine, timeline, pods, server, proxy, proxy_delay, dns_delay, until) -> None:
    """Pods start and exit on time; DNS and the proxy follow after their delays."""
    for i, pod in enumerate(timeline.pods):
        if 0 < pod.ready <= until:
            engine.at(pod.ready, lambda i=i: pods.start(i, pod_ip(i)))
        if 0 < pod.gone <= until:
            engine.at(pod.gone, lambda i=i: pods.stop(i))
    for t in (t for t in timeline.change_times() if 0 < t <= until):
        ready = [int(i) for i in timeline.ready_at(t)]
        if t + dns_delay <= until:
            engine.at(t + dns_delay, lambda r=ready: server.update(dns_state(r)))
        if t + proxy_delay <= until:
            engine.at(
                t + proxy_delay,
                lambda r=ready: proxy.set_backends([(pod_ip(i), pods.port) for i in r]),
            )


def _schedule_group(engine, spec, server, clock, pods, until, bucket, buckets, n_pods):
    """Warm each client's cache, then schedule its requests; the arrays they fill."""
    rng = engine.spawn_rng()
    ok, failed, gone = (np.zeros(buckets, dtype=np.int64) for _ in range(3))
    load = np.zeros((buckets, n_pods), dtype=np.int64)
    hold = hold_seconds(spec.resolver, spec.ttl, spec.stale_hold)
    clients = []
    gap = 1.0 / spec.rate
    for _ in range(spec.count):
        client = _Client(spec, server.address, clock, rng)
        # the clients ran before time zero: each holds an answer of a random age (warm caches)
        clock.now = -float(rng.random() * hold) if math.isfinite(hold) else 0.0
        client.addresses()
        client.resolver.log.clear()
        clients.append(client)
        phase = rng.random() * gap

        def request(client: _Client = client) -> None:
            clock.now = engine.now
            pod, failures = client.send(pods.port)
            k = min(int(engine.now // bucket), buckets - 1)
            gone[k] += failures
            if pod is None:
                failed[k] += 1
            else:
                ok[k] += 1
                load[k, pod] += 1

        for n in range(math.ceil((until - phase) / gap)):
            engine.at(phase + n * gap, request)
    return (ok, failed, gone, load), clients
