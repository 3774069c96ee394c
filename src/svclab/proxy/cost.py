"""What a first packet costs per data plane, and how big the rule set is, as Services grow.

For the scaling lesson: each number comes from running a tracer over the rendered rules of a
generated cluster, never from a formula —

- iptables: rules the iptables tracer evaluates for the first packet (`TraceResult.evaluated`);
- nftables: rules and map lookups the nftables tracer evaluates;
- ipvs: iptables rules evaluated plus hash lookups (ipset matches and the IPVS service lookup),
  from the IPVS tracer.

Rule-set size counts what the kernel holds: iptables ``-A`` rules; nftables rules plus set and
map elements; IPVS iptables rules plus ipset members, virtual servers and real servers.

>>> row = measure("nftables", 20, 2)
>>> row["mode"], row["services"], row["endpoints_per_service"], row["verdict"]
('nftables', 20, 2, 'DNAT')
>>> small, large = measure("iptables", 10, 1), measure("iptables", 40, 1)
>>> large["first_packet"] > small["first_packet"]
True
"""

from __future__ import annotations

import ipaddress
import random

import kubernetes.client as k8s

from svclab.api.state import SERVICE_NAME_LABEL, ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.modes import get as get_mode
from svclab.proxy.modes import names as mode_names
from svclab.proxy.packet import Packet

MODES = mode_names()
SERVICE_BASE = ipaddress.IPv4Address("10.96.0.1")
POD_BASE = ipaddress.IPv4Address("10.244.0.1")
NAMESPACE = "bench"
NODES = tuple(f"node-{i}" for i in range(1, 11))
"""Endpoints are spread over these nodes; the cost config is node-1 with the 10.244/16 detector."""
CONFIG = ProxyConfig(
    hostname_override="node-1", node_ips=["192.168.0.2"], cluster_cidr="10.244.0.0/16"
)
CLIENT = "10.244.255.254"
"""The first packet's source: a pod on this node."""


def service_ip(index: int) -> str:
    """The ClusterIP `synthetic_state` gives Service number `index` (0-based).

    >>> service_ip(0), service_ip(300)
    ('10.96.0.1', '10.96.1.45')
    """
    return str(SERVICE_BASE + index)


def synthetic_state(n_services: int, endpoints_per_service: int, seed: int = 0) -> ClusterState:
    """`n_services` ClusterIP Services (TCP 80 → 8080), each with an EndpointSlice of
    `endpoints_per_service` ready endpoints spread at random (by `seed`) over `NODES`.

    Services are named ``svc-000000``… in namespace ``bench`` so kube-proxy's name order is
    the index order.

    >>> state = synthetic_state(3, 2, seed=1)
    >>> [s.spec.cluster_ip for s in state.services]
    ['10.96.0.1', '10.96.0.2', '10.96.0.3']
    >>> [e.addresses[0] for e in state.endpoint_slices[2].endpoints]
    ['10.244.0.5', '10.244.0.6']
    """
    if n_services < 0 or endpoints_per_service < 0 or n_services > 2**20:
        raise ValueError("need 0 <= n_services <= 2**20 and endpoints_per_service >= 0")
    rng = random.Random(seed)
    state = ClusterState()
    for i in range(n_services):
        name = f"svc-{i:06d}"
        state.services.append(
            k8s.V1Service(
                metadata=k8s.V1ObjectMeta(name=name, namespace=NAMESPACE),
                spec=k8s.V1ServiceSpec(
                    type="ClusterIP",
                    cluster_ip=service_ip(i),
                    cluster_ips=[service_ip(i)],
                    ports=[
                        k8s.V1ServicePort(name="http", port=80, protocol="TCP", target_port=8080)
                    ],
                ),
            )
        )
        endpoints = [
            k8s.V1Endpoint(
                addresses=[str(POD_BASE + i * endpoints_per_service + j)],
                conditions=k8s.V1EndpointConditions(ready=True, serving=True, terminating=False),
                node_name=rng.choice(NODES),
            )
            for j in range(endpoints_per_service)
        ]
        state.endpoint_slices.append(
            k8s.V1EndpointSlice(
                address_type="IPv4",
                metadata=k8s.V1ObjectMeta(
                    name=f"{name}-1", namespace=NAMESPACE, labels={SERVICE_NAME_LABEL: name}
                ),
                endpoints=endpoints,
                ports=[k8s.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")],
            )
        )
    return state


def measure(
    mode: str,
    n_services: int,
    endpoints_per_service: int,
    target: int | None = None,
    seed: int = 0,
) -> dict:
    """One row: first-packet cost to Service `target` (default: the last one, the worst case
    for iptables's linear KUBE-SERVICES) and the rule-set size, in `mode`."""
    if n_services < 1:
        raise ValueError("need at least one Service to send a packet to")
    state = synthetic_state(n_services, endpoints_per_service, seed)
    return _measure(mode, state, n_services, endpoints_per_service, target)


def _measure(
    mode: str, state: ClusterState, n_services: int, endpoints_per_service: int, target: int | None
) -> dict:
    spec = get_mode(mode)
    index = n_services - 1 if target is None else target
    packet = Packet(CLIENT, service_ip(index), 80)
    text = spec.render(state, CONFIG)
    result = spec.tracer(text, CONFIG).trace(packet)
    rules, elements = spec.rule_set_size(text, CONFIG)
    row: dict = {
        "mode": mode,
        "services": n_services,
        "endpoints_per_service": endpoints_per_service,
        "first_packet": result.evaluated,
        "lookups": result.lookups,
        "rules": rules,
        "elements": elements,
    }
    row["size"] = row["rules"] + row["elements"]
    row["verdict"] = result.verdict
    return row


def table(
    sizes: tuple[int, ...] = (10, 100, 1000),
    endpoints_per_service: int = 5,
    modes: tuple[str, ...] = MODES,
) -> list[dict]:
    """`measure` for every mode and size: the rows of the scaling lesson's table.

    >>> [r["first_packet"] for r in table((5,), 1, ("ipvs",))] == [measure("ipvs", 5, 1)["first_packet"]]
    True
    """
    rows = []
    for n in sizes:
        rows.extend(
            table_for(synthetic_state(n, endpoints_per_service), endpoints_per_service, modes)
        )
    return sorted(rows, key=lambda row: MODES.index(row["mode"]))


def table_for(
    state: ClusterState, endpoints_per_service: int, modes: tuple[str, ...] = MODES
) -> list[dict]:
    """`measure` of an already built `synthetic_state`, one row per mode."""
    n = len(state.services)
    return [_measure(mode, state, n, endpoints_per_service, None) for mode in modes]
