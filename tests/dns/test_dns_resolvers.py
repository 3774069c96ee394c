"""Client resolvers against the real server, on virtual time: TTL honoured, ignored, resolved
once; negative caching; glibc's search list with ndots:5; the node-local cache; resolv.conf
parsing as glibc's res_init does it (resolv/res_init.c, resolv/res_query.c)."""

from __future__ import annotations

import pytest
from dns_golden import cluster

from svclab.cluster.clock import VirtualClock
from svclab.dns.nodelocal import NodeLocalCache
from svclab.dns.resolvconf import (
    NODATA,
    NXDOMAIN,
    OTHER,
    SERVFAIL,
    ResolvConf,
    parse_resolv_conf,
    query_plan,
    run_search,
)
from svclab.dns.resolver import FOREVER, CachingResolver, GlibcResolver, StartupResolver
from svclab.dns.server import DnsServer
from svclab.errors import SvclabError

WEB = """
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80}]}
"""
MOVED = WEB.replace("10.96.0.10", "10.96.0.77")
NAME = "web.default.svc.cluster.local."


@pytest.fixture
def server():
    with DnsServer(cluster(WEB)) as srv:
        yield srv


def test_ttl_is_honoured(server):
    clock = VirtualClock()
    client = CachingResolver(server.address, clock=clock)
    assert client.resolve(NAME).addresses == ("10.96.0.10",)
    server.update(cluster(MOVED))
    clock.advance(4.9)
    assert client.resolve(NAME).addresses == ("10.96.0.10",)  # still cached: TTL is 5
    clock.advance(0.2)
    assert client.resolve(NAME).addresses == ("10.96.0.77",)
    assert [e.event for e in client.log] == ["query", "cache hit", "expired", "query"]
    assert server.counters().queries == 2


def test_forever_keeps_a_stale_answer(server):
    """JVM ``networkaddress.cache.ttl=-1``: the first answer for the life of the process."""
    clock = VirtualClock()
    client = CachingResolver(server.address, cache_ttl=FOREVER, clock=clock)
    client.resolve(NAME)
    server.update(cluster(MOVED))
    clock.advance(86400)
    assert client.resolve(NAME).addresses == ("10.96.0.10",)
    assert client.queries_sent == 1
    assert client.cache_table()[0]["expires"] == "never"


def test_fixed_override_ignores_the_record_ttl(server):
    """JVM ``networkaddress.cache.ttl=30`` with a 5-second record."""
    clock = VirtualClock()
    client = CachingResolver(server.address, cache_ttl=30, clock=clock)
    client.resolve(NAME)
    server.update(cluster(MOVED))
    clock.advance(29)
    assert client.resolve(NAME).addresses == ("10.96.0.10",)
    clock.advance(2)
    assert client.resolve(NAME).addresses == ("10.96.0.77",)
    assert client.queries_sent == 2


def test_no_cache_asks_every_time(server):
    client = CachingResolver(server.address, cache_ttl=0, clock=VirtualClock())
    for _ in range(3):
        client.resolve(NAME)
    assert client.queries_sent == 3
    assert client.cache_table() == []


def test_startup_resolution_never_follows_changes(server):
    """nginx ``proxy_pass http://web…``: resolved when the process starts, then never again."""
    proxy = StartupResolver([NAME], server.address, clock=VirtualClock())
    server.update(cluster(MOVED))
    assert proxy.resolve(NAME) == ("10.96.0.10",)
    assert CachingResolver(server.address).resolve(NAME).addresses == ("10.96.0.77",)
    assert [e.event for e in proxy.log] == ["query"]


def test_startup_refuses_a_name_that_does_not_resolve(server):
    with pytest.raises(SvclabError, match="host not found"):
        StartupResolver(["db.default.svc.cluster.local."], server.address)


def test_negative_answers_are_cached_for_the_soa_minimum():
    """RFC 2308: NXDOMAIN kept for min(SOA TTL, SOA MINIMUM) = the zone TTL (5 s)."""
    with DnsServer(cluster("")) as srv:
        clock = VirtualClock()
        client = CachingResolver(srv.address, clock=clock)
        assert client.resolve(NAME).rcode == "NXDOMAIN"
        srv.update(cluster(WEB))  # the Service is created right after the failed lookup
        clock.advance(4)
        miss = client.resolve(NAME)
        assert (miss.rcode, miss.source) == ("NXDOMAIN", "cache")
        clock.advance(1.5)
        assert client.resolve(NAME).addresses == ("10.96.0.10",)
    assert [e.event for e in client.log] == ["query", "negative hit", "expired", "query"]


def test_negative_caching_can_be_turned_off_or_fixed():
    with DnsServer(cluster("")) as srv:
        clock = VirtualClock()
        none = CachingResolver(srv.address, negative_ttl=0, clock=clock)
        fixed = CachingResolver(srv.address, negative_ttl=60, clock=clock)
        for client in (none, fixed):
            client.resolve(NAME)
        srv.update(cluster(WEB))
        clock.advance(30)
        assert none.resolve(NAME).addresses == ("10.96.0.10",)
        assert fixed.resolve(NAME).rcode == "NXDOMAIN"


def test_nodata_is_cached_negatively_too(server):
    client = CachingResolver(server.address, clock=VirtualClock())
    first = client.resolve(NAME, "AAAA")
    assert (first.rcode, first.addresses, first.ttl) == ("NOERROR", (), 5)
    assert client.resolve(NAME, "AAAA").source == "cache"


def pod_resolver(server, namespace="default", **kw) -> GlibcResolver:
    conf = ResolvConf.for_pod(namespace, nameserver=server.host, **kw)
    return GlibcResolver(conf, port=server.port)


def test_ndots_sends_every_search_domain_first(server):
    """``api.example.com`` from a Pod in ``default`` (two dots < ndots:5): three cluster
    suffixes, then the name itself — A and AAAA for each, as glibc sends them."""
    info = pod_resolver(server).getaddrinfo("api.example.com")
    expected = [
        (n, t)
        for n in (
            "api.example.com.default.svc.cluster.local.",
            "api.example.com.svc.cluster.local.",
            "api.example.com.cluster.local.",
            "api.example.com.",
        )
        for t in ("A", "AAAA")
    ]
    assert [(n, t) for n, t, _ in info.queries] == expected
    assert [r for _, _, r in info.queries] == ["NXDOMAIN"] * 6 + ["REFUSED"] * 2
    assert info.answered is None
    # The server saw exactly these queries, in this order.
    assert [(e.name, e.type) for e in server.query_log()] == expected
    assert query_plan("api.example.com", ResolvConf.for_pod("default")) == expected


def test_short_name_is_found_at_the_first_search_domain(server):
    info = pod_resolver(server).getaddrinfo("web")
    assert info.answered == NAME
    assert info.addresses == ["10.96.0.10"]
    assert info.queries == [(NAME, "A", "NOERROR"), (NAME, "AAAA", "NOERROR")]


def test_name_dot_namespace_from_another_namespace(server):
    info = pod_resolver(server, "shop").getaddrinfo("web.default")
    assert [n for n, t, _ in info.queries if t == "A"] == [
        "web.default.shop.svc.cluster.local.",
        NAME,
    ]
    assert info.addresses == ["10.96.0.10"]


def test_trailing_dot_skips_the_search_list(server):
    info = pod_resolver(server).getaddrinfo(NAME)
    assert [n for n, _, _ in info.queries] == [NAME, NAME]
    assert info.addresses == ["10.96.0.10"]


def test_enough_dots_try_the_name_first(server):
    info = pod_resolver(server, ndots=2).getaddrinfo("web.default.svc.cluster.local")
    assert [n for n, t, _ in info.queries if t == "A"] == [NAME]


def test_a_refusing_search_domain_ends_the_search(server):
    """glibc stops walking the list on REFUSED (only NXDOMAIN, NODATA, SERVFAIL go on),
    then tries the name as given: the cluster domain is never reached."""
    conf = ResolvConf(
        nameservers=[server.host], search=["corp.example", "default.svc.cluster.local"], ndots=5
    )
    info = GlibcResolver(conf, port=server.port, families="AF_INET").getaddrinfo("web")
    assert [n for n, _, _ in info.queries] == ["web.corp.example.", "web."]
    assert info.answered is None


@pytest.mark.parametrize(
    ("verdict", "walks_on"), [(NXDOMAIN, True), (NODATA, True), (SERVFAIL, True), (OTHER, False)]
)
def test_search_continues_only_on_nxdomain_nodata_servfail(verdict, walks_on):
    conf = ResolvConf(search=["a.example", "b.example"], ndots=1)
    asked = []
    run_search("host", conf, lambda name: asked.append(name) or verdict)
    assert asked == (
        ["host.a.example.", "host.b.example.", "host."]
        if walks_on
        else ["host.a.example.", "host."]
    )


def test_no_tld_query_and_root_in_the_search_list():
    conf = ResolvConf(search=["a.example"], flags={"no-tld-query"})
    assert query_plan("host", conf, "AF_INET") == [("host.a.example.", "A")]
    rooted = ResolvConf(search=["a.example", "."])
    assert query_plan("host", rooted, "AF_INET") == [("host.a.example.", "A"), ("host.", "A")]


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("search a.example\ndomain b.example\n", "search", ["b.example"]),
        (
            "domain b.example\nsearch a.example  c.example\t d.example\n",
            "search",
            ["a.example", "c.example", "d.example"],
        ),
        ("searchdomain x\n", "search", []),
        ("search\n", "search", []),
        (
            "nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\nnameserver 10.0.0.4\n",
            "nameservers",
            ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
        ),
        ("nameserver fe80::1%eth0\n", "nameservers", ["fe80::1"]),
        ("; nameserver 10.0.0.9\n# nameserver 10.0.0.8\n", "nameservers", ["127.0.0.1"]),
        ("options ndots:5\n", "ndots", 5),
        ("options ndots:99\n", "ndots", 15),
        ("options ndots:x\n", "ndots", 0),
        ("options attempts:9 timeout:60\n", "attempts", 5),
        ("options attempts:9 timeout:60\n", "timeout", 30),
        (
            "options single-request-reopen no_tld_query bogus\n",
            "flags",
            {"single-request-reopen", "no-tld-query"},
        ),
    ],
)
def test_resolv_conf_parsing(text, field, expected):
    assert getattr(parse_resolv_conf(text), field) == expected


def test_kubelet_pod_resolv_conf_round_trips():
    conf = ResolvConf.for_pod("shop", host_search=["corp.example"])
    again = parse_resolv_conf(conf.to_text())
    assert again == conf
    assert again.search == [
        "shop.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
        "corp.example",
    ]


def test_node_local_cache_shields_the_cluster_server():
    """Two Pods on a node ask through the cache: the cluster server sees one query, over TCP."""
    clock = VirtualClock()
    with (
        DnsServer(cluster(WEB), ttl=300) as cluster_dns,
        NodeLocalCache(cluster_dns.address, clock=clock) as local,
    ):
        pods = [CachingResolver(local.address, cache_ttl=0, clock=clock) for _ in range(2)]
        first = pods[0].resolve(NAME)
        clock.advance(12)
        second = pods[1].resolve(NAME)
        assert first.ttl == 30  # 300 s capped by the cache's 30 s success limit
        assert second.ttl == 18  # served from the cache, counted down
        assert cluster_dns.counters().by_transport == {"udp": 0, "tcp": 1}
        cluster_dns.update(cluster(MOVED))
        clock.advance(19)  # past the 30 s cap, long before the record's 300 s
        assert pods[0].resolve(NAME).addresses == ("10.96.0.77",)
        assert [e.event for e in local.log] == ["miss", "hit", "expired", "miss"]
        assert cluster_dns.counters().queries == 2


def test_node_local_cache_keeps_denials_at_most_5_seconds():
    clock = VirtualClock()
    with (
        DnsServer(cluster(""), ttl=60) as cluster_dns,
        NodeLocalCache(cluster_dns.address, clock=clock) as local,
    ):
        pod = CachingResolver(local.address, cache_ttl=0, negative_ttl=0, clock=clock)
        assert pod.resolve(NAME).rcode == "NXDOMAIN"
        assert local.cache_table()[0]["left"] == 5
        cluster_dns.update(cluster(WEB))
        clock.advance(4)
        assert pod.resolve(NAME).rcode == "NXDOMAIN"
        clock.advance(2)
        assert pod.resolve(NAME).addresses == ("10.96.0.10",)
