"""Golden tests for the IPVS renderer, each taken from kubernetes/kubernetes
`pkg/proxy/ipvs/proxier_test.go` (the 1.35-era file; test named in each docstring).

Upstream's IPVS tests compare a fake IPVS table, fake ipsets and the fake iptables chains with
expected structures rather than text; these tests make the same comparisons against
`svclab.proxy.ipvs.render.build` (virtual servers, set members) and the rendered restore text (per chain:
target, ``--match-set`` name, ``-s``). Upstream's fake proxier runs on node ``test-hostname``
with the no-op local-traffic detector (no ``--cluster-cidr``).
"""

from __future__ import annotations

import pytest

from svclab.api.manifests import load_text
from svclab.api.state import ClusterState
from svclab.proxy.config import ProxyConfig
from svclab.proxy.ipvs.render import IPVSState, build
from svclab.proxy.rules.iptables import parse

HOST = "test-hostname"


def _state(text: str) -> ClusterState:
    return ClusterState.from_manifests(load_text(text, "test"))


def _config(**kwargs: object) -> ProxyConfig:
    return ProxyConfig(hostname_override=HOST, masquerade_mark="0x4000", **kwargs)  # type: ignore[arg-type]


def _servers(ipvs: IPVSState) -> dict[tuple[str, str, int], list[str]]:
    """Virtual server key → real servers (``ip:port``), like upstream's FakeIPVS maps."""
    return {vs.key: sorted(rs.address for rs in vs.real_servers) for vs in ipvs.virtual_servers}


def _chain(ipvs: IPVSState, chain: str) -> list[tuple[str, str, str]]:
    """(target, match set, source) per rule of `chain` in nat then filter, as upstream's
    `checkIptables` reads its fake iptables (which keeps both tables' chains under one name)."""
    tables = parse(ipvs.restore)
    rows = []
    for table in ("nat", "filter"):
        for rule in tables[table].chains.get(chain, []):
            args = rule.args
            target = args[args.index("-j") + 1]
            match_set = args[args.index("--match-set") + 1] if "--match-set" in args else ""
            source = (
                args[args.index("-s") + 1]
                if "-s" in args and "!" not in args[args.index("-s") - 1 : args.index("-s")]
                else ""
            )
            rows.append((target, match_set, source))
    return rows


def _slice(
    ns: str, svc: str, port_name: str, endpoints: str, protocol: str = "TCP", port: int = 80
) -> str:
    return f"""
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: {svc}-1, namespace: {ns}, labels: {{kubernetes.io/service-name: {svc}}}}}
addressType: IPv4
endpoints: {endpoints}
ports: [{{name: "{port_name}", port: {port}, protocol: {protocol}}}]
"""


NODEPORT_SVC = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  type: NodePort
  clusterIP: 10.20.30.41
  externalTrafficPolicy: %(etp)s
  ports: [{name: p80, port: 80, protocol: %(proto)s, nodePort: 3001}]
"""


def test_node_port_tcp_two_endpoint_slices():
    """TestNodePortIPv4 "1 service with node port, has 2 endpoints": the IPv6 slice and the
    IPv6 node IP are ignored by the IPv4 proxier."""
    text = (
        NODEPORT_SVC % {"etp": "Cluster", "proto": "TCP"}
        + "---"
        + _slice("ns1", "svc1", "p80", "[{addresses: [10.180.0.1]}]")
        + """---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc1-2, namespace: ns1, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv6
endpoints: [{addresses: ["1002:ab8::2:10"]}]
ports: [{name: p80, port: 80, protocol: TCP}]
"""
    )
    ipvs = build(_state(text), _config(node_ips=["100.101.102.103", "2001:db8::1:1"]))
    assert _servers(ipvs) == {
        ("TCP", "10.20.30.41", 80): ["10.180.0.1:80"],
        ("TCP", "100.101.102.103", 3001): ["10.180.0.1:80"],
    }
    assert all(vs.scheduler == "rr" and vs.persistent == 0 for vs in ipvs.virtual_servers)


def test_node_port_udp_sets_and_chains():
    """TestNodePortIPv4 "1 UDP service with node port, has endpoints" (nodePortAddresses 0.0.0.0/0)."""
    text = (
        NODEPORT_SVC % {"etp": "Cluster", "proto": "UDP"}
        + "---"
        + _slice("ns1", "svc1", "p80", "[{addresses: [10.180.0.1]}]", "UDP")
    )
    ipvs = build(
        _state(text), _config(node_ips=["100.101.102.103"], nodeport_addresses=["0.0.0.0/0"])
    )
    assert _servers(ipvs) == {
        ("UDP", "10.20.30.41", 80): ["10.180.0.1:80"],
        ("UDP", "100.101.102.103", 3001): ["10.180.0.1:80"],
    }
    assert ipvs.ipset("KUBE-NODE-PORT-UDP").entries == ("3001",)
    assert _chain(ipvs, "KUBE-NODE-PORT") == [
        ("KUBE-MARK-MASQ", "KUBE-NODE-PORT-UDP", ""),
        ("ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT", ""),
    ]
    assert _chain(ipvs, "KUBE-SERVICES") == [
        ("RETURN", "", "127.0.0.0/8"),
        ("KUBE-MARK-MASQ", "KUBE-CLUSTER-IP", ""),
        ("KUBE-NODE-PORT", "", ""),
        ("ACCEPT", "KUBE-CLUSTER-IP", ""),
    ]


def test_node_port_without_endpoints():
    """TestNodePortIPv4 "service has node port but no endpoints": both virtual servers, no real servers."""
    ipvs = build(
        _state(NODEPORT_SVC % {"etp": "Cluster", "proto": "TCP"}),
        _config(node_ips=["100.101.102.103"]),
    )
    assert _servers(ipvs) == {("TCP", "10.20.30.41", 80): [], ("TCP", "100.101.102.103", 3001): []}


def test_node_port_sctp_on_several_node_ips():
    """TestNodePortIPv4 "node port service with protocol sctp on a node with multiple nodeIPs":
    SCTP NodePorts live in a hash:ip,port set with one entry per node IP."""
    text = (
        NODEPORT_SVC % {"etp": "Cluster", "proto": "SCTP"}
        + "---"
        + _slice("ns1", "svc1", "p80", "[{addresses: [10.180.0.1]}]", "SCTP")
    )
    node_ips = ["100.101.102.103", "100.101.102.104", "100.101.102.105", "2001:db8::1:1"]
    ipvs = build(_state(text), _config(node_ips=node_ips))
    assert sorted(_servers(ipvs)) == [
        ("SCTP", "10.20.30.41", 80),
        ("SCTP", "100.101.102.103", 3001),
        ("SCTP", "100.101.102.104", 3001),
        ("SCTP", "100.101.102.105", 3001),
    ]
    assert ipvs.ipset("KUBE-NODE-PORT-SCTP-HASH").entries == (
        "100.101.102.103,sctp:3001",
        "100.101.102.104,sctp:3001",
        "100.101.102.105,sctp:3001",
    )


def test_node_port_sctp_local_policy():
    """TestNodePortIPv4 "node port service with protocol sctp and externalTrafficPolicy local"."""
    endpoints = f"[{{addresses: [10.180.0.1], nodeName: {HOST}}}, {{addresses: [10.180.1.1], nodeName: otherHost}}]"
    text = (
        NODEPORT_SVC % {"etp": "Local", "proto": "SCTP"}
        + "---"
        + _slice("ns1", "svc1", "p80", endpoints, "SCTP")
    )
    ipvs = build(_state(text), _config(node_ips=["100.101.102.103"]))
    assert _servers(ipvs) == {
        ("SCTP", "10.20.30.41", 80): ["10.180.0.1:80", "10.180.1.1:80"],
        ("SCTP", "100.101.102.103", 3001): ["10.180.0.1:80"],
    }
    assert ipvs.ipset("KUBE-NODE-PORT-SCTP-HASH").entries == ("100.101.102.103,sctp:3001",)
    assert ipvs.ipset("KUBE-NODE-PORT-LOCAL-SCTP-HASH").entries == ("100.101.102.103,sctp:3001",)
    assert _chain(ipvs, "KUBE-NODE-PORT") == [
        ("RETURN", "KUBE-NODE-PORT-LOCAL-SCTP-HASH", ""),
        ("KUBE-MARK-MASQ", "KUBE-NODE-PORT-SCTP-HASH", ""),
        ("ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT", ""),
    ]


CLUSTER_IP_SVC = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec: {clusterIP: 10.20.30.41, ports: [{name: p80, port: 80}]}
"""


def test_cluster_ip_without_endpoints():
    """TestClusterIP "cluster IP service with no endpoints"."""
    assert _servers(build(_state(CLUSTER_IP_SVC), _config())) == {("TCP", "10.20.30.41", 80): []}


def test_external_ips():
    """TestExternalIPs: a virtual server per IPv4 external IP (127.0.0.1 included), IPv6 ones dropped."""
    text = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  clusterIP: 10.20.30.41
  externalIPs: [50.60.70.81, "2012::51", 127.0.0.1]
  ports: [{name: p80, port: 80}]
---""" + _slice("ns1", "svc1", "p80", "[{addresses: [10.180.0.1]}]")
    ipvs = build(_state(text), _config())
    assert sorted(_servers(ipvs)) == [
        ("TCP", "10.20.30.41", 80),
        ("TCP", "127.0.0.1", 80),
        ("TCP", "50.60.70.81", 80),
    ]
    assert ipvs.ipset("KUBE-EXTERNAL-IP").entries == ("127.0.0.1,tcp:80", "50.60.70.81,tcp:80")


def test_only_local_external_ips():
    """TestOnlyLocalExternalIPs: with ETP Local the external IPs' virtual servers get only local endpoints."""
    text = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  type: NodePort
  clusterIP: 10.20.30.41
  externalIPs: [50.60.70.81, "2012::51", 127.0.0.1]
  externalTrafficPolicy: Local
  ports: [{name: p80, port: 80}]
---""" + _slice(
        "ns1",
        "svc1",
        "p80",
        f"[{{addresses: [10.180.0.1], nodeName: {HOST}}}, {{addresses: [10.180.1.1], nodeName: other-hostname}}]",
    )
    servers = _servers(build(_state(text), _config()))
    assert servers[("TCP", "50.60.70.81", 80)] == ["10.180.0.1:80"]
    assert servers[("TCP", "127.0.0.1", 80)] == ["10.180.0.1:80"]
    assert len(servers) == 3


LB_SVC = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  type: LoadBalancer
  clusterIP: 10.20.30.41
  externalTrafficPolicy: %(etp)s
  ports: [{name: p80, port: 80, nodePort: 3001}]
  %(extra)s
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
"""


def test_load_balancer_chains():
    """TestLoadBalancer: KUBE-SERVICES sends LB traffic to KUBE-LOAD-BALANCER, which marks it."""
    text = (
        LB_SVC % {"etp": "Cluster", "extra": ""}
        + "---"
        + _slice("ns1", "svc1", "p80", "[{addresses: [10.180.0.1]}]")
    )
    ipvs = build(_state(text), _config())
    assert ipvs.ipset("KUBE-LOAD-BALANCER").entries == ("1.2.3.4,tcp:80",)
    assert _chain(ipvs, "KUBE-SERVICES") == [
        ("RETURN", "", "127.0.0.0/8"),
        ("KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER", ""),
        ("KUBE-MARK-MASQ", "KUBE-CLUSTER-IP", ""),
        ("KUBE-NODE-PORT", "", ""),
        ("ACCEPT", "KUBE-CLUSTER-IP", ""),
        ("ACCEPT", "KUBE-LOAD-BALANCER", ""),
    ]
    assert _chain(ipvs, "KUBE-LOAD-BALANCER") == [("KUBE-MARK-MASQ", "", "")]


def test_only_local_load_balancing():
    """TestOnlyLocalLoadBalancing: the LB IP gets only the local endpoint and a RETURN before marking."""
    endpoints = f"[{{addresses: [10.180.0.1], nodeName: {HOST}}}, {{addresses: [10.180.1.1], nodeName: other-hostname}}]"
    text = LB_SVC % {"etp": "Local", "extra": ""} + "---" + _slice("ns1", "svc1", "p80", endpoints)
    ipvs = build(_state(text), _config())
    assert _servers(ipvs)[("TCP", "1.2.3.4", 80)] == ["10.180.0.1:80"]
    assert ipvs.ipset("KUBE-LOAD-BALANCER-LOCAL").entries == ("1.2.3.4,tcp:80",)
    assert _chain(ipvs, "KUBE-LOAD-BALANCER") == [
        ("RETURN", "KUBE-LOAD-BALANCER-LOCAL", ""),
        ("KUBE-MARK-MASQ", "", ""),
    ]


def test_load_balancer_source_ranges():
    """TestLoadBalancerSourceRanges: FW set, source CIDR set, and the firewall chains."""
    text = (
        LB_SVC % {"etp": "Cluster", "extra": "loadBalancerSourceRanges: [10.0.0.0/8]"}
        + "---"
        + _slice("ns1", "svc1", "p80", "[{addresses: [10.180.0.1]}]")
    )
    ipvs = build(_state(text), _config())
    assert ipvs.ipset("KUBE-LOAD-BALANCER-FW").entries == ("1.2.3.4,tcp:80",)
    assert ipvs.ipset("KUBE-LOAD-BALANCER-SOURCE-CIDR").entries == ("1.2.3.4,tcp:80,10.0.0.0/8",)
    assert ipvs.ipset("KUBE-LOAD-BALANCER-SOURCE-IP").entries == ()
    assert _chain(ipvs, "KUBE-PROXY-FIREWALL") == [
        ("KUBE-SOURCE-RANGES-FIREWALL", "KUBE-LOAD-BALANCER-FW", "")
    ]
    assert _chain(ipvs, "KUBE-SOURCE-RANGES-FIREWALL") == [
        ("RETURN", "KUBE-LOAD-BALANCER-SOURCE-CIDR", ""),
        ("DROP", "", ""),
    ]
    # No node IP inside the ranges: the node itself is kept off the LB IP (kubernetes#119656).
    assert _chain(ipvs, "KUBE-IPVS-OUT-FILTER") == [("DROP", "", "1.2.3.4")]


def test_load_balancer_source_ranges_covering_the_node():
    """proxier.go `allowFromNode`: a range holding the node IP adds the LB IP to SOURCE-IP instead."""
    text = LB_SVC % {"etp": "Cluster", "extra": "loadBalancerSourceRanges: [10.0.0.0/8]"}
    ipvs = build(_state(text), _config(node_ips=["10.1.2.3"]))
    assert ipvs.ipset("KUBE-LOAD-BALANCER-SOURCE-IP").entries == ("1.2.3.4,tcp:80,1.2.3.4",)
    assert _chain(ipvs, "KUBE-IPVS-OUT-FILTER") == []


def test_accept_ipvs_traffic():
    """TestAcceptIPVSTraffic: rule order in KUBE-SERVICES with LB, cluster IP and external IP sets."""
    text = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec: {type: ClusterIP, clusterIP: 10.20.30.40, externalIPs: [5.6.7.8], ports: [{name: p80, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: svc2, namespace: ns1}
spec: {type: LoadBalancer, clusterIP: 10.20.30.41, ports: [{name: p80, port: 80, nodePort: 80}]}
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
---
apiVersion: v1
kind: Service
metadata: {name: svc3, namespace: ns1}
spec: {type: NodePort, clusterIP: 10.20.30.42, ports: [{name: p80, port: 80, nodePort: 80}]}
"""
    assert _chain(build(_state(text), _config()), "KUBE-SERVICES") == [
        ("RETURN", "", "127.0.0.0/8"),
        ("KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER", ""),
        ("KUBE-MARK-MASQ", "KUBE-CLUSTER-IP", ""),
        ("KUBE-MARK-MASQ", "KUBE-EXTERNAL-IP", ""),
        ("ACCEPT", "KUBE-EXTERNAL-IP", ""),
        ("ACCEPT", "KUBE-EXTERNAL-IP", ""),
        ("KUBE-NODE-PORT", "", ""),
        ("ACCEPT", "KUBE-CLUSTER-IP", ""),
        ("ACCEPT", "KUBE-LOAD-BALANCER", ""),
    ]


def test_only_local_node_ports():
    """TestOnlyLocalNodePorts: --nodeport-addresses 100.101.102.0/24 picks the node IP; ETP Local."""
    endpoints = f"[{{addresses: [10.180.0.1], nodeName: {HOST}}}, {{addresses: [10.180.1.1], nodeName: other-hostname}}]"
    text = (
        NODEPORT_SVC % {"etp": "Local", "proto": "TCP"}
        + "---"
        + _slice("ns1", "svc1", "p80", endpoints)
    )
    config = _config(
        node_ips=["100.101.102.103", "2001:db8::"], nodeport_addresses=["100.101.102.0/24"]
    )
    ipvs = build(_state(text), config)
    assert _servers(ipvs)[("TCP", "100.101.102.103", 3001)] == ["10.180.0.1:80"]
    assert len(ipvs.virtual_servers) == 2
    assert ipvs.ipset("KUBE-NODE-PORT-TCP").entries == ("3001",)
    assert ipvs.ipset("KUBE-NODE-PORT-LOCAL-TCP").entries == ("3001",)
    assert _chain(ipvs, "KUBE-NODE-PORT") == [
        ("RETURN", "KUBE-NODE-PORT-LOCAL-TCP", ""),
        ("KUBE-MARK-MASQ", "KUBE-NODE-PORT-TCP", ""),
        ("ACCEPT", "KUBE-HEALTH-CHECK-NODE-PORT", ""),
    ]


def test_health_check_node_ports():
    """TestHealthCheckNodePort: only ETP=Local LoadBalancers' health-check ports enter the set."""
    services = []
    for name, etp, port in (
        ("valid-svc1", "Local", 30000),
        ("valid-svc2", "Local", 30001),
        ("invalid-svc3", "Cluster", 30002),
    ):
        services.append(f"""
apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: ns1}}
spec:
  type: LoadBalancer
  clusterIP: 10.20.30.41
  externalTrafficPolicy: {etp}
  healthCheckNodePort: {port}
  ports: [{{name: p80, port: 80, nodePort: 3000}}]
""")
    ipvs = build(
        _state("---".join(services)),
        _config(node_ips=["100.101.102.103"], nodeport_addresses=["100.101.102.0/24"]),
    )
    assert ipvs.ipset("KUBE-HEALTH-CHECK-NODE-PORT").entries == ("30000", "30001")


@pytest.mark.parametrize("random_fully", [False, True])
def test_masquerade_rule(random_fully: bool):
    """TestMasqueradeRule: KUBE-POSTROUTING's MASQUERADE has --random-fully exactly when supported."""
    ipvs = build(_state(""), _config(random_fully=random_fully))
    masq = [
        r for r in parse(ipvs.restore)["nat"].chains["KUBE-POSTROUTING"] if "MASQUERADE" in r.args
    ]
    assert len(masq) == 1
    assert ("--random-fully" in masq[0].args) == random_fully


def test_create_and_link_kube_chain():
    """TestCreateAndLinkKubeChain: the exact chain declarations, nat and filter."""
    restore = build(_state(""), _config()).restore
    nat, filter_ = restore.split("COMMIT\n")[:2]
    assert [line for line in nat.splitlines() if line.startswith(":")] == [
        ":KUBE-SERVICES - [0:0]",
        ":KUBE-POSTROUTING - [0:0]",
        ":KUBE-NODE-PORT - [0:0]",
        ":KUBE-LOAD-BALANCER - [0:0]",
        ":KUBE-MARK-MASQ - [0:0]",
    ]
    assert [line for line in filter_.splitlines() if line.startswith(":")] == [
        ":KUBE-FORWARD - [0:0]",
        ":KUBE-NODE-PORT - [0:0]",
        ":KUBE-PROXY-FIREWALL - [0:0]",
        ":KUBE-SOURCE-RANGES-FIREWALL - [0:0]",
        ":KUBE-IPVS-FILTER - [0:0]",
        ":KUBE-IPVS-OUT-FILTER - [0:0]",
    ]


def test_dismiss_localhost_rule_first():
    """TestDismissLocalhostRuleExist: KUBE-SERVICES starts by returning loopback sources."""
    assert _chain(build(_state(""), _config()), "KUBE-SERVICES")[0] == ("RETURN", "", "127.0.0.0/8")


E2E_SVC = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  clusterIP: 172.20.1.1
  %(extra)s
  ports: [{name: "", port: 80, protocol: TCP}]
"""


def test_endpoint_slice_e2e():
    """TestEndpointSliceE2E: three ready endpoints become real servers, the not-ready one does not;
    the local one enters KUBE-LOOP-BACK. (Upstream's Service port has no `port`; 80 here.)"""
    endpoints = (
        f"[{{addresses: [10.0.1.1], conditions: {{ready: true}}, nodeName: {HOST}}},"
        " {addresses: [10.0.1.2], conditions: {ready: true}, nodeName: node2},"
        " {addresses: [10.0.1.3], conditions: {ready: true}, nodeName: node3},"
        " {addresses: [10.0.1.4], conditions: {ready: false}, nodeName: node3}]"
    )
    ipvs = build(
        _state(E2E_SVC % {"extra": ""} + "---" + _slice("ns1", "svc1", "", endpoints)), _config()
    )
    assert _servers(ipvs) == {
        ("TCP", "172.20.1.1", 80): ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80"]
    }
    assert ipvs.ipset("KUBE-LOOP-BACK").entries == ("10.0.1.1,tcp:80,10.0.1.1",)


def test_health_check_node_port_e2e():
    """TestHealthCheckNodePortE2E: the spec's healthCheckNodePort is in the set."""
    extra = "type: LoadBalancer\n  healthCheckNodePort: 30000\n  externalTrafficPolicy: Local"
    ipvs = build(_state(E2E_SVC % {"extra": extra}), _config())
    assert ipvs.ipset("KUBE-HEALTH-CHECK-NODE-PORT").entries == ("30000",)


@pytest.mark.parametrize(
    ("policy", "hosts", "loop_back", "real_servers"),
    [
        ("Cluster", (HOST, "host1", "host2"), 1, ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80"]),
        ("Cluster", ("host0", "host1", "host2"), 0, ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.3:80"]),
        ("Local", (HOST, "host1", "host2"), 1, ["10.0.1.1:80"]),
        ("Local", ("host0", "host1", "host2"), 0, []),
    ],
)
def test_internal_traffic_policy_e2e(
    policy: str, hosts: tuple[str, ...], loop_back: int, real_servers: list[str]
):
    """TestTestInternalTrafficPolicyE2E: ITP Local keeps only local endpoints."""
    endpoints = (
        "["
        + ", ".join(
            f"{{addresses: [10.0.1.{i}], conditions: {{ready: true}}, nodeName: {host}}}"
            for i, host in enumerate(hosts, 1)
        )
        + "]"
    )
    text = (
        E2E_SVC % {"extra": f"internalTrafficPolicy: {policy}"}
        + "---"
        + _slice("ns1", "svc1", "", endpoints)
    )
    ipvs = build(_state(text), _config())
    assert len(ipvs.ipset("KUBE-LOOP-BACK").entries) == loop_back
    assert _servers(ipvs) == {("TCP", "172.20.1.1", 80): real_servers}


TERMINATING_SVC = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  type: NodePort
  clusterIP: 172.20.1.1
  externalTrafficPolicy: %s
  internalTrafficPolicy: Cluster
  externalIPs: [1.2.3.4]
  ports: [{name: "", port: 80, protocol: TCP}]
"""


def _endpoint(n: int, ready: bool, serving: bool, terminating: bool, host: str) -> str:
    flags = f"ready: {str(ready).lower()}, serving: {str(serving).lower()}, terminating: {str(terminating).lower()}"
    return f"{{addresses: [10.0.1.{n}], conditions: {{{flags}}}, nodeName: {host}}}"


@pytest.mark.parametrize(
    ("name", "etp", "conditions", "loop_back", "cluster_ip", "external_ip"),
    [
        (
            "Test_EndpointSliceReadyAndTerminatingCluster",
            "Cluster",
            [
                (1, 1, 1, 0, HOST),
                (2, 1, 1, 0, HOST),
                (3, 0, 1, 1, HOST),
                (4, 0, 0, 1, HOST),
                (5, 1, 1, 0, "another-host"),
            ],
            4,
            ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.5:80"],
            ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.5:80"],
        ),
        (
            "Test_EndpointSliceReadyAndTerminatingLocal",
            "Local",
            [
                (1, 1, 1, 0, HOST),
                (2, 1, 1, 0, HOST),
                (3, 0, 1, 1, HOST),
                (4, 0, 0, 1, HOST),
                (5, 1, 1, 0, "another-host"),
            ],
            4,
            ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.5:80"],
            ["10.0.1.1:80", "10.0.1.2:80"],
        ),
        (
            "Test_EndpointSliceOnlyReadyAndTerminatingCluster",
            "Cluster",
            [
                (1, 0, 1, 1, HOST),
                (2, 0, 1, 1, HOST),
                (3, 0, 0, 1, HOST),
                (4, 0, 1, 1, "another-host"),
                (5, 0, 0, 0, "another-host"),
            ],
            3,
            ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.4:80"],
            ["10.0.1.1:80", "10.0.1.2:80", "10.0.1.4:80"],
        ),
        (
            "Test_EndpointSliceOnlyReadyAndTerminatingLocal",
            "Local",
            [
                (1, 0, 1, 1, HOST),
                (2, 0, 1, 1, HOST),
                (3, 0, 0, 1, HOST),
                (4, 0, 1, 1, "another-host"),
                (5, 1, 1, 0, "another-host"),
            ],
            3,
            ["10.0.1.5:80"],
            ["10.0.1.1:80", "10.0.1.2:80"],
        ),
    ],
)
def test_terminating_endpoints(name, etp, conditions, loop_back, cluster_ip, external_ip):
    """The four terminating-endpoint tests named in `name`: ready first, serving-terminating as fallback."""
    endpoints = (
        "["
        + ", ".join(_endpoint(n, bool(r), bool(s), bool(t), h) for n, r, s, t, h in conditions)
        + "]"
    )
    ipvs = build(
        _state(TERMINATING_SVC % etp + "---" + _slice("ns1", "svc1", "", endpoints)), _config()
    )
    assert len(ipvs.ipset("KUBE-LOOP-BACK").entries) == loop_back, name
    servers = _servers(ipvs)
    assert servers[("TCP", "172.20.1.1", 80)] == cluster_ip, name
    assert servers[("TCP", "1.2.3.4", 80)] == external_ip, name


@pytest.mark.parametrize(("ip_mode", "expected"), [("Proxy", 1), ("VIP", 2), (None, 2)])
def test_load_balancer_ingress_ip_mode(ip_mode: str | None, expected: int):
    """TestLoadBalancerIngressRouteTypeProxy (LoadBalancerIPMode on, as in 1.35): an ingress IP
    with ipMode Proxy gets no virtual server."""
    mode = f", ipMode: {ip_mode}" if ip_mode else ""
    text = f"""
apiVersion: v1
kind: Service
metadata: {{name: svc1, namespace: ns1}}
spec: {{type: LoadBalancer, clusterIP: 10.20.30.41, ports: [{{name: p80, port: 80, nodePort: 3001}}]}}
status: {{loadBalancer: {{ingress: [{{ip: 1.2.3.4{mode}}}]}}}}
---""" + _slice("ns1", "svc1", "p80", "[{addresses: [10.180.0.1]}]")
    assert len(build(_state(text), _config()).virtual_servers) == expected


def test_session_affinity_sets_persistence():
    """proxier.go: ClientIP affinity sets `FlagPersistent` with the sticky timeout on every
    virtual server of the port (ClusterIP, external IPs, LB IPs, NodePorts)."""
    text = """
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  type: LoadBalancer
  clusterIP: 10.20.30.41
  externalIPs: [50.60.70.81]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
  ports: [{name: p80, port: 80, nodePort: 3001}]
status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}
"""
    ipvs = build(_state(text), _config(node_ips=["100.101.102.103"]))
    assert [vs.persistent for vs in ipvs.virtual_servers] == [300] * 4


def test_scheduler_is_passed_through_unvalidated():
    """kube-proxy does not validate --ipvs-scheduler; an empty one means rr (proxier.go `NewProxier`)."""
    assert {
        vs.scheduler for vs in build(_state(CLUSTER_IP_SVC), _config(), "").virtual_servers
    } == {"rr"}
    assert {
        vs.scheduler for vs in build(_state(CLUSTER_IP_SVC), _config(), "sh").virtual_servers
    } == {"sh"}
