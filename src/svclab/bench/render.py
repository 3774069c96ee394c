"""Seconds to render kube-proxy's rules for 1,000 and 10,000 Services × 5 endpoints, per mode.

The goal: 10,000 Services in under 2 s, and linear: the 10,000 / 1,000 time ratio near 10.
Building the cluster objects is not timed; `render(state, config)` is, best of a few runs.
"""

from __future__ import annotations

import importlib
import time

import kubernetes.client as k8s

from svclab.proxy.config import ProxyConfig
from svclab.state import SERVICE_NAME_LABEL, ClusterState

MODES = {"iptables": "svclab.proxy.iptables", "nftables": "svclab.proxy.nftables"}
CONFIG = ProxyConfig(
    hostname_override="node-0", node_ips=["192.168.0.2"], cluster_cidr="10.0.0.0/8"
)


def synthetic_state(services: int, endpoints: int = 5) -> ClusterState:
    """`services` ClusterIP Services in 10 namespaces, each with `endpoints` ready endpoints on 20 nodes.

    >>> state = synthetic_state(3, 2)
    >>> len(state.services), len(state.endpoint_slices[0].endpoints)
    (3, 2)
    """
    state = ClusterState()
    for i in range(services):
        namespace, name = f"ns{i % 10}", f"svc{i}"
        meta = k8s.V1ObjectMeta(name=name, namespace=namespace)
        port = k8s.V1ServicePort(name="http", port=80, protocol="TCP")
        spec = k8s.V1ServiceSpec(
            cluster_ip=f"172.{16 + i // 65536}.{i // 256 % 256}.{i % 256}", ports=[port]
        )
        state.services.append(k8s.V1Service(metadata=meta, spec=spec))
        eps = [
            k8s.V1Endpoint(
                addresses=[
                    f"10.{(i * endpoints + j) // 65536 % 256}.{(i * endpoints + j) // 256 % 256}.{(i * endpoints + j) % 256}"
                ],
                node_name=f"node-{(i + j) % 20}",
            )
            for j in range(endpoints)
        ]
        slice_meta = k8s.V1ObjectMeta(
            name=f"{name}-1", namespace=namespace, labels={SERVICE_NAME_LABEL: name}
        )
        ports = [k8s.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")]
        state.endpoint_slices.append(
            k8s.V1EndpointSlice(
                metadata=slice_meta, address_type="IPv4", endpoints=eps, ports=ports
            )
        )
    return state


def _best_time(render, state: ClusterState, repeats: int) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(repeats):
        started = time.perf_counter()
        text = render(state, CONFIG)
        best = min(best, time.perf_counter() - started)
        size = text.count("\n")
    return best, size


def run(quick: bool = False) -> list[dict]:
    """One row per mode: seconds for the small and large cluster, their ratio, output lines."""
    small, large = (100, 1000) if quick else (1000, 10000)
    states = {n: synthetic_state(n) for n in (small, large)}
    rows = []
    for mode, module in MODES.items():
        try:
            render = importlib.import_module(module).render
        except (ModuleNotFoundError, AttributeError):
            continue
        t_small, _ = _best_time(render, states[small], 3)
        t_large, lines = _best_time(render, states[large], 2)
        rows.append(
            {
                "mode": mode,
                "services": f"{small} / {large}",
                "endpoints_each": 5,
                "seconds_small": round(t_small, 3),
                "seconds_large": round(t_large, 3),
                "ratio": round(t_large / t_small, 1),
                "lines_large": lines,
            }
        )
    return rows


def main() -> None:
    """Print the table."""
    from svclab.table import format_table

    print(format_table(run()))


if __name__ == "__main__":
    main()
