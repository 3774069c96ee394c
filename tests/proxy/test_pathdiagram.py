"""The packet-path diagram is read off a real trace: its boxes and arrows are the rules that matched."""

from __future__ import annotations

from pathlib import Path

import pytest

from svclab.api.manifests import load_manifests
from svclab.api.state import ClusterState
from svclab.proxy import modes
from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import Packet
from svclab.report.pathdiagram import LEGEND, NEXT_HOOK, path_figure, path_graph

LAB = Path(__file__).parents[2] / "labs" / "manifests" / "kernel-node.yaml"
CONFIG = ProxyConfig(
    hostname_override="node-a", node_ips=["192.168.0.2"], cluster_cidr="10.244.0.0/16"
)
STATE = ClusterState.from_manifests(load_manifests([LAB]))
WEB = Packet("10.244.1.9", "10.96.0.10", 80)
EMPTY = Packet("10.244.1.9", "10.96.0.30", 80)


def traced(mode: str, packet: Packet):
    return modes.trace(mode, modes.render(mode, STATE, CONFIG), packet, CONFIG)


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_endpoints_are_the_traced_destinations(mode):
    result = traced(mode, WEB)
    graph = path_graph(result)
    endpoints = {n.name for n in graph.nodes if n.kind == "endpoint"}
    assert (
        endpoints
        == set(result.destinations)
        == {"10.244.1.2:8080", "10.244.1.3:8080", "10.244.2.4:8080"}
    )
    keys = {n.key for n in graph.nodes}
    assert all(e.src in keys and e.dst in keys for e in graph.edges)
    # every box but the first hook is reached by exactly one arrow
    reached = [e.dst for e in graph.edges]
    assert sorted(reached) == sorted(n.key for n in graph.nodes[1:])


def test_iptables_boxes_are_the_chains_jumped_to():
    result = traced("iptables", WEB)
    graph = path_graph(result)
    jumped = {rule.split(" -j ")[1].split()[0] for rule in result.rules if " -j KUBE-" in rule}
    assert {n.name for n in graph.nodes if n.kind == "chain"} == jumped
    assert [h.name for h in graph.hooks()] == ["PREROUTING", "FORWARD", "POSTROUTING"]
    # the statistic rules' conditional probabilities label the arrows into the KUBE-SEP chains
    into_sep = [e.label for e in graph.edges if e.dst[2].startswith("KUBE-SEP-")]
    assert into_sep == ["p=0.33", "p=0.50", ""]


def test_nftables_numgen_branches_and_hooks():
    graph = path_graph(traced("nftables", WEB))
    assert [h.name for h in graph.hooks()][:2] == ["filter-prerouting-pre-dnat", "nat-prerouting"]
    labels = [e.label for e in graph.edges if e.dst[2].startswith("endpoint-")]
    assert labels == ["numgen 0/3", "numgen 1/3", "numgen 2/3"]


def test_ipvs_server_choice_is_its_own_hook():
    graph = path_graph(traced("ipvs", WEB))
    assert [h.name for h in graph.hooks()] == ["PREROUTING", "INPUT", "IPVS", "POSTROUTING"]
    ipvs_key = graph.hooks()[2].key
    assert {n.kind for n in graph.children(ipvs_key)} == {"endpoint"}


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_service_without_endpoints_ends_in_a_reject_box(mode):
    graph = path_graph(traced(mode, EMPTY))
    assert [n.name for n in graph.nodes if n.kind == "verdict"] == ["REJECT"]
    assert not [n for n in graph.nodes if n.kind == "endpoint"]


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_figure_is_svg_labelled_in_the_page_language(lang):
    result = traced("nftables", WEB)
    svg = path_figure(result, lang).svg()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    other = "zh_CN" if lang == "en" else "en"
    for text in (LEGEND["chain"], LEGEND["hook"], NEXT_HOOK):
        assert text[lang] in svg
        assert text[other] not in svg
    # every chain name is in the drawing (wrapped names: their first line)
    for node in path_graph(result).nodes:
        assert node.name[:20] in svg


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="unknown language"):
        path_figure(traced("iptables", WEB), "fr")
