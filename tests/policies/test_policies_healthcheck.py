"""kube-proxy's health servers, answered over real HTTP on loopback (ephemeral ports).

Expectations from kubernetes ``pkg/proxy/healthcheck`` (v1.35): ``service_health.go``
(``hcHandler.ServeHTTP``) and ``proxy_health.go`` (``healthzHandler``, ``livezHandler``).
"""

from __future__ import annotations

import datetime
import json

import kubernetes.client as k8s
import pytest

from svclab.experiments.policy_cluster import load, nodes, proxy_config, rollout_on
from svclab.proxy.healthcheck import (
    TO_BE_DELETED_TAINT,
    ProxyHealth,
    ProxyHealthServer,
    ServiceHealth,
    SimClock,
    get,
    health_check_ports,
    local_ready_endpoints,
)

WEB = ("default", "web-local")


@pytest.fixture
def clock() -> SimClock:
    return SimClock()


def test_service_health_answers_200_with_the_count_and_503_without(clock: SimClock) -> None:
    proxy = ProxyHealth(clock)
    with ServiceHealth(proxy) as server:
        server.sync_services({WEB: 32011})
        server.sync_endpoints({WEB: 3})
        status, headers, body = get(server.url(WEB, "/any/path"))
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Load-Balancing-Endpoint-Weight"] == "3"
        assert json.loads(body) == {
            "service": {"namespace": "default", "name": "web-local"},
            "localEndpoints": 3,
            "serviceProxyHealthy": True,
        }
        assert body.startswith('{\n\t"service": {\n\t\t"namespace": "default",')
        server.sync_endpoints({})  # a Service not named has no local endpoint
        status, headers, body = get(server.url(WEB))
        assert (status, headers["X-Load-Balancing-Endpoint-Weight"]) == (503, "0")
        assert json.loads(body)["localEndpoints"] == 0


def test_service_health_fails_while_the_proxy_is_unhealthy(clock: SimClock) -> None:
    proxy = ProxyHealth(clock)
    proxy.updated()
    with ServiceHealth(proxy) as server:
        server.sync_services({WEB: 32011})
        server.sync_endpoints({WEB: 1})
        proxy.queued_update()
        clock.advance(59)
        assert get(server.url(WEB))[0] == 200
        clock.advance(1)
        status, _, body = get(server.url(WEB))
        assert status == 503
        assert json.loads(body) == {
            "service": {"namespace": "default", "name": "web-local"},
            "localEndpoints": 1,
            "serviceProxyHealthy": False,
        }


def test_service_listeners_follow_sync_services(clock: SimClock) -> None:
    with ServiceHealth(ProxyHealth(clock)) as server:
        server.sync_services({WEB: 32011, ("default", "other"): 32012})
        old = server.url(WEB)
        server.sync_services({WEB: 32011})
        assert server.url(WEB) == old  # kept as it was
        with pytest.raises(KeyError):
            server.url(("default", "other"))


def test_proxy_healthz_and_livez(clock: SimClock) -> None:
    proxy = ProxyHealth(clock)
    with ProxyHealthServer(proxy) as server:
        status, headers, body = get(server.url("/healthz"))
        assert status == 200 and headers["Content-Type"] == "application/json"
        # starting up: nothing written yet, healthy, no per-family status
        assert json.loads(body) == {
            "lastUpdated": "2026-01-01T00:00:00Z",
            "currentTime": "2026-01-01T00:00:00Z",
            "nodeEligible": True,
            "healthy": True,
        }
        proxy.updated()
        clock.advance(10)
        proxy.queued_update()
        clock.advance(60)
        status, _, body = get(server.url("/healthz"))
        assert status == 503
        assert body == (
            '{"lastUpdated":"2026-01-01T00:00:00Z","currentTime":"2026-01-01T00:01:10Z",'
            '"nodeEligible":true,"healthy":false,'
            '"status":{"IPv4":{"lastUpdated":"2026-01-01T00:00:00Z","healthy":false}}}'
        )
        assert get(server.url("/livez"))[0] == 503
        proxy.updated()
        status, _, body = get(server.url("/livez"))
        assert status == 200
        assert "nodeEligible" not in json.loads(body)
        assert get(server.url("/metrics"))[:2][0] == 404


@pytest.mark.parametrize(
    "node",
    [
        k8s.V1Node(
            metadata=k8s.V1ObjectMeta(
                name="n", deletion_timestamp=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
            )
        ),
        k8s.V1Node(
            metadata=k8s.V1ObjectMeta(name="n"),
            spec=k8s.V1NodeSpec(taints=[k8s.V1Taint(key=TO_BE_DELETED_TAINT, effect="NoSchedule")]),
        ),
    ],
    ids=["deleting", "autoscaler-taint"],
)
def test_healthz_fails_on_a_node_going_away_but_livez_does_not(
    clock: SimClock, node: k8s.V1Node
) -> None:
    proxy = ProxyHealth(clock, node=node)
    proxy.updated()
    with ProxyHealthServer(proxy) as server:
        status, _, body = get(server.url("/healthz"))
        assert (status, json.loads(body)["nodeEligible"]) == (503, False)
        assert get(server.url("/livez"))[0] == 200


def test_counts_per_node_of_the_model_cluster() -> None:
    state = load()
    counts = {
        n.name: local_ready_endpoints(state, proxy_config(n)).get(WEB, 0) for n in nodes(state)
    }
    assert counts == {"node-1": 1, "node-2": 2, "node-3": 0}
    assert health_check_ports(state, proxy_config(nodes(state)[0])) == {WEB: 32011}
    # a terminating endpoint still serves, but the health check does not count it
    rolling = rollout_on(state, "node-1")
    assert local_ready_endpoints(rolling, proxy_config(nodes(rolling)[0])).get(WEB, 0) == 0
