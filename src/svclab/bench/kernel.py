"""KEP-3866's measurements on a real kernel: rule load time and connect latency vs Service count.

For 100 / 1,000 / 5,000 / 10,000 Services (quick: 100 / 1,000) of `ENDPOINTS` endpoints each:
the time ``iptables-restore --noflush`` (nf_tables backend, Debian's default, and the legacy
backend) or ``nft -f`` takes to load the full-sync rules into an empty node namespace, and the
time to establish a TCP connection from a Pod to one Service, the one whose ClusterIP rule comes
last in iptables' KUBE-SERVICES chain (the worst case of a linear rule list). Each load has a time
budget; a series over it is not tried at larger sizes. Needs root on Linux; elsewhere it returns
one row saying why.

>>> state = synthetic_cluster(3)
>>> [s.metadata.name for s in state.services], len(state.endpoint_slices), len(state.pods)
(['svc-00000', 'svc-00001', 'svc-00002'], 3, 1)
>>> target_state(state).services[0].metadata.name
'svc-00002'
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import kubernetes.client as k8s

from svclab.api.state import SERVICE_NAME_LABEL, ClusterState
from svclab.kernel import kernel_available
from svclab.kernel.drive import connect_latencies
from svclab.kernel.load import MODES, render, restore_command
from svclab.kernel.system import CommandTimeout
from svclab.kernel.topology import KernelNode, plan_topology
from svclab.proxy.config import ProxyConfig
from svclab.report.dataset import save
from svclab.report.tables import format_table

SIZES = (100, 1_000, 5_000, 10_000)
QUICK_SIZES = (100, 1_000)
ENDPOINTS = 5
"""Endpoints per Service, as in the renderer benchmark (10,000 Services x 5 endpoints)."""
CONNECTIONS = 2_000
QUICK_CONNECTIONS = 500
BUDGET = 600.0
"""Seconds one load may take; iptables-restore with the nf_tables backend grows quadratically."""
QUICK_BUDGET = 60.0
SERIES = {
    label: (mode, legacy)
    for mode in MODES
    for label, legacy in ((mode, False), (f"{mode}-legacy", True))
    if not legacy or restore_command(mode, legacy=True) != restore_command(mode)
}
"""Series label -> (kube-proxy mode, legacy iptables backend): every kernel mode, and iptables
once more with its legacy backend."""
WARMUP = 50
"""Connections made before timing starts (ARP, the first conntrack entries, code paths)."""
CONFIG = ProxyConfig(
    hostname_override="node-a", node_ips=["192.168.0.2"], cluster_cidr="10.128.0.0/9"
)
CLIENT_POD = "client"


def _service_ip(i: int) -> str:
    return f"10.96.{i // 250}.{i % 250 + 1}"


def _endpoint_ip(i: int, j: int) -> str:
    n = i * ENDPOINTS + j
    return f"10.{128 + n // 62500}.{n // 250 % 250}.{n % 250 + 1}"


def synthetic_cluster(services: int) -> ClusterState:
    """`services` ClusterIP Services of `ENDPOINTS` endpoints each, plus a client Pod."""
    state = ClusterState()
    for i in range(services):
        name = f"svc-{i:05d}"
        state.services.append(k8s.V1Service(
            metadata=k8s.V1ObjectMeta(name=name, namespace="bench"),
            spec=k8s.V1ServiceSpec(cluster_ip=_service_ip(i), ports=[
                k8s.V1ServicePort(name="http", port=80, target_port=8080, protocol="TCP")]),
        ))  # fmt: skip
        state.endpoint_slices.append(k8s.V1EndpointSlice(
            address_type="IPv4",
            metadata=k8s.V1ObjectMeta(name=f"{name}-1", namespace="bench",
                                      labels={SERVICE_NAME_LABEL: name}),
            endpoints=[k8s.V1Endpoint(addresses=[_endpoint_ip(i, j)], node_name="node-a")
                       for j in range(ENDPOINTS)],
            ports=[k8s.DiscoveryV1EndpointPort(name="http", port=8080, protocol="TCP")],
        ))  # fmt: skip
    state.pods.append(k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=CLIENT_POD, namespace="bench"),
        status=k8s.V1PodStatus(pod_ip="10.255.255.1"),
    ))  # fmt: skip
    return state


def target_state(state: ClusterState) -> ClusterState:
    """Only the last Service (last in KUBE-SERVICES), its slice and the client Pod: what gets
    real Pod namespaces; the other Services' endpoints exist only in the rules."""
    last = state.services[-1]
    slices = state.slices_for("bench", last.metadata.name)
    return ClusterState(services=[last], endpoint_slices=slices, pods=list(state.pods))


def measure(
    label: str, state: ClusterState, text: str, connections: int, budget: float
) -> dict[str, Any]:
    """One row: load time and connect latency for `state`'s rules `text` in series `label`."""
    mode, legacy = SERIES[label]
    row: dict[str, Any] = {"mode": label, "services": len(state.services),
                           "rule_lines": len(text.splitlines())}  # fmt: skip
    target = state.services[-1].spec.cluster_ip
    with KernelNode(plan_topology(target_state(state), CONFIG)) as node:
        started = time.perf_counter()
        try:
            node.load_rules(mode, text, legacy=legacy, timeout=budget)
        except CommandTimeout:
            return {**row, "load_s": f">{budget:g}"}
        row["load_s"] = round(time.perf_counter() - started, 3)
        source = node.pod_netns[CLIENT_POD]
        connect_latencies(source, target, 80, WARMUP)
        times = sorted(connect_latencies(source, target, 80, connections))
    return {
        **row,
        "connect_p50_us": round(statistics.median(times) * 1e6),
        "connect_p99_us": round(times[math.ceil(len(times) * 0.99) - 1] * 1e6),
        "connections": connections,
    }


def run(
    quick: bool = False, sizes: tuple[int, ...] | None = None, connections: int | None = None
) -> list[dict[str, Any]]:
    """The table: one row per (Service count, series); a series that ran over its load budget
    is not tried at larger sizes. `sizes` and `connections` override the (quick) defaults."""
    ok, reason = kernel_available()
    if not ok:
        return [{"skipped": reason}]
    default_sizes, default_connections, budget = (
        (QUICK_SIZES, QUICK_CONNECTIONS, QUICK_BUDGET) if quick else (SIZES, CONNECTIONS, BUDGET)
    )
    sizes, connections = sizes or default_sizes, connections or default_connections
    series = [
        label
        for label, (mode, legacy) in SERIES.items()
        if shutil.which(restore_command(mode, legacy=legacy)[0])
    ]
    rows: list[dict[str, Any]] = []
    for n in sizes:
        state = synthetic_cluster(n)
        texts = {mode: render(mode, state, CONFIG) for mode in MODES}
        for label in series:
            if any(r["mode"] == label and isinstance(r["load_s"], str) for r in rows):
                rows.append({"mode": label, "services": n, "load_s": "not tried"})
                continue
            rows.append(measure(label, state, texts[SERIES[label][0]], connections, budget))
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Load time and connect latency against Service count, one line per mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (load_ax, latency_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for (label, _), color in zip(SERIES.items(), ("C0", "C1", "C2"), strict=True):
        mine = [r for r in rows if r.get("mode") == label and "connect_p50_us" in r]
        n = [r["services"] for r in mine]
        load_ax.plot(n, [r["load_s"] for r in mine], "o-", color=color, label=label)
        for key, style in (("connect_p50_us", "o-"), ("connect_p99_us", "x--")):
            latency_ax.plot(n, [r[key] for r in mine], style, color=color,
                            label=f"{label} {key.split('_')[1]}")  # fmt: skip
    load_ax.set(
        xscale="log",
        yscale="log",
        xlabel="Services",
        ylabel="seconds",
        title="Loading the full rule set",
    )
    latency_ax.set(
        xscale="log",
        yscale="log",
        xlabel="Services",
        ylabel="microseconds",
        title="Connecting to the last Service",
    )
    for ax in (load_ax, latency_ax):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """``python -m svclab.bench.kernel [--quick] [--plot PATH]``: print the table, save the plot."""
    parser = argparse.ArgumentParser(prog="python -m svclab.bench.kernel")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 Services only")
    parser.add_argument(
        "--plot",
        type=Path,
        default=Path("_build/bench/kernel.png"),
        help="where to save the plot (default _build/bench/kernel.png)",
    )
    parser.add_argument("--sizes", help="comma-separated Service counts (default: by --quick)")
    parser.add_argument("--connections", type=int, help="timed connections per size")
    parser.add_argument("--dataset", type=Path, help="also save the rows with their provenance")
    args = parser.parse_args(argv)
    sizes = tuple(int(n) for n in args.sizes.split(",")) if args.sizes else None
    rows = run(quick=args.quick, sizes=sizes, connections=args.connections)
    print(format_table(rows))
    if args.dataset and "skipped" not in rows[0]:
        save(args.dataset, rows, "python -m svclab.bench.kernel " + " ".join(argv or sys.argv[1:]))
    if "skipped" not in rows[0]:
        plot(rows, args.plot)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
