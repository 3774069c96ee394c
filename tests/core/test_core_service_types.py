"""Chapter 10's package functions: what each Service type creates, NodePort addresses per mode,
the static-band collision measurement, DenyServiceExternalIPs, the path figure, virtual hosts."""

from __future__ import annotations

import pytest

import svclab.proxy.iptables.render as iptables
import svclab.proxy.iptables.trace as iptables_trace
import svclab.proxy.nftables.render as nftables
import svclab.proxy.nftables.trace as nftables_trace
from svclab.api.manifests import load_text
from svclab.cluster import Cluster
from svclab.errors import ManifestError
from svclab.experiments import collisions
from svclab.pages.service_types import (
    nodeport_answers,
    service_rules,
    what_is_created,
    with_ip_mode,
)
from svclab.pages.vhost import VirtualHosts, get
from svclab.proxy.config import ProxyConfig
from svclab.proxy.packet import Packet
from svclab.report.pathdiagram import path_graph

SHOP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec: {containers: [{name: web, image: "shop:1"}]}
---
apiVersion: v1
kind: Service
metadata: {name: np}
spec: {type: NodePort, selector: {app: shop}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  selector: {app: shop}
  ports: [{name: http, port: 80}]
  loadBalancerSourceRanges: [198.51.100.0/24]
status: {loadBalancer: {ingress: [{ip: 192.0.2.80}]}}
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, externalName: api.example.com}
---
apiVersion: v1
kind: Service
metadata: {name: eip}
spec: {selector: {app: shop}, externalIPs: [203.0.113.10], ports: [{name: http, port: 80}]}
"""
NODE = ["172.18.0.2", "10.10.0.2"]
CONFIG = ProxyConfig(hostname_override="node-1", node_ips=NODE, cluster_cidr="10.244.0.0/16")


@pytest.fixture(scope="module")
def cluster() -> Cluster:
    cluster = Cluster(seed=3)
    for manifest in load_text(SHOP):
        cluster.apply(manifest.obj)
    cluster.run_until_idle()
    return cluster


def port_of(cluster: Cluster, name: str) -> int:
    return cluster.get("Service", "default", name).spec.ports[0].node_port


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_table_reads_what_each_type_created(cluster, lang):
    rows = {
        row["Service"]: list(row.values()) for row in what_is_created(cluster.state(), CONFIG, lang)
    }
    assert set(rows) == {"np", "lb", "ext", "eip"}
    kind, _, ip, ports, entries, rules, dns = rows["ext"]
    assert (kind, rules, dns) == ("ExternalName", 0, "CNAME api.example.com.")
    kind, _, ip, ports, entries, rules, dns = rows["np"]
    assert ports == f"80 → {port_of(cluster, 'np')}" and dns == f"A {ip}" and rules > 0
    assert f":{port_of(cluster, 'np')}" in entries and f"{ip}:80" in entries
    assert "192.0.2.80:80" in rows["lb"][4] and "203.0.113.10:80" in rows["eip"][4]
    assert ("每个节点" in rows["np"][4]) == (lang == "zh_CN")


def test_source_ranges_become_a_firewall_chain(cluster):
    rules = service_rules(iptables.render(cluster.state(), CONFIG), "default", "lb")
    assert any("KUBE-FW-" in r and "-s 198.51.100.0/24" in r for r in rules)
    assert any(r.startswith("-A KUBE-PROXY-FIREWALL") and r.endswith("-j DROP") for r in rules)
    text = iptables.render(cluster.state(), CONFIG)
    allowed = iptables_trace.trace(text, Packet("198.51.100.9", "192.0.2.80", 80), CONFIG)
    refused = iptables_trace.trace(text, Packet("203.0.113.99", "192.0.2.80", 80), CONFIG)
    assert allowed.verdict == "DNAT" and refused.verdict == "DROP"


def test_nodeports_answer_on_every_address_in_iptables_and_the_primary_one_in_nftables(cluster):
    rows = {
        row["mode"]: row for row in nodeport_answers(cluster.state(), port_of(cluster, "np"), NODE)
    }
    assert [rows["iptables"][a] for a in (*NODE, "127.0.0.1")] == ["DNAT"] * 3
    assert [rows["nftables"][a] for a in (*NODE, "127.0.0.1")] == ["DNAT", "NO-MATCH", "NO-MATCH"]


def test_any_service_author_captures_an_external_address(cluster):
    # a Pod's packet to 203.0.113.10 (not a cluster address) is DNATed to the Service's Pods
    text = iptables.render(cluster.state(), CONFIG)
    result = iptables_trace.trace(text, Packet("10.244.0.9", "203.0.113.10", 80), CONFIG)
    pods = {p.status.pod_ip for p in cluster.list("Pod")}
    assert result.verdict == "DNAT" and {d.split(":")[0] for d in result.destinations} == pods


def test_deny_service_external_ips_refuses_new_ones_and_keeps_old_ones():
    cluster = Cluster(admission_plugins=["DenyServiceExternalIPs"])
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "grab"},
        "spec": {"externalIPs": ["203.0.113.10"], "ports": [{"port": 80}]},
    }
    with pytest.raises(ManifestError, match=r"spec\.externalIPs: Forbidden: Use of external IPs"):
        cluster.apply(service)
    assert not [s for s in cluster.list("Service") if s.metadata.name == "grab"]
    open_cluster = Cluster()
    open_cluster.apply(service)
    open_cluster.admission_plugins = ("DenyServiceExternalIPs",)  # turned on later
    kept = open_cluster.apply(service)  # an update that keeps the address is admitted
    assert kept.spec.external_ips == ["203.0.113.10"]
    added = {
        **service,
        "spec": {**service["spec"], "externalIPs": ["203.0.113.10", "203.0.113.11"]},
    }
    with pytest.raises(ManifestError, match="Forbidden"):
        open_cluster.apply(added)
    with pytest.raises(ManifestError, match="unknown plugin 'NoSuchPlugin'"):
        Cluster(admission_plugins=["NoSuchPlugin"])


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_nodeport_path_runs_through_the_node_ports_chain_to_every_pod(cluster, mode):
    render, trace = {
        "iptables": (iptables.render, iptables_trace.trace),
        "nftables": (nftables.render, nftables_trace.trace),
    }[mode]
    result = trace(
        render(cluster.state(), CONFIG),
        Packet("198.51.100.7", NODE[0], port_of(cluster, "np")),
        CONFIG,
    )
    graph = path_graph(result)
    names = [node.name for node in graph.nodes]
    entry = {"iptables": "KUBE-NODEPORTS", "nftables": "services"}[mode]
    assert entry in names, names
    assert len(result.destinations) == 2
    assert {n.name for n in graph.nodes if n.kind == "endpoint"} >= set(result.destinations)


def test_path_of_a_dropped_packet_ends_in_its_verdict(cluster):
    text = iptables.render(cluster.state(), CONFIG)
    result = iptables_trace.trace(text, Packet("203.0.113.99", "192.0.2.80", 80), CONFIG)
    assert result.verdict == "DROP"
    assert [n.name for n in path_graph(result).nodes if n.kind == "verdict"] == ["DROP"]


def test_static_band_keeps_hand_picked_values_free_until_the_upper_band_is_full():
    for kind in collisions.KINDS:
        limit = collisions.band_fill_limit(kind)
        fills = (0.5, round(limit - 0.01, 2), 0.99)
        rows = collisions.collision_rates(kind, fills, runs=6, picks=40, seed=7)
        banded = {r["fill_pct"]: r["rate_pct"] for r in rows if r["banded"]}
        plain = {r["fill_pct"]: r["rate_pct"] for r in rows if not r["banded"]}
        below = round(100 * fills[1])
        assert banded[50] == banded[below] == 0
        assert banded[99] > 30  # the band itself is being used up
        assert 35 < plain[50] < 65 and plain[99] > 90  # about the fill, without the band
    with pytest.raises(ValueError, match="unknown kind"):
        collisions.collision_rates("LoadBalancer")
    with pytest.raises(ValueError, match="fills"):
        collisions.collision_rates("NodePort", fills=(1.0,))


def test_virtual_hosts_route_by_host_header():
    with VirtualHosts({"api.example.com": "api"}) as server:
        assert get(server.address, "API.example.com") == "200 api"
        assert get(server.address, "ext.default.svc.cluster.local").startswith("404 ")


@pytest.mark.parametrize("lang", ["en", "zh_CN"])
def test_collision_figure_has_a_panel_per_kind_with_the_band_limit(lang):
    result = collisions.measure(fills=(0.5, 0.99), runs=2, picks=10)
    fig = result.figure(lang)
    assert [ax.get_title() for ax in fig.axes] == list(collisions.KINDS)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert len(labels) == 3 and (("静态段" in labels[0]) == (lang == "zh_CN"))
    limits = [ax.lines[-1].get_xdata()[0] for ax in fig.axes]
    assert limits == [100 * collisions.band_fill_limit(kind) for kind in collisions.KINDS]


def test_ip_mode_proxy_removes_the_short_cut_for_the_load_balancer_ip(cluster):
    from_pod = Packet("10.244.0.9", "192.0.2.80", 80)
    outside = Packet("198.51.100.9", "192.0.2.80", 80)
    vip = with_ip_mode(cluster.state(), "default", "lb", "VIP")
    proxy = with_ip_mode(cluster.state(), "default", "lb", "Proxy")
    vip_text, proxy_text = iptables.render(vip, CONFIG), iptables.render(proxy, CONFIG)
    assert any("192.0.2.80" in r for r in service_rules(vip_text, "default", "lb"))
    assert not any("192.0.2.80" in r for r in service_rules(proxy_text, "default", "lb"))
    assert iptables_trace.trace(vip_text, from_pod, CONFIG).verdict == "DROP"  # source ranges
    assert iptables_trace.trace(vip_text, outside, CONFIG).verdict == "DNAT"
    assert iptables_trace.trace(proxy_text, from_pod, CONFIG).verdict == "NO-MATCH"
    assert cluster.get("Service", "default", "lb").status.load_balancer.ingress[0].ip_mode is None
    with pytest.raises(ValueError, match="ipMode"):
        with_ip_mode(cluster.state(), "default", "lb", "DSR")
    with pytest.raises(LookupError):
        with_ip_mode(cluster.state(), "default", "nope", "VIP")


def test_band_sizes_in_both_languages():
    en, zh = collisions.band_sizes(lang="en"), collisions.band_sizes(lang="zh_CN")
    assert [r["band size"] for r in en] == [r["静态段大小"] for r in zh] == [256, 256, 16, 0, 86]
    assert en[-1]["static band"] == "30000 – 30085" and en[3]["static band"] == "—"


def test_load_balancer_without_node_ports(cluster):
    svc = cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "direct"},
            "spec": {
                "type": "LoadBalancer",
                "allocateLoadBalancerNodePorts": False,
                "ports": [{"port": 80}],
            },
        }
    )
    text = iptables.render(cluster.state(), CONFIG)
    assert svc.spec.ports[0].node_port is None
    assert not [r for r in service_rules(text, "default", "direct") if "KUBE-NODEPORTS" in r]
    cluster.delete("Service", "default", "direct")
