"""Every worked example of the Kubernetes DNS-Based Service Discovery specification, schema
1.1.0 (kubernetes/dns ``docs/specification.md``), answered by the record table and, for the
ExternalName example, by the real server with a real upstream (dnsmasq).

The spec's examples use several TTLs (4, 10, 14, 30); each case builds the table with the TTL
of its example. Priority and weight of SRV records are "not prescribed" by the spec: the
examples say ``10 100``, svclab says what CoreDNS says (priority 0, weight 100/N), so SRV
cases compare port and target and check the CoreDNS values separately.
"""

from __future__ import annotations

import os

import dns.message
import dns.query
import dns.rcode
import pytest
from conftest import require
from dns_golden import cluster, lines, norm

from svclab.bench.dns import DNSMASQ, start_dnsmasq, stop_dnsmasq
from svclab.dns.records import build_records
from svclab.dns.server import DnsServer

IPV4 = cluster("""
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default}
spec: {clusterIP: 10.3.0.1, ports: [{name: https, port: 443}]}
""")

IPV6 = cluster("""
apiVersion: v1
kind: Service
metadata: {name: kubernetes, namespace: default}
spec: {clusterIP: "2001:db8::1", clusterIPs: ["2001:db8::1"], ports: [{name: https, port: 443}]}
""")

HEADLESS = """
apiVersion: v1
kind: Service
metadata: {name: headless, namespace: default}
spec: {clusterIP: None, ports: [{name: https, port: 443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: headless-1, namespace: default, labels: {kubernetes.io/service-name: headless}}
addressType: %s
ports: [{name: https, port: 443, protocol: TCP}]
endpoints:
"""

HEADLESS_A = cluster(HEADLESS % "IPv4" + "".join(f"- addresses: [10.3.0.{i}]\n" for i in (1, 2, 3)))
HEADLESS_AAAA = cluster(
    HEADLESS % "IPv6" + "".join(f"- addresses: ['2001:db8::{i}']\n" for i in (1, 2, 3))
)
# Section 2.4's hostname examples: my-pet is 10.3.0.100; the third SRV target has no
# hostname field in the example's spirit of a "system-assigned identifier" — here a hostname.
PETS = cluster(
    HEADLESS % "IPv4"
    + """
- {addresses: [10.3.0.100], hostname: my-pet}
- {addresses: [10.3.0.101], hostname: my-pet-2}
- {addresses: [10.3.0.102], hostname: "438934893"}
"""
)
PET6 = cluster(HEADLESS % "IPv6" + "- {addresses: ['2001:db8::1'], hostname: my-pet}\n")

CASES = [
    # (spec section, cluster, ttl, question, type, expected answer)
    (
        "2.2",
        IPV4,
        5,
        "dns-version.cluster.local.",
        "TXT",
        ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'],
    ),
    (
        "2.3.1 A",
        IPV4,
        4,
        "kubernetes.default.svc.cluster.local.",
        "A",
        ["kubernetes.default.svc.cluster.local. 4 IN A 10.3.0.1"],
    ),
    (
        "2.3.1 AAAA",
        IPV6,
        4,
        "kubernetes.default.svc.cluster.local.",
        "AAAA",
        ["kubernetes.default.svc.cluster.local. 4 IN AAAA 2001:db8::1"],
    ),
    (
        "2.3.3 PTR",
        IPV4,
        14,
        "1.0.3.10.in-addr.arpa.",
        "PTR",
        ["1.0.3.10.in-addr.arpa. 14 IN PTR kubernetes.default.svc.cluster.local."],
    ),
    (
        "2.3.3 PTR v6",
        IPV6,
        14,
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
        "PTR",
        [
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 14 IN PTR "
            "kubernetes.default.svc.cluster.local."
        ],
    ),
    (
        "2.4.1 A",
        HEADLESS_A,
        4,
        "headless.default.svc.cluster.local.",
        "A",
        [f"headless.default.svc.cluster.local. 4 IN A 10.3.0.{i}" for i in (1, 2, 3)],
    ),
    (
        "2.4.1 hostname A",
        PETS,
        4,
        "my-pet.headless.default.svc.cluster.local.",
        "A",
        ["my-pet.headless.default.svc.cluster.local. 4 IN A 10.3.0.100"],
    ),
    (
        "2.4.1 AAAA",
        HEADLESS_AAAA,
        4,
        "headless.default.svc.cluster.local.",
        "AAAA",
        [f"headless.default.svc.cluster.local. 4 IN AAAA 2001:db8::{i}" for i in (1, 2, 3)],
    ),
    (
        "2.4.1 hostname AAAA",
        PET6,
        4,
        "my-pet.headless.default.svc.cluster.local.",
        "AAAA",
        ["my-pet.headless.default.svc.cluster.local. 4 IN AAAA 2001:db8::1"],
    ),
    (
        "2.4.3 PTR",
        PETS,
        14,
        "100.0.3.10.in-addr.arpa.",
        "PTR",
        ["100.0.3.10.in-addr.arpa. 14 IN PTR my-pet.headless.default.svc.cluster.local."],
    ),
    (
        "2.4.3 PTR v6",
        PET6,
        14,
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
        "PTR",
        [
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 14 IN PTR "
            "my-pet.headless.default.svc.cluster.local."
        ],
    ),
]


@pytest.mark.parametrize(
    ("section", "state", "ttl", "qname", "qtype", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_spec_example(section, state, ttl, qname, qtype, expected):
    answer = build_records(state, ttl=ttl).lookup(qname, qtype)
    assert answer.rcode == dns.rcode.NOERROR
    assert lines(answer.answer) == norm(*expected)


def _srv(answer) -> tuple[set, set]:
    records = [rd for rr in answer.answer for rd in rr]
    return (
        {(rd.port, rd.target.to_text()) for rd in records},
        {(rd.priority, rd.weight) for rd in records},
    )


def test_spec_clusterip_srv_2_3_2():
    """``_https._tcp.kubernetes.default.svc.cluster.local. 30 IN SRV 10 100 443 kubernetes…``"""
    answer = build_records(IPV4, ttl=30).lookup(
        "_https._tcp.kubernetes.default.svc.cluster.local.", "SRV"
    )
    targets, weights = _srv(answer)
    assert targets == {(443, "kubernetes.default.svc.cluster.local.")}
    assert weights == {(0, 100)}  # CoreDNS's choice; the spec leaves them open
    assert answer.answer[0].ttl == 30
    # "The Additional section of the response may include the Service A record".
    assert lines(answer.additional) == norm(
        "kubernetes.default.svc.cluster.local. 30 IN A 10.3.0.1"
    )


def test_spec_headless_srv_2_4_2():
    """N ready endpoints × M named ports SRV records, targets the endpoints' hostnames."""
    answer = build_records(PETS, ttl=4).lookup(
        "_https._tcp.headless.default.svc.cluster.local.", "SRV"
    )
    targets, weights = _srv(answer)
    assert targets == {
        (443, f"{h}.headless.default.svc.cluster.local.")
        for h in ("my-pet", "my-pet-2", "438934893")
    }
    assert weights == {(0, 33)}
    assert {rr.name.to_text() for rr in answer.additional} == {t for _, t in targets}


def test_spec_unnamed_ports_have_no_srv():
    """Section 2.3.2: "Unnamed ports do not have an SRV record"."""
    state = cluster("""
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {clusterIP: 10.3.0.9, ports: [{port: 80}]}
""")
    table = build_records(state)
    assert (
        table.lookup("_http._tcp.web.default.svc.cluster.local.", "SRV").rcode == dns.rcode.NXDOMAIN
    )
    assert table.lookup("web.default.svc.cluster.local.", "A").answer


def test_spec_headless_without_ready_endpoints_is_nxdomain():
    """Section 2.4.1: no ready endpoints, "the answer should be NXDOMAIN"."""
    state = cluster(
        HEADLESS % "IPv4"
        + """
- {addresses: [10.3.0.7], conditions: {ready: false}}
"""
    )
    answer = build_records(state).lookup("headless.default.svc.cluster.local.", "A")
    assert answer.rcode == dns.rcode.NXDOMAIN
    assert lines(answer.authority)[0].startswith("cluster.local. 5 in soa")


def test_spec_comparisons_are_case_insensitive():
    """Section 2.1: "All comparisons between query data and data in Kubernetes are
    case-insensitive"."""
    table = build_records(PETS, ttl=4)
    assert (
        table.lookup("MY-PET.Headless.DEFAULT.svc.Cluster.Local.", "a").answer
        == table.lookup("my-pet.headless.default.svc.cluster.local.", "A").answer
    )


def test_spec_records_follow_the_configured_zone():
    table = build_records(IPV4, zone="corp.example")
    assert table.lookup("kubernetes.default.svc.corp.example.", "A").answer
    assert table.lookup("kubernetes.default.svc.cluster.local.", "A").rcode == dns.rcode.REFUSED
    assert table.lookup("dns-version.corp.example.", "TXT").answer


@pytest.fixture(scope="module")
def upstream():
    """dnsmasq on loopback as the world outside the cluster: www.example.com, TTL 28715."""
    require(os.path.exists(DNSMASQ), "dnsmasq is not installed", apt="dnsmasq-base")
    records = ["--host-record=www.example.com,192.0.2.53,2001:db8::1", "--local-ttl=28715"]
    proc, port = start_dnsmasq(records, "www.example.com")
    try:
        yield ("127.0.0.1", port)
    finally:
        stop_dnsmasq(proc)


EXTERNAL = cluster("""
apiVersion: v1
kind: Service
metadata: {name: foo, namespace: default}
spec: {type: ExternalName, externalName: www.example.com}
""")


@pytest.mark.parametrize(("qtype", "address"), [("A", "192.0.2.53"), ("AAAA", "2001:db8::1")])
def test_spec_external_name_2_5(upstream, qtype, address):
    """``foo.default.svc.cluster.local. 10 IN CNAME www.example.com.`` followed by the
    target's record, which the server gets from its upstream (as CoreDNS's forward)."""
    with DnsServer(EXTERNAL, ttl=10, upstream=upstream) as srv:
        reply = dns.query.udp(
            dns.message.make_query("foo.default.svc.cluster.local.", qtype),
            srv.host,
            port=srv.port,
            timeout=3,
        )
    assert reply.rcode() == dns.rcode.NOERROR
    assert lines(reply.answer) == norm(
        "foo.default.svc.cluster.local. 10 IN CNAME www.example.com.",
        f"www.example.com. 28715 IN {qtype} {address}",
    )
    # The CNAME comes before the record it leads to.
    assert reply.answer[0].rdtype == dns.rdatatype.CNAME


def test_spec_external_name_without_upstream_is_the_cname_alone():
    answer = build_records(EXTERNAL, ttl=10).lookup("foo.default.svc.cluster.local.", "A")
    assert lines(answer.answer) == norm(
        "foo.default.svc.cluster.local. 10 IN CNAME www.example.com."
    )
    assert answer.chase is not None and answer.chase.to_text() == "www.example.com."
