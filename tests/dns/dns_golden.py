"""Helpers shared by the DNS golden tests: clusters from YAML text, answers as comparable lines."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import dns.rdatatype
import dns.rrset

from svclab.api.manifests import load_manifests, load_text
from svclab.api.state import ClusterState

DATA = Path(__file__).parent.parent / "data" / "dns"


def cluster(text: str) -> ClusterState:
    """A ClusterState from inline YAML."""
    return ClusterState.from_manifests(load_text(text, "<test>"))


def cluster_file(name: str) -> ClusterState:
    """A ClusterState from tests/data/dns/`name`."""
    return ClusterState.from_manifests(load_manifests([DATA / name]))


def lines(rrsets: Iterable[dns.rrset.RRset]) -> list[str]:
    """Records as sorted lowercase text lines; an SOA's serial becomes SERIAL (upstream tests
    compare SOAs without it)."""
    out = []
    for rrset in rrsets:
        for line in rrset.to_text().splitlines():
            parts = line.lower().split()
            if rrset.rdtype == dns.rdatatype.SOA:
                parts[6] = "serial"
            out.append(" ".join(parts))
    return sorted(out)


def norm(*texts: str) -> list[str]:
    """Expected records written as in upstream tests (tabs, any spacing) as `lines` shows them."""
    return lines(dns.rrset.from_text(*_split(t)) for t in texts)


def _split(text: str) -> tuple:
    name, ttl, cls, rdtype, *rdata = text.split()
    return name, int(ttl), cls, rdtype, " ".join(rdata)


SOA_CLUSTER = (
    "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
)
