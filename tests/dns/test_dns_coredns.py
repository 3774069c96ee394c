"""Golden cases from coredns/coredns ``plugin/kubernetes/handler_test.go`` (``TestServeDNS``:
``commonDnsTestCases`` + ``dnsTestCases``; ``TestServeNamespaceDNS``) and
``plugin/kubernetes/reverse_test.go`` (``TestReverse``), asked of the record table and, over
real UDP and TCP, of the running server.

Like CoreDNS's ``test.SortAndCheck``, records are compared as sorted sets and an SOA without
its serial. Left out: the "CNAME External Truncated Lookup" case (it stubs an upstream that
truncates) and the multicluster, not-synced and pod-mode tests (features svclab does not have).
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from dns_golden import cluster, cluster_file, lines, norm

from svclab.dns.records import build_records
from svclab.dns.server import DnsServer

SOA = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1499347823 7200 1800 86400 5"
OK, NX = dns.rcode.NOERROR, dns.rcode.NXDOMAIN


def case(qname, qtype, rcode=OK, answer=(), ns=(), extra=()):
    return pytest.param(
        qname, qtype, rcode, list(answer), list(ns), list(extra), id=f"{qname} {qtype}"
    )


HANDLER_CASES = [
    # commonDnsTestCases
    case(
        "svc1.testns.svc.cluster.local.",
        "A",
        answer=["svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"],
    ),
    case(
        "svcempty.testns.svc.cluster.local.",
        "A",
        answer=["svcempty.testns.svc.cluster.local. 5 IN A 10.0.0.1"],
    ),
    case(
        "svc1.testns.svc.cluster.local.",
        "SRV",
        answer=["svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local."],
        extra=["svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"],
    ),
    case(
        "svcempty.testns.svc.cluster.local.",
        "SRV",
        answer=[
            "svcempty.testns.svc.cluster.local. 5 IN SRV 0 100 80 svcempty.testns.svc.cluster.local."
        ],
        extra=["svcempty.testns.svc.cluster.local. 5 IN A 10.0.0.1"],
    ),
    case(
        "svc6.testns.svc.cluster.local.",
        "SRV",
        answer=["svc6.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc6.testns.svc.cluster.local."],
        extra=["svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1"],
    ),
    case(
        "_http._tcp.svc1.testns.svc.cluster.local.",
        "SRV",
        answer=[
            "_http._tcp.svc1.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc1.testns.svc.cluster.local."
        ],
        extra=["svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1"],
    ),
    case(
        "_http._tcp.svcempty.testns.svc.cluster.local.",
        "SRV",
        answer=[
            "_http._tcp.svcempty.testns.svc.cluster.local. 5 IN SRV 0 100 80 "
            "svcempty.testns.svc.cluster.local."
        ],
        extra=["svcempty.testns.svc.cluster.local. 5 IN A 10.0.0.1"],
    ),
    case(
        "hdls1.testns.svc.cluster.local.",
        "A",
        answer=[f"hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.{i}" for i in (2, 3, 4, 5)],
    ),
    case(
        "hdlsprtls.testns.svc.cluster.local.",
        "A",
        answer=["hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20"],
    ),
    case("svc1.testns.svc.cluster.local.", "AAAA", ns=[SOA]),
    case("svc0.testns.svc.cluster.local.", "AAAA", NX, ns=[SOA]),
    case("svc0.testns.svc.cluster.local.", "A", NX, ns=[SOA]),
    case("svc0.svc-nons.svc.cluster.local.", "A", NX, ns=[SOA]),
    case(
        "dns-version.cluster.local.",
        "TXT",
        answer=['dns-version.cluster.local. 28800 IN TXT "1.1.0"'],
    ),
    case("svc1.testns.svc.cluster.local.", "TXT", ns=[SOA]),
    case("svc0.svc-nons.svc.cluster.local.", "TXT", NX, ns=[SOA]),
    case("bogusendpoint.hdls1.testns.svc.cluster.local.", "A", NX, ns=[SOA]),
    case("bogusendpoint.svc0.testns.svc.cluster.local.", "A", NX, ns=[SOA]),
    case(
        "svc6.testns.svc.cluster.local.",
        "AAAA",
        answer=["svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1"],
    ),
    case(
        "_http._tcp.svc6.testns.svc.cluster.local.",
        "SRV",
        answer=[
            "_http._tcp.svc6.testns.svc.cluster.local. 5 IN SRV 0 100 80 svc6.testns.svc.cluster.local."
        ],
        extra=["svc6.testns.svc.cluster.local. 5 IN AAAA 1234:abcd::1"],
    ),
    case(
        "hdls1.testns.svc.cluster.local.",
        "AAAA",
        answer=[f"hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::{i}" for i in (1, 2)],
    ),
    case("svc.cluster.local.", "A", ns=[SOA]),
    case("pod.cluster.local.", "A", ns=[SOA]),
    case("testns.svc.cluster.local.", "A", ns=[SOA]),
    case("svc.cluster.local.", "NS", ns=[SOA]),
    case("testns.svc.cluster.local.", "NS", ns=[SOA]),
    case("foo.cluster.local.", "NS", NX, ns=[SOA]),
    case("foo.svc.cluster.local.", "NS", NX, ns=[SOA]),
    case(
        "svc-dual-stack.testns.svc.cluster.local.",
        "A",
        answer=["svc-dual-stack.testns.svc.cluster.local. 5 IN A 10.0.0.3"],
    ),
    case(
        "svc-dual-stack.testns.svc.cluster.local.",
        "AAAA",
        answer=["svc-dual-stack.testns.svc.cluster.local. 5 IN AAAA 10::3"],
    ),
    case(
        "svc-dual-stack.testns.svc.cluster.local.",
        "SRV",
        answer=[
            "svc-dual-stack.testns.svc.cluster.local. 5 IN SRV 0 50 80 svc-dual-stack.testns.svc.cluster.local."
        ],
        extra=[
            "svc-dual-stack.testns.svc.cluster.local. 5 IN A 10.0.0.3",
            "svc-dual-stack.testns.svc.cluster.local. 5 IN AAAA 10::3",
        ],
    ),
    case("svc1.testns.svc.cluster.local.", "SOA", ns=[SOA]),
    case("endpoint.external.testns.svc.cluster.local.", "CNAME", NX, ns=[SOA]),
    case("subdomain.subdomain.external.testns.svc.cluster.local.", "CNAME", NX, ns=[SOA]),
    # dnsTestCases
    case(
        "_http._tcp.hdls1.testns.svc.cluster.local.",
        "SRV",
        answer=[
            f"_http._tcp.hdls1.testns.svc.cluster.local. 5 IN SRV 0 16 80 {h}.hdls1.testns.svc.cluster.local."
            for h in ("172-0-0-2", "172-0-0-3", "5678-abcd--1", "5678-abcd--2", "dup-name")
        ],
        extra=[
            "172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2",
            "172-0-0-3.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3",
            "5678-abcd--1.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1",
            "5678-abcd--2.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2",
            "dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.4",
            "dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.5",
        ],
    ),
    case(
        "5678-abcd--2.hdls1.testns.svc.cluster.local",
        "AAAA",
        answer=["5678-abcd--2.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::2"],
    ),
    case(
        "5678-abcd--1.hdls1.testns.svc.cluster.local.",
        "AAAA",
        answer=["5678-abcd--1.hdls1.testns.svc.cluster.local. 5 IN AAAA 5678:abcd::1"],
    ),
    case(
        "172-0-0-20.hdlsprtls.testns.svc.cluster.local.",
        "A",
        answer=["172-0-0-20.hdlsprtls.testns.svc.cluster.local. 5 IN A 172.0.0.20"],
    ),
    case(
        "172-0-0-2.hdls1.testns.svc.cluster.local.",
        "A",
        answer=["172-0-0-2.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.2"],
    ),
    case(
        "172-0-0-3.hdls1.testns.svc.cluster.local.",
        "A",
        answer=["172-0-0-3.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.3"],
    ),
    case(
        "dup-name.hdls1.testns.svc.cluster.local.",
        "A",
        answer=[f"dup-name.hdls1.testns.svc.cluster.local. 5 IN A 172.0.0.{i}" for i in (4, 5)],
    ),
    case(
        "external.testns.svc.cluster.local.",
        "CNAME",
        answer=["external.testns.svc.cluster.local. 5 IN CNAME ext.interwebs.test."],
    ),
    case(
        "external-to-service.testns.svc.cluster.local",
        "A",
        answer=[
            "external-to-service.testns.svc.cluster.local. 5 IN CNAME svc1.testns.svc.cluster.local.",
            "svc1.testns.svc.cluster.local. 5 IN A 10.0.0.1",
        ],
    ),
    # nsTestCases (TestServeNamespaceDNS)
    case("svc1.nsnoexist.svc.cluster.local.", "A", NX, ns=[SOA]),
]


@pytest.fixture(scope="module")
def handler_cluster():
    return cluster_file("coredns-handler.yaml")


@pytest.mark.parametrize(("qname", "qtype", "rcode", "answer", "ns", "extra"), HANDLER_CASES)
def test_handler_case_from_the_table(handler_cluster, qname, qtype, rcode, answer, ns, extra):
    got = build_records(handler_cluster, serial=1499347823).lookup(qname, qtype)
    assert dns.rcode.to_text(got.rcode) == dns.rcode.to_text(rcode)
    assert lines(got.answer) == norm(*answer)
    assert lines(got.authority) == norm(*ns)
    assert lines(got.additional) == norm(*extra)


@pytest.fixture(scope="module")
def handler_server(handler_cluster):
    with DnsServer(handler_cluster) as srv:
        yield srv


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize(("qname", "qtype", "rcode", "answer", "ns", "extra"), HANDLER_CASES)
def test_handler_case_over_the_wire(
    handler_server, transport, qname, qtype, rcode, answer, ns, extra
):
    query = dns.message.make_query(qname, qtype, use_edns=0)
    send = dns.query.udp if transport == "udp" else dns.query.tcp
    reply = send(query, handler_server.host, port=handler_server.port, timeout=3)
    assert reply.rcode() == rcode
    assert reply.flags & dns.flags.AA
    assert lines(reply.answer) == norm(*answer)
    assert lines(reply.authority) == norm(*ns)
    assert lines(reply.additional) == norm(*extra)
    # CNAMEs come before the records they lead to (CoreDNS's test.CNAMEOrder).
    types = [rr.rdtype for rr in reply.answer]
    assert types == sorted(types, key=lambda t: t != dns.rdatatype.CNAME)


REVERSE = cluster("""
apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: testns}
spec: {clusterIP: 192.168.1.100, ports: [{name: http, protocol: TCP, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: svc2, namespace: testns}
spec: {clusterIP: None}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc1-slice1, namespace: testns, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv4
endpoints:
- {addresses: [10.0.0.100], hostname: ep1a}
- {addresses: [10.0.0.99], hostname: double-ep}
ports: [{name: http, protocol: TCP, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc1-slice2, namespace: testns, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv6
endpoints:
- {addresses: ["1234:abcd::1"], hostname: ep1b}
- {addresses: ["fd00:77:30::a"], hostname: ip6svc1ex}
- {addresses: ["fd00:77:30::2:9ba6"], hostname: ip6svc1in}
ports: [{name: http, protocol: TCP, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc1-ccccc, namespace: testns, labels: {kubernetes.io/service-name: svc1}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.100], hostname: ep1a}]
ports: [{name: http, protocol: TCP, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc2-slice1, namespace: testns, labels: {kubernetes.io/service-name: svc2}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.99], hostname: double-ep}]
ports: [{name: http, protocol: TCP, port: 80}]
""")
REVERSE_ZONES = [
    "0.10.in-addr.arpa",
    "168.192.in-addr.arpa",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa",
]
SOA_REV = (
    "0.10.in-addr.arpa. 5 IN SOA ns.dns.0.10.in-addr.arpa. hostmaster.0.10.in-addr.arpa. "
    "1 7200 1800 86400 5"
)
SOA_FWD = SOA


REVERSE_CASES = [
    case(
        "100.0.0.10.in-addr.arpa.",
        "PTR",
        answer=["100.0.0.10.in-addr.arpa. 5 IN PTR ep1a.svc1.testns.svc.cluster.local."],
    ),
    case(
        "100.1.168.192.in-addr.arpa.",
        "PTR",
        answer=["100.1.168.192.in-addr.arpa. 5 IN PTR svc1.testns.svc.cluster.local."],
    ),
    case(
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa.",
        "PTR",
        answer=[
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.4.3.2.1.ip6.arpa. 5 IN PTR "
            "ep1b.svc1.testns.svc.cluster.local."
        ],
    ),
    case(
        "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa.",
        "PTR",
        answer=[
            "a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa. 5 IN PTR "
            "ip6svc1ex.svc1.testns.svc.cluster.local."
        ],
    ),
    case(
        "6.a.b.9.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa.",
        "PTR",
        answer=[
            "6.a.b.9.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.3.0.0.7.7.0.0.0.0.d.f.ip6.arpa. 5 IN PTR "
            "ip6svc1in.svc1.testns.svc.cluster.local."
        ],
    ),
    case("101.0.0.10.in-addr.arpa.", "PTR", NX, ns=[SOA_REV]),
    case("example.org.cluster.local.", "PTR", NX, ns=[SOA_FWD]),
    case("svc1.testns.svc.cluster.local.", "PTR", ns=[SOA_FWD]),
    case("svc1.testns.svc.0.10.in-addr.arpa.", "A", NX, ns=[SOA_REV]),
    case("100.0.0.10.cluster.local.", "PTR", NX, ns=[SOA_FWD]),
    case(
        "99.0.0.10.in-addr.arpa.",
        "PTR",
        answer=[
            "99.0.0.10.in-addr.arpa. 5 IN PTR double-ep.svc1.testns.svc.cluster.local.",
            "99.0.0.10.in-addr.arpa. 5 IN PTR double-ep.svc2.testns.svc.cluster.local.",
        ],
    ),
]


@pytest.mark.parametrize(("qname", "qtype", "rcode", "answer", "ns", "extra"), REVERSE_CASES)
def test_reverse_case(qname, qtype, rcode, answer, ns, extra):
    got = build_records(REVERSE, reverse_zones=REVERSE_ZONES, serial=1).lookup(qname, qtype)
    assert dns.rcode.to_text(got.rcode) == dns.rcode.to_text(rcode)
    assert lines(got.answer) == norm(*answer)
    assert lines(got.authority) == norm(*ns)
