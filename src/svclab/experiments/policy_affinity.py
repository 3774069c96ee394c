"""ClientIP session affinity on the model cluster: the rules each mode writes, and how long a
client stays on its Pod, on the sampler's simulated clock.

A client that opens a new connection within the timeout of its previous one is sent to the
same Pod (the record is refreshed by every new connection); after a longer silence it is
balanced afresh, and lands on its old Pod only by chance (one in three here).

>>> from svclab.experiments.policy_cluster import load
>>> rows = stickiness(load(), gaps=(60, 10_900), clients=30)
>>> [(row["gap_s"], row["same_pod_pct"]) for row in rows]
[(60, 100.0), (10900, 26.7)]
"""

from __future__ import annotations

import functools

import svclab.proxy.ipvs.render as ipvs
import svclab.proxy.nftables.render as nftables
from svclab.api.state import ClusterState
from svclab.experiments.policy_cluster import nodes, proxy_config
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import render as render_iptables
from svclab.proxy.packet import Packet
from svclab.proxy.sampler import Sampler

SERVICE = "web-sticky"


def _cluster_ip(state: ClusterState) -> str:
    return next(s.spec.cluster_ip for s in state.services if s.metadata.name == SERVICE)


def affinity_rules(state: ClusterState, node: str = "node-3") -> dict[str, list[str]]:
    """Mode → the lines of `node`'s rules that implement the Service's affinity.

    iptables: ``recent`` lists (``--rcheck --seconds`` to follow, ``--set`` to record);
    nftables: one set per endpoint with a timeout, and ``update`` to record; IPVS: the virtual
    server's ``persistent`` timeout.
    """
    config = proxy_config(next(n for n in nodes(state) if n.name == node))
    ip = _cluster_ip(state)
    iptables_text = render_iptables(state, config)
    nft_text = nftables.render(state, config)
    ipvs_lines = ipvs.render(state, config).splitlines()
    start = next(i for i, line in enumerate(ipvs_lines) if line.startswith(f"TCP  {ip}:"))
    end = next(
        (i for i in range(start + 1, len(ipvs_lines)) if not ipvs_lines[i].startswith("  ->")),
        len(ipvs_lines),
    )
    return {
        "iptables": [
            line for line in iptables_text.splitlines() if SERVICE in line and "recent" in line
        ],
        "nftables": [
            line
            for line in nft_text.splitlines()
            if SERVICE in line and "affinity-" in line and not line.startswith("flush")
        ],
        "ipvs": ipvs_lines[start:end],
    }


def _rules(state: ClusterState, mode: str, node: str) -> tuple[str, ProxyConfig]:
    config = proxy_config(next(n for n in nodes(state) if n.name == node))
    if mode == "nftables":
        return nftables.render(state, config), config
    if mode == "iptables":
        return render_iptables(state, config), config
    raise ValueError(f"unknown mode {mode!r}; choose iptables or nftables")


def stickiness(
    state: ClusterState,
    gaps: tuple[float, ...] = (60, 3600, 10_799, 10_801, 86_400),
    clients: int = 60,
    mode: str = "iptables",
    seed: int = 0,
) -> list[dict]:
    """For each silence `gap` (seconds): the share of `clients` whose next connection, `gap`
    seconds after their first, reached the same Pod."""
    if clients < 1 or clients > 250:
        raise ValueError("clients must be between 1 and 250")
    ip = _cluster_ip(state)
    text, config = _rules(state, mode, "node-3")
    make = functools.partial(Sampler.for_mode, mode)
    rows = []
    for gap in gaps:
        sample = make(text, config, seed=seed)
        packets = [Packet(f"10.244.3.{i + 1}", ip, 80) for i in range(clients)]
        first = [sample.connect(p, 40000).destination for p in packets]
        for p in packets:
            sample.close(p, 40000)
        sample.advance(gap)
        again = [sample.connect(p, 40001).destination for p in packets]
        same = sum(a == b for a, b in zip(first, again, strict=True))
        rows.append({"gap_s": gap, "same_pod_pct": round(100 * same / clients, 1)})
    return rows
