"""Shared by the kernel tests: the test cluster, and what "nothing left behind" means."""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import require

from svclab.api.manifests import load_manifests
from svclab.api.state import ClusterState
from svclab.kernel import kernel_available
from svclab.kernel.names import RunName
from svclab.kernel.netns import list_netns
from svclab.kernel.system import run
from svclab.proxy.config import ProxyConfig

MANIFESTS = Path(__file__).resolve().parents[2] / "labs" / "manifests" / "kernel-node.yaml"
"""The lab's manifests, shared by the lab, its page (docs/*/labs/real-kernel.md) and the tests."""
CONFIG = ProxyConfig(
    hostname_override="node-a", node_ips=["192.168.0.2"], cluster_cidr="10.244.0.0/16"
)
"""node-a as the manifests describe it (their comment says so)."""


def need_kernel() -> None:
    """Skip (fail in CI) unless this machine can run the kernel lab."""
    require(*kernel_available(), apt="iproute2 iptables nftables conntrack")


def cluster() -> ClusterState:
    """The cluster of labs/manifests/kernel-node.yaml."""
    return ClusterState.from_manifests(load_manifests([MANIFESTS]))


def host_snapshot() -> dict[str, str]:
    """The host namespace's rules and the sysctls the lab sets inside its own namespaces."""
    sysctls = ("ip_forward", "conf/all/route_localnet", "icmp_ratelimit")
    return {
        # Counters and "Generated on <date>" lines change by themselves; the rules must not.
        "iptables": re.sub(r"\[\d+:\d+\]|^#.*$", "", run(["iptables-save"]), flags=re.M),
        "nft": run(["nft", "list", "ruleset"]),
        **{s: Path("/proc/sys/net/ipv4", s).read_text() for s in sysctls},
    }


def leftovers(run_name: RunName) -> list[str]:
    """Namespaces of the run, interfaces with its prefix in the host, and live processes inside."""
    found = [ns for ns in list_netns() if ns.startswith(run_name.prefix)]
    found += [name for name in os.listdir("/sys/class/net") if name.startswith(run_name.link(""))]
    return found
