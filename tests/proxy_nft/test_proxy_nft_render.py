"""nftables renderer: byte-for-byte against upstream's proxier-test dumps, and real `nft` loads it.

Golden expectations come from kubernetes/kubernetes pkg/proxy/nftables/proxier_test.go@81810de6;
the comparison is upstream's own: both sides in `sortNFTablesTransaction` order (helpers_test.go),
ours after applying the transaction as knftables' fake does (`canonical`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from conftest import require
from nft_helpers import DATA, fake_config, manifests

from svclab.proxy.nftables.render import endpoint_chain_base, render, service_chain_base
from svclab.proxy.rules.nftables import canonical, load, sort_dump
from svclab.proxy.servicemap import Endpoint, ServicePortInfo

GOLDEN = {
    # golden file stem: upstream test whose expected dump it holds
    "overall": "TestOverallNFTablesRules",
    "bad_ips": "TestBadIPs",
    "repeated_initial": "TestSyncProxyRulesRepeated (first sync)",
    "repeated_no_endpoints": "TestSyncProxyRulesRepeated (svc4 without endpoints)",
    "repeated_final": "TestSyncProxyRulesRepeated (last sync)",
    "startup": "TestSyncProxyRulesStartup",
}


def expected_dump(stem: str) -> str:
    """upstream `baseRules` + the test's own lines, in upstream's canonical order."""
    return sort_dump((DATA / "base.nft").read_text() + (DATA / f"{stem}.nft").read_text())


@pytest.mark.parametrize("stem", GOLDEN, ids=GOLDEN.values())
def test_matches_upstream_dump(stem):
    text = render(manifests(f"{stem}.yaml"), fake_config())
    assert canonical(text) == expected_dump(stem)


def test_golden_comparison_catches_a_missing_line():
    """The comparison is not vacuous: dropping one element line breaks it."""
    text = render(manifests("overall.yaml"), fake_config())
    broken = "\n".join(line for line in text.splitlines() if "172.30.0.46 . tcp" not in line)
    assert canonical(broken) != expected_dump("overall")


def test_base_rules_alone():
    """No Services: exactly upstream's `baseRules` (TestSyncProxyRulesStartup's setup sync)."""
    base = sort_dump((DATA / "base.nft").read_text())
    assert canonical(render(manifests(), fake_config())) == base


# Upstream Test_servicePortChainNameBase and Test_servicePortEndpointChainNameBase.
LONG_NS = "very-long-namespace-name-abcdefghijklmnopqrstuvwxyz0123456789xx"
LONG_SVC = "very-long-service-name-why-would-you-even-do-this-i-mean-really"
LONG_PORT = "port-443-providing-the-hypertext-transmission-protocol-with-tls"
LONG = f"{LONG_NS}/{LONG_SVC}/sctp/{LONG_PORT}"


@pytest.mark.parametrize(
    ("namespace", "name", "port", "proto", "expected"),
    [
        ("testing", "service", "http", "TCP", "P4ZYZVCF-testing/service/tcp/http"),
        ("testing", "service", "https", "TCP", "LZBRENCP-testing/service/tcp/https"),
        (LONG_NS, LONG_SVC, LONG_PORT, "SCTP", f"KR6NACJP-{LONG}"),
    ],
)
def test_service_chain_name(namespace, name, port, proto, expected):
    info = ServicePortInfo(namespace, name, port, proto, "172.30.0.1", 80)
    assert service_chain_base(info) == expected


@pytest.mark.parametrize(
    ("namespace", "name", "port", "proto", "ip", "ep_port", "expected"),
    [
        (
            "testing",
            "service",
            "http",
            "TCP",
            "10.180.0.1",
            80,
            "JO2XBXZR-testing/service/tcp/http__10.180.0.1/80",
        ),
        (
            "testing",
            "service",
            "http",
            "TCP",
            "10.180.0.2",
            80,
            "5S6H3H22-testing/service/tcp/http__10.180.0.2/80",
        ),
        (
            "testing",
            "service",
            "http",
            "TCP",
            "fd80:abcd:12::a1b2:c3d4:e5f6:9999",
            80,
            "U7E2ET36-testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80",
        ),
        (
            LONG_NS,
            LONG_SVC,
            LONG_PORT,
            "SCTP",
            "1234:5678:9abc:def0::abc:1234",
            443,
            f"5YS7AFEA-{LONG}__1234.5678.9abc.def0..abc.1234/443",
        ),
        (
            LONG_NS,
            LONG_SVC,
            LONG_PORT,
            "SCTP",
            "1234:5678:9abc:def0::abcd:1234:5678",
            443,
            f"CI6C53Q3-{LONG}__1234.5678.9abc.def0..abcd.1234...",
        ),
        (
            LONG_NS,
            LONG_SVC,
            LONG_PORT,
            "SCTP",
            "1234:5678:9abc:def0::abcd:1234:8765",
            443,
            f"2FLXFK6X-{LONG}__1234.5678.9abc.def0..abcd.1234...",
        ),
    ],
)
def test_endpoint_chain_name(namespace, name, port, proto, ip, ep_port, expected):
    info = ServicePortInfo(namespace, name, port, proto, "172.30.0.1", 80)
    assert endpoint_chain_base(info, Endpoint(ip, ep_port)) == expected


def rules_of(text: str, chain: str) -> list[str]:
    return [rule.text for rule in load(text).tables["ip", "kube-proxy"].chains[chain].rules]


def test_nodeport_addresses_unset_match_every_local_address():
    """setupNFTables with MatchAll: fib rule, nodeport-ips added then deleted."""
    text = render(manifests("overall.yaml"), fake_config(nodeport_addresses=()))
    assert rules_of(text, "services")[1] == (
        "fib daddr type local ip daddr != 127.0.0.0/8"
        " meta l4proto . th dport vmap @service-nodeports"
    )
    assert rules_of(text, "nodeport-endpoints-check") == [
        "ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @no-endpoint-nodeports"
    ]
    assert "nodeport-ips" not in load(text).tables["ip", "kube-proxy"].sets


def test_no_localhost_nodeports_in_nftables_mode():
    """Facts §2.2: loopback addresses matched by --nodeport-addresses are skipped (and logged)."""
    text = render(
        manifests("overall.yaml"), fake_config(nodeport_addresses=("127.0.0.0/8", "192.168.0.0/16"))
    )
    elements = load(text).tables["ip", "kube-proxy"].sets["nodeport-ips"].elements
    assert sorted(key for (key,) in elements) == ["192.168.0.2", "192.168.1.2", "192.168.99.11"]


def test_real_mark_and_no_service_cidr():
    """kube-proxy's own mark (bit 14, `%#08x`) and no unallocated-ClusterIP drop without CIDRs."""
    text = render(manifests("overall.yaml"), fake_config(masquerade_mark=None, service_cidrs=()))
    assert rules_of(text, "mark-for-masquerade") == ["mark set mark or 0x00004000"]
    assert rules_of(text, "cluster-ips-check") == ["ip daddr @cluster-ips reject"]


def test_service_cidrs_form_one_set_word():
    """OnServiceCIDRsChanged joins this family's CIDRs with bare commas; IPv6 ones are dropped."""
    config = fake_config(service_cidrs=("172.30.0.0/16", "172.50.0.0/16", "fd00::/112"))
    text = render(manifests("overall.yaml"), config)
    assert rules_of(text, "cluster-ips-check")[1] == (
        "ip daddr { 172.30.0.0/16,172.50.0.0/16 } drop"
    )


def test_masquerade_all_and_no_detector():
    """masqueradeAll marks all ClusterIP traffic; with no detector eTP:Local has no pod shortcut."""
    text = render(manifests("overall.yaml"), fake_config(masquerade_all=True, cluster_cidr=None))
    assert rules_of(text, "service-ULMVA6XW-ns1/svc1/tcp/p80")[0] == (
        "ip daddr 172.30.0.41 jump mark-for-masquerade"
    )
    assert rules_of(text, "external-42NFTM6N-ns2/svc2/tcp/p80") == [
        "fib saddr type local jump mark-for-masquerade",
        "fib saddr type local goto service-42NFTM6N-ns2/svc2/tcp/p80",
    ]


def test_source_range_holding_the_node_ip_admits_the_lb_ips():
    """TestLoadBalancer's Service: 192.168.0.0/24 holds the node IP, so both LB IPs are allowed."""
    text = render(manifests("flows/load_balancer.yaml"), fake_config())
    assert rules_of(text, "firewall-ULMVA6XW-ns1/svc1/tcp/p80") == [
        "ip saddr != { 192.168.0.0/24 , 203.0.113.0/25 , 1.2.3.4 , 5.6.7.8 } drop"
    ]


def test_elements_are_added_once_and_a_shared_key_goes_to_the_last_service():
    """nftElementStorage.ensureElem: a 2-port Service adds its ClusterIP once; a key claimed by two
    Services is deleted and re-added with the later value."""
    text = render(manifests("shared_external_ip.yaml"), fake_config())
    lines = text.splitlines()
    assert lines.count("add element ip kube-proxy cluster-ips { 172.30.0.61 }") == 1
    assert "delete element ip kube-proxy service-ips { 192.168.99.50 . tcp . 80 }" in lines
    service_ips = load(text).tables["ip", "kube-proxy"].sets["service-ips"]
    assert service_ips.elements["192.168.99.50", "tcp", "80"].value.endswith("ns2/b/tcp/http")


# --- the real nft binary, in a throwaway network namespace ------------------------------------


def nft_available() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if not (shutil.which("nft") and shutil.which("ip")):
        return "needs the nft and ip binaries"
    return None


@pytest.fixture
def netns():
    """A network namespace of our own, deleted by name afterwards; yields a command prefix."""
    reason = nft_available()
    require(reason is None, reason or "", apt="nftables iproute2")
    name = f"svclab-nfttest-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=20)
    try:
        yield ["ip", "netns", "exec", name]
    finally:
        subprocess.run(
            ["ip", "netns", "delete", name], check=False, capture_output=True, timeout=20
        )


def run_nft(prefix: list[str], *args: str, text: str | None = None) -> str:
    done = subprocess.run(
        [*prefix, "nft", *args], input=text, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.kernel
@pytest.mark.parametrize("stem", ["overall", "startup", "shared_external_ip"])
def test_real_nft_accepts_and_loads_it(stem, netns):
    """`nft -c -f` accepts the transaction; applied to a fresh namespace (the first sync it
    models), the kernel holds what our loader says: same chains with the same rule counts, same
    sets and maps with the same element counts. (Re-sending it would not be a re-sync: kube-proxy
    reads the kernel's elements first, and `add element` of a key with another verdict fails.)"""
    text = render(manifests(f"{stem}.yaml"), fake_config())
    run_nft(netns, "-c", "-f", "-", text=text)
    run_nft(netns, "-f", "-", text=text)
    listing = json.loads(run_nft(netns, "-j", "list", "table", "ip", "kube-proxy"))["nftables"]
    kernel_rules: dict[str, int] = {}
    kernel_sets: dict[str, int] = {}
    for item in listing:
        if "chain" in item:
            kernel_rules.setdefault(item["chain"]["name"], 0)
        elif "rule" in item:
            kernel_rules[item["rule"]["chain"]] += 1
        elif "set" in item or "map" in item:
            named = item.get("set") or item["map"]
            kernel_sets[named["name"]] = len(named.get("elem", []))
    table = load(text).tables["ip", "kube-proxy"]
    assert kernel_rules == {name: len(chain.rules) for name, chain in table.chains.items()}
    assert kernel_sets == {name: len(s.elements) for name, s in table.sets.items()}
