"""kube-proxy's two health servers, served for real over HTTP on loopback.

Follows ``pkg/proxy/healthcheck`` (Kubernetes 1.35: ``service_health.go`` at 124526cf,
``proxy_health.go`` at 81810de6):

- `ProxyHealth` is the proxy's own server (``--healthz-bind-address``, port 10256):
  ``/healthz`` and ``/livez`` answer 503 once an update has been queued for longer than the
  health timeout (twice ``--iptables-sync-period``, 60 s by default) without the rules being
  written; ``/healthz`` also answers 503 while the Node is being deleted or carries the cluster
  autoscaler's ``ToBeDeletedByClusterAutoscaler`` taint (KEP-3836). The body is the
  ``ProxyHealth`` struct as Go's ``json.Marshal`` writes it.
- `ServiceHealth` opens one listener per Service with ``externalTrafficPolicy: Local`` and a
  ``healthCheckNodePort``. Every request, whatever its path, gets 200 when this node has a
  ready local endpoint and the proxy is healthy, else 503, with the local endpoint count in the
  body and in an ``X-Load-Balancing-Endpoint-Weight`` header (added in 1.28, PR #118999).

A real node listens on its own addresses and the allocated port; here each listener binds
127.0.0.1 on an ephemeral port (`ServiceHealth.url` says where).

>>> import json
>>> clock = SimClock()
>>> proxy = ProxyHealth(clock)
>>> with ServiceHealth(proxy) as server:
...     server.sync_services({("default", "web"): 32011})
...     server.sync_endpoints({("default", "web"): 2})
...     status, headers, body = get(server.url(("default", "web"), "/healthz"))
>>> status, headers["X-Load-Balancing-Endpoint-Weight"]
(200, '2')
>>> body.splitlines()[:2]  # upstream's template: one object, indented with tabs
['{', '\\t"service": {']
>>> json.loads(body)
{'service': {'namespace': 'default', 'name': 'web'}, 'localEndpoints': 2, 'serviceProxyHealthy': True}
"""

from __future__ import annotations

import datetime
import http.client
import json
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import kubernetes.client as k8s

from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.servicemap import build_service_ports

PROXY_HEALTH_PORT = 10256
"""kube-proxy's default ``--healthz-bind-address`` port."""
HEALTH_TIMEOUT = 60.0
"""Seconds an update may wait before the proxy is unhealthy: 2 × the default 30 s sync period."""
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"
EPOCH = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

NamespacedName = tuple[str, str]
Clock = Callable[[], datetime.datetime]


class SimClock:
    """A clock that moves only when told to (starts at `EPOCH`).

    >>> clock = SimClock(); clock.advance(1.5); clock().isoformat()
    '2026-01-01T00:00:01.500000+00:00'
    """

    def __init__(self, start: datetime.datetime = EPOCH) -> None:
        self.now = start

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)


def go_time(moment: datetime.datetime | None) -> str:
    """A time as Go's ``json.Marshal`` writes a ``time.Time`` in UTC (RFC 3339, trailing zeros
    of the fraction dropped; the zero time for None).

    >>> go_time(EPOCH), go_time(EPOCH + datetime.timedelta(seconds=0.25)), go_time(None)
    ('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.25Z', '0001-01-01T00:00:00Z')
    """
    if moment is None:
        return "0001-01-01T00:00:00Z"
    moment = moment.astimezone(datetime.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def node_eligible(node: k8s.V1Node | None) -> bool:
    """Not being deleted and not tainted for deletion by the cluster autoscaler (a missing
    Node is not eligible).

    >>> node_eligible(k8s.V1Node(spec=k8s.V1NodeSpec(taints=[k8s.V1Taint(
    ...     key=TO_BE_DELETED_TAINT, effect="NoSchedule")])))
    False
    """
    if node is None:
        return False
    if node.metadata is not None and node.metadata.deletion_timestamp is not None:
        return False
    taints = (node.spec.taints if node.spec else None) or []
    return not any(taint.key == TO_BE_DELETED_TAINT for taint in taints)


class ProxyHealth:
    """kube-proxy's ``ProxyHealthServer`` state: when each IP family's rules were last written,
    the oldest update still waiting, and the Node it runs on."""

    def __init__(
        self,
        clock: Clock,
        health_timeout: float = HEALTH_TIMEOUT,
        node: k8s.V1Node | None = None,
    ) -> None:
        self.clock = clock
        self.health_timeout = datetime.timedelta(seconds=health_timeout)
        self.node = node if node is not None else k8s.V1Node(metadata=k8s.V1ObjectMeta())
        self._last_updated: dict[str, datetime.datetime] = {}
        self._oldest_queued: dict[str, datetime.datetime] = {}
        self._lock = threading.Lock()

    def updated(self, family: str = "IPv4") -> None:
        """The proxier of `family` wrote its rules (``Updated``)."""
        with self._lock:
            self._oldest_queued.pop(family, None)
            self._last_updated[family] = self.clock()

    def queued_update(self, family: str = "IPv4") -> None:
        """A change arrived that the proxier of `family` has not written yet (``QueuedUpdate``)."""
        with self._lock:
            self._oldest_queued.setdefault(family, self.clock())

    def health(self) -> dict:
        """``ProxyHealth``: healthy unless some family's queued update is older than the timeout.

        >>> clock = SimClock(); proxy = ProxyHealth(clock); proxy.updated()
        >>> proxy.queued_update(); clock.advance(60); proxy.health()["healthy"]
        False
        """
        now = self.clock()
        with self._lock:
            status = {}
            for family, last in self._last_updated.items():
                queued = self._oldest_queued.get(family)
                healthy = queued is None or now - queued < self.health_timeout
                status[family] = {"lastUpdated": go_time(last), "healthy": healthy}
            last_updated = max(self._last_updated.values(), default=None)
        return {
            "lastUpdated": go_time(last_updated),
            "currentTime": go_time(now),
            "healthy": all(s["healthy"] for s in status.values()),
            "status": status,
        }

    def healthz(self) -> tuple[int, dict]:
        """``/healthz``: the proxy's health and its Node's eligibility."""
        health = self.health()
        eligible = node_eligible(self.node)
        ok = health["healthy"] and eligible
        if ok:
            health["lastUpdated"] = go_time(self.clock())
        return (200 if ok else 503), _go_order(health, eligible)

    def livez(self) -> tuple[int, dict]:
        """``/livez``: the proxy's health alone (a Node being deleted is still alive)."""
        health = self.health()
        if health["healthy"]:
            health["lastUpdated"] = go_time(self.clock())
        return (200 if health["healthy"] else 503), _go_order(health, None)


def _go_order(health: dict, eligible: bool | None) -> dict:
    """The fields in the struct's order; ``nodeEligible`` only when set, ``status`` only when
    not empty (``omitempty``); map keys sorted, as ``encoding/json`` sorts them."""
    body = {"lastUpdated": health["lastUpdated"], "currentTime": health["currentTime"]}
    if eligible is not None:
        body["nodeEligible"] = eligible
    body["healthy"] = health["healthy"]
    if health["status"]:
        body["status"] = dict(sorted(health["status"].items()))
    return body


def go_json(value: dict) -> str:
    """Compact JSON, as Go's ``json.Marshal`` writes it (no spaces).

    >>> go_json({"healthy": True, "status": {}})
    '{"healthy":true,"status":{}}'
    """
    return json.dumps(value, separators=(",", ":"))


def service_body(name: NamespacedName, count: int, proxy_healthy: bool) -> str:
    """The body of a ``healthCheckNodePort`` answer, tab-indented as upstream's template."""
    namespace, service = name
    return (
        "{\n"
        '\t"service": {\n'
        f'\t\t"namespace": {json.dumps(namespace)},\n'
        f'\t\t"name": {json.dumps(service)}\n'
        "\t},\n"
        f'\t"localEndpoints": {count},\n'
        f'\t"serviceProxyHealthy": {"true" if proxy_healthy else "false"}\n'
        "}"
    )


class _Handler(BaseHTTPRequestHandler):
    """Answers with whatever `respond` returns for the path; headers as Go's net/http sends."""

    protocol_version = "HTTP/1.1"
    respond: Callable[[str], tuple[int, dict[str, str], str]]

    def do_GET(self) -> None:
        status, headers, body = type(self).respond(self.path)
        data = body.encode()
        self.send_response_only(status)
        for key, value in {**headers, "Date": self.date_time_string()}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: a load balancer probes often."""


class _Listener:
    """One HTTP server on 127.0.0.1, an ephemeral port, in a daemon thread."""

    def __init__(self, respond: Callable[[str], tuple[int, dict[str, str], str]]) -> None:
        handler = type("Handler", (_Handler,), {"respond": staticmethod(respond)})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        # A short poll interval: shutdown() waits for the loop to notice, once per listener.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


JSON_HEADERS = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"}


class ProxyHealthServer:
    """`ProxyHealth` served: ``/healthz``, ``/livez``, and Go's 404 for any other path."""

    def __init__(self, health: ProxyHealth) -> None:
        self.health = health
        self._listener = _Listener(self._respond)

    def url(self, path: str = "/healthz") -> str:
        return f"http://127.0.0.1:{self._listener.port}{path}"

    def _respond(self, path: str) -> tuple[int, dict[str, str], str]:
        route = path.split("?", 1)[0]
        if route not in ("/healthz", "/livez"):
            plain = {
                "Content-Type": "text/plain; charset=utf-8",
                "X-Content-Type-Options": "nosniff",
            }
            return 404, plain, "404 page not found\n"
        status, body = self.health.healthz() if route == "/healthz" else self.health.livez()
        return status, JSON_HEADERS, go_json(body)

    def close(self) -> None:
        self._listener.close()

    def __enter__(self) -> ProxyHealthServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ServiceHealth:
    """kube-proxy's ``ServiceHealthServer``: a listener per health-checked Service."""

    def __init__(self, proxy: ProxyHealth) -> None:
        self.proxy = proxy
        self._listeners: dict[NamespacedName, tuple[int, _Listener]] = {}
        self._endpoints: dict[NamespacedName, int] = {}
        self._lock = threading.Lock()

    def sync_services(self, services: Mapping[NamespacedName, int]) -> None:
        """Open listeners for new Services, close those gone or with another port (``SyncServices``)."""
        for name, (port, listener) in list(self._listeners.items()):
            if services.get(name) != port:
                listener.close()
                del self._listeners[name]
        for name, port in services.items():
            if name not in self._listeners:
                self._listeners[name] = (port, _Listener(lambda _path, n=name: self._respond(n)))

    def sync_endpoints(self, counts: Mapping[NamespacedName, int]) -> None:
        """Set each Service's local endpoint count; Services not named get 0 (``SyncEndpoints``)."""
        with self._lock:
            self._endpoints = {name: counts.get(name, 0) for name in self._listeners}

    def url(self, name: NamespacedName, path: str = "/") -> str:
        """Where `name`'s health check answers (on a node: ``http://<node IP>:<healthCheckNodePort>``)."""
        return f"http://127.0.0.1:{self._listeners[name][1].port}{path}"

    def _respond(self, name: NamespacedName) -> tuple[int, dict[str, str], str]:
        with self._lock:
            count = self._endpoints.get(name, 0)
        healthy = self.proxy.health()["healthy"]
        headers = {**JSON_HEADERS, "X-Load-Balancing-Endpoint-Weight": str(count)}
        status = 200 if count and healthy else 503
        return status, headers, service_body(name, count, healthy)

    def close(self) -> None:
        for _port, listener in self._listeners.values():
            listener.close()
        self._listeners.clear()

    def __enter__(self) -> ServiceHealth:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def health_check_ports(state: ClusterState, config: ProxyConfig) -> dict[NamespacedName, int]:
    """Service → ``healthCheckNodePort`` for the Services that get a health check on this node."""
    return {
        (port.namespace, port.service): port.health_check_node_port
        for port in build_service_ports(state, config)
        if port.health_check_node_port
    }


def local_ready_endpoints(state: ClusterState, config: ProxyConfig) -> dict[NamespacedName, int]:
    """Service → distinct ready local endpoint IPs (``EndpointsMap.LocalReadyEndpoints``):
    terminating endpoints do not count, even when they still serve."""
    ips: dict[NamespacedName, set[str]] = {}
    for port in build_service_ports(state, config):
        local = {ep.ip for ep in port.endpoints if ep.is_local and ep.ready}
        if local:
            ips.setdefault((port.namespace, port.service), set()).update(local)
    return {name: len(found) for name, found in ips.items()}


def get(url: str, timeout: float = 5.0) -> tuple[int, dict[str, str], str]:
    """One HTTP GET: status, headers and body (a 503 is an answer, not an error)."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request("GET", "/" + path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        connection.close()
