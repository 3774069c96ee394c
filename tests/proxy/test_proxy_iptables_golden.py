"""Golden tests: svclab's iptables-restore input against upstream kube-proxy's own expectations.

Every expectation below is taken from kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go
(the version cited as NEWEST in shared/reference/kube-proxy-facts.md §0); each test names the
upstream test it reproduces. Inputs are YAML manifests in tests/data/proxy/iptables/.
Full dumps are compared byte for byte after `canonical_sort`, the same idea as upstream's
`sortIPTablesRules`.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from svclab.api.manifests import load_manifests, load_text
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.iptables.render import (
    endpoint_chain,
    jump_rules,
    port_proto_hash,
    probability,
    render,
)
from svclab.proxy.rules.iptables import canonical_sort, parse

DATA = Path(__file__).parent.parent / "data" / "proxy" / "iptables"


def upstream_fake(**changes) -> ProxyConfig:
    """The configuration of upstream's `NewFakeProxier`.

    Node "test-node" with addresses 192.168.0.2, 192.168.1.2 and 192.168.99.11, pod CIDR
    10.0.0.0/8, the fake's mark "0x4000", an iptables without --random-fully, nfacct counters.
    """
    settings = {
        "hostname_override": "test-node",
        "node_ips": ["192.168.0.2", "192.168.1.2", "192.168.99.11"],
        "cluster_cidr": "10.0.0.0/8",
        "masquerade_mark": "0x4000",
        "random_fully": False,
        "nfacct": True,
    }
    settings.update(changes)
    return ProxyConfig(**settings)


def state_of(name: str) -> ClusterState:
    return ClusterState.from_manifests(load_manifests([DATA / f"{name}.yaml"]))


def chain_rules(text: str, table: str, chain: str) -> str:
    """Upstream `assertIPTablesChainEqual`'s view: one chain's rules, one per line."""
    return "".join(rule.raw + "\n" for rule in parse(text)[table].chains.get(chain, []))


@pytest.mark.parametrize(
    "name",
    [
        "overall",  # TestOverallIPTablesRules
        "sync_repeated",  # TestSyncProxyRulesRepeated, its first (full) sync
        "bad_ips",  # TestBadIPs
    ],
)
def test_full_dump_matches_upstream(name):
    """TestOverallIPTablesRules, TestSyncProxyRulesRepeated (first sync), TestBadIPs."""
    expected = (DATA / f"{name}.expected").read_text()
    assert canonical_sort(render(state_of(name), upstream_fake())) == expected


def test_canonical_sort_matches_upstream_sort_cases():
    """TestSortIPTablesRules: "correctly match same service name…" and "unexpected junk lines"."""
    comments = "\n".join(
        f"-A KUBE-SERVICES -m comment --comment {c} {svc} line {n}"
        for c, svc, n in [
            ('"ns2/svc2:p80 cluster IP"', "svc2", 1),
            ("ns2/svc2", "svc2", 2),
            ('"ns2/svc2 blah"', "svc2", 3),
            ('"ns1/svc1:p80 cluster IP"', "svc1", 1),
            ("ns1/svc1", "svc1", 2),
            ('"ns1/svc1 blah"', "svc1", 3),
            ("ns4/svc4", "svc4", 1),
            ('"ns4/svc4:p80 cluster IP"', "svc4", 2),
            ('"ns4/svc4 blah"', "svc4", 3),
            ('"ns3/svc3:p80 cluster IP"', "svc3", 1),
            ('"ns3/svc3 blah"', "svc3", 2),
            ("ns3/svc3", "svc3", 3),
        ]
    )
    sorted_text = canonical_sort(
        f"*filter\nCOMMIT\n*nat\n:KUBE-SERVICES - [0:0]\n{comments}\nCOMMIT\n"
    )
    lines = sorted_text.splitlines()[4:-1]
    assert [line.split()[-3] for line in lines] == ["svc1"] * 3 + ["svc2"] * 3 + ["svc3"] * 3 + [
        "svc4"
    ] * 3
    assert [line.split()[-1] for line in lines[6:9]] == ["1", "2", "3"]

    junk = canonical_sort(
        "*filter\nCOMMIT\n*nat\n"
        ":KUBE-SERVICES - [0:0]\n:KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]\n:KUBE-AAAAA - [0:0]\n"
        ":KUBE-ZZZZZ - [0:0]\n:WHY-IS-THIS-CHAIN-HERE - [0:0]\n"
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1\n'
        "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80\n"
        '-A KUBE-ZZZZZ -m comment --comment "mystery chain number 1"\n'
        "-A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2\n"
        "-A WHY-IS-THIS-CHAIN-HERE -j ACCEPT\n"
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3\n'
        '-A KUBE-AAAAA -m comment --comment "mystery chain number 2"\n'
        "COMMIT\n"
    )
    assert junk == (
        "*filter\nCOMMIT\n*nat\n"
        ":KUBE-SERVICES - [0:0]\n:KUBE-AAAAA - [0:0]\n:KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]\n"
        ":KUBE-ZZZZZ - [0:0]\n:WHY-IS-THIS-CHAIN-HERE - [0:0]\n"
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1\n'
        "-A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2\n"
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3\n'
        '-A KUBE-AAAAA -m comment --comment "mystery chain number 2"\n'
        "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80\n"
        '-A KUBE-ZZZZZ -m comment --comment "mystery chain number 1"\n'
        "-A WHY-IS-THIS-CHAIN-HERE -j ACCEPT\n"
        "COMMIT\n"
    )


FORWARD_TAIL = (
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT\n'
    '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n'
)


@pytest.mark.parametrize(
    ("nfacct", "liberal", "drop_rule"),
    [
        (False, False, "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP\n"),
        (
            True,
            False,
            "-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP\n",
        ),
        (False, True, ""),
    ],
)
def test_drop_invalid_rule(nfacct, liberal, drop_rule):
    """TestDropInvalidRule: the INVALID drop, with nfacct, or gone when tcp_be_liberal is set."""
    text = render(ClusterState(), upstream_fake(nfacct=nfacct, tcp_be_liberal=liberal))
    assert chain_rules(text, "filter", "KUBE-FORWARD") == drop_rule + FORWARD_TAIL


@pytest.mark.parametrize("random_fully", [False, True])
def test_masquerade_rule(random_fully):
    """TestMasqueradeRule: KUBE-POSTROUTING with and without --random-fully."""
    text = render(ClusterState(), upstream_fake(random_fully=random_fully))
    assert chain_rules(text, "nat", "KUBE-POSTROUTING") == (
        "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN\n"
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000\n"
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
        + (" --random-fully" if random_fully else "")
        + "\n"
    )


FIREWALL_RULE = (
    '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 '
    "! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP\n"
)


@pytest.mark.parametrize(
    ("localhost", "addresses", "expect_firewall"),
    [
        (True, [], True),
        (False, [], False),
        (False, ["192.168.0.0/24", "127.0.0.1/32"], False),
        (False, ["192.168.0.0/24", "192.168.1.0/24", "2001:db8::/64"], False),
    ],
)
def test_nodeports_kube_firewall_chain(localhost, addresses, expect_firewall):
    """TestNodePorts (IPv4 cases): KUBE-FIREWALL holds the anti-martian rule only with localhost NodePorts."""
    config = upstream_fake(localhost_nodeports=localhost, nodeport_addresses=addresses)
    text = render(state_of("nodeports"), config)
    assert chain_rules(text, "filter", "KUBE-FIREWALL") == (
        FIREWALL_RULE if expect_firewall else ""
    )


def _large_cluster_state(extra: bool) -> ClusterState:
    """TestSyncProxyRulesLargeClusterMode's services: 2 × 499 endpoints, plus svc3's 3 if `extra`."""
    docs = []
    for ns, name, ip, port, prefix in [
        ("ns1", "svc1", "172.30.0.41", 80, "10.0"),
        ("ns2", "svc2", "172.30.0.42", 8080, "10.1"),
    ]:
        addresses = [f"{prefix}.{i % 256}.{i // 256}" for i in range(1000 // 2 - 1)]
        docs.append(_service_with_slice(ns, name, ip, port, addresses))
    svc3 = ["203.0.113.4", "203.0.113.8", "203.0.113.12"] if extra else []
    docs.append(_service_with_slice("ns3", "svc3", "172.30.0.43", 8081, svc3))
    return ClusterState.from_manifests(load_text("\n---\n".join(docs)))


def _service_with_slice(ns: str, name: str, ip: str, port: int, addresses: list[str]) -> str:
    endpoints = ", ".join(f"{{addresses: [{a}]}}" for a in addresses)
    return (
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}}}\n"
        f"spec: {{clusterIP: {ip}, ports: [{{name: p{port}, port: {port}}}]}}\n---\n"
        f"apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
        f"metadata: {{name: {name}-1, namespace: {ns}, labels: {{kubernetes.io/service-name: {name}}}}}\n"
        f"addressType: IPv4\nendpoints: [{endpoints}]\nports: [{{name: p{port}, port: {port}}}]\n"
    )


def test_large_cluster_mode_drops_endpoint_comments():
    """TestSyncProxyRulesLargeClusterMode: above 1000 endpoints the SEP comments go (full syncs)."""
    config = upstream_fake(masquerade_all=True)
    small = render(_large_cluster_state(extra=False), config)
    dnat = [
        line for line in small.splitlines() if line.startswith("-A KUBE-SEP-") and "-j DNAT" in line
    ]
    assert len(dnat) == 998 and all("--comment" in line for line in dnat)
    assert (
        "-A KUBE-SEP-DKGQUZGBKLTPAR56 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80"
        in dnat
    )

    large = render(_large_cluster_state(extra=True), config).splitlines()
    dnat = [line for line in large if line.startswith("-A KUBE-SEP-") and "-j DNAT" in line]
    assert len(dnat) == 1001 and not any("--comment" in line for line in dnat)
    assert "-A KUBE-SEP-DKGQUZGBKLTPAR56 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80" in dnat
    assert (
        "-A KUBE-SEP-RUVVH7YV3PHQBDOS -m tcp -p tcp -j DNAT --to-destination 203.0.113.4:8081"
        in dnat
    )


@pytest.mark.parametrize(("ip_mode", "expected"), [("Proxy", False), ("VIP", True), (None, True)])
def test_load_balancer_ingress_ip_mode(ip_mode, expected):
    """TestLoadBalancerIngressRouteTypeProxy: an ipMode Proxy ingress IP gets no rule."""
    mode = f", ipMode: {ip_mode}" if ip_mode else ""
    state = ClusterState.from_manifests(
        load_text(f"""
apiVersion: v1
kind: Service
metadata: {{name: svc1, namespace: ns1}}
spec: {{type: LoadBalancer, clusterIP: 10.20.30.41, ports: [{{name: p80, port: 80, nodePort: 3001}}]}}
status: {{loadBalancer: {{ingress: [{{ip: 1.2.3.4{mode}}}]}}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: svc1-1, namespace: ns1, labels: {{kubernetes.io/service-name: svc1}}}}
addressType: IPv4
endpoints: [{{addresses: [10.180.0.1]}}]
ports: [{{name: p80, port: 80}}]
""")
    )
    nat = parse(render(state, upstream_fake()))["nat"].chains["KUBE-SERVICES"]
    assert any("-d 1.2.3.4 " in rule.raw for rule in nat) is expected


def test_compute_probability():
    """TestComputeProbability: fixed strings, and strictly decreasing over 1/n."""
    expected = {
        1: "1.0000000000",
        2: "0.5000000000",
        10: "0.1000000000",
        100: "0.0100000000",
        1000: "0.0010000000",
        10000: "0.0001000000",
        100000: "0.0000100000",
        100001: "0.0000099999",
    }
    assert {n: probability(n) for n in expected} == expected
    values = [float(probability(n)) for n in range(100000, 1, -1)]
    assert all(a < b for a, b in itertools.pairwise(values))


def test_chain_names_from_facts():
    """Chain names recomputed in kube-proxy-facts.md §1.2 (portProtoHash, servicePortEndpointChainName)."""
    assert "KUBE-SVC-" + port_proto_hash("ns1/svc1:p80", "tcp") == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert endpoint_chain("ns1/svc1:p80", "tcp", "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"
    assert "KUBE-SVC-" + port_proto_hash("ns1/svc1", "tcp") == "KUBE-SVC-AQI2S6QIMU7PVVRP"


def test_jump_rules_follow_iptables_jump_chains():
    """iptablesJumpChains (proxier.go) ensured with Prepend: the last one ensured comes first."""
    forward = [r.line for r in jump_rules() if r.table == "filter" and r.chain == "FORWARD"]
    assert [line.rsplit(" ", 1)[1] for line in forward] == [
        "KUBE-PROXY-FIREWALL",
        "KUBE-FORWARD",
        "KUBE-SERVICES",
        "KUBE-EXTERNAL-SERVICES",
    ]
    assert '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in [
        r.line for r in jump_rules()
    ]


def test_real_mark_is_go_hash_08x():
    """facts §1.1: real kube-proxy formats 1<<14 with %#08x; the test fake's 0x4000 is opt-in."""
    text = render(ClusterState(), ProxyConfig(hostname_override="n"))
    assert "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000" in text.splitlines()
