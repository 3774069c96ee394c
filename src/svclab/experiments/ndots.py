"""Experiment 3: ``ndots:5`` amplification — queries per lookup of an external name, and the fixes.

A Pod's resolv.conf searches three cluster domains with ``ndots:5``; a name with fewer than
five dots is tried under each before it is tried as given, each try as A and AAAA. The query
lists come from `svclab.dns.resolvconf` (glibc's search rules), for a name that exists only
outside the cluster (every search candidate answers NXDOMAIN until the last).

With ``real=True`` the same lookups are made by `svclab.dns.resolver.GlibcResolver` against
the cluster DNS server (`svclab.dns.server.DnsServer`) on loopback, which forwards the name
to an upstream standing in for the Internet's DNS (`svclab.dns.hosts.HostsServer`); the count is what the
cluster DNS server answered.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from svclab.dns.hosts import HostsServer
from svclab.dns.resolvconf import ResolvConf, query_plan
from svclab.dns.resolver import GlibcResolver
from svclab.dns.server import DnsServer
from svclab.report.result import Result, say

NAME = "ndots"
TITLE = {"en": "ndots:5 amplification and its fixes", "zh_CN": "ndots:5 查询放大及其修正"}
FIXES = {
    "ndots:5 (default)": {"en": "ndots:5 (default)", "zh_CN": "ndots:5（默认）"},
    "trailing dot": {"en": "trailing dot", "zh_CN": "名称末尾加点"},
    "ndots:1": {"en": "dnsConfig ndots:1", "zh_CN": "dnsConfig ndots:1"},
    "ndots:2": {"en": "dnsConfig ndots:2", "zh_CN": "dnsConfig ndots:2"},
    "AF_INET only": {"en": "IPv4-only lookup", "zh_CN": "仅 IPv4 查询"},
}


def cases(
    name: str, namespace: str, host_search: tuple[str, ...], nameserver: str = "10.96.0.10"
) -> dict[str, tuple[str, ResolvConf, str]]:
    """Fix → (the name the application asks for, the Pod's resolv.conf, address families)."""

    def conf(ndots: int = 5) -> ResolvConf:
        return ResolvConf.for_pod(
            namespace, nameserver=nameserver, host_search=list(host_search), ndots=ndots
        )

    return {
        "ndots:5 (default)": (name, conf(), "AF_UNSPEC"),
        "trailing dot": (name.rstrip(".") + ".", conf(), "AF_UNSPEC"),
        "ndots:1": (name, conf(1), "AF_UNSPEC"),
        "ndots:2": (name, conf(2), "AF_UNSPEC"),
        "AF_INET only": (name, conf(), "AF_INET"),
    }


def real_queries(name: str, namespace: str, host_search: tuple[str, ...]) -> list[int]:
    """Per fix of `cases`, the queries the cluster DNS server answered for one real lookup."""
    counts = []
    with (
        HostsServer({name.rstrip("."): ["192.0.2.10"]}) as internet,
        DnsServer(upstream=internet.address) as cluster,
    ):
        for asked, conf, families in cases(name, namespace, host_search, cluster.host).values():
            cluster.reset_counters()
            info = GlibcResolver(conf, cluster.port, families=families).getaddrinfo(asked)
            if info.addresses != ["192.0.2.10"]:
                raise OSError(f"real lookup of {asked!r} failed: {info.queries}")
            counts.append(cluster.counters().queries)
    return counts


def run(
    *,
    seed: int = 0,
    name: str = "api.example.com",
    namespace: str = "default",
    host_search: tuple[str, ...] = (),
    real: bool = False,
    progress=None,
) -> Result:
    """Queries a glibc client in a Pod sends to resolve `name`, by configuration.

    `host_search` adds the node's own search domains (kubelet appends them to the Pod's).
    With `real`, column ``queries_real`` counts what a real DNS server answered.

    >>> r = run()
    >>> [(row["fix"], row["queries"]) for row in r.rows]  # doctest: +NORMALIZE_WHITESPACE
    [('ndots:5 (default)', 8), ('trailing dot', 2), ('ndots:1', 2), ('ndots:2', 2),
     ('AF_INET only', 4)]
    >>> [row["queries_real"] for row in run(real=True).rows]
    [8, 2, 2, 2, 4]
    """
    del seed  # deterministic: no randomness in a search list
    absolute = name.rstrip(".") + "."
    rows = []
    for fix, (asked, conf, families) in cases(name, namespace, host_search).items():
        plan = query_plan(asked, conf, families)
        # the name exists only as given: the lookup ends with the answers for that candidate
        sent = 1 + max(i for i, (qname, _) in enumerate(plan) if qname == absolute)
        wasted = sum(1 for qname, _ in plan[:sent] if qname != absolute)
        rows.append(
            {
                "fix": fix,
                "name": asked,
                "queries": sent,
                "nxdomain_first": wasted,
                "first_query": plan[0][0],
            }
        )
    if real:
        for row, seen in zip(rows, real_queries(name, namespace, host_search), strict=True):
            row["queries_real"] = seen
    if progress:
        progress(1.0)
    return Result(NAME, rows, {"name": name}, _draw)


def _draw(result: Result, fig: Figure, lang: str) -> None:
    ax = fig.subplots()
    labels = [say(FIXES[row["fix"]], lang) for row in result.rows]
    useful = [row["queries"] - row["nxdomain_first"] for row in result.rows]
    wasted = [row["nxdomain_first"] for row in result.rows]
    ax.barh(
        labels,
        useful,
        label=say({"en": "query for the name itself", "zh_CN": "对名称本身的查询"}, lang),
    )
    ax.barh(
        labels,
        wasted,
        left=useful,
        label=say(
            {"en": "search-list queries (NXDOMAIN)", "zh_CN": "搜索域查询（NXDOMAIN）"}, lang
        ),
    )
    ax.invert_yaxis()
    ax.set_xlabel(say({"en": "DNS queries per lookup", "zh_CN": "每次解析的 DNS 查询数"}, lang))
    ax.legend()
    colon = "：" if lang == "zh_CN" else ": "
    fig.suptitle(say(TITLE, lang) + colon + result.data["name"])
