"""Experiment 3: ``ndots:5`` amplification — queries per lookup of an external name, and the fixes.

A Pod's resolv.conf searches three cluster domains with ``ndots:5``; a name with fewer than
five dots is tried under each before it is tried as given, each try as A and AAAA. The query
lists come from `svclab.dns.resolvconf` (glibc's search rules), for a name that exists only
outside the cluster (every search candidate answers NXDOMAIN until the last).
"""

from __future__ import annotations

from matplotlib.figure import Figure

from svclab.dns.resolvconf import ResolvConf, query_plan
from svclab.errors import SvclabError
from svclab.experiments.result import Result, say

NAME = "ndots"
TITLE = {"en": "ndots:5 amplification and its fixes", "zh_CN": "ndots:5 查询放大及其修正"}
FIXES = {
    "ndots:5 (default)": {"en": "ndots:5 (default)", "zh_CN": "ndots:5（默认）"},
    "trailing dot": {"en": "trailing dot", "zh_CN": "名称末尾加点"},
    "ndots:1": {"en": "dnsConfig ndots:1", "zh_CN": "dnsConfig ndots:1"},
    "ndots:2": {"en": "dnsConfig ndots:2", "zh_CN": "dnsConfig ndots:2"},
    "AF_INET only": {"en": "IPv4-only lookup", "zh_CN": "仅 IPv4 查询"},
}


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

    >>> r = run()
    >>> [(row["fix"], row["queries"]) for row in r.rows]  # doctest: +NORMALIZE_WHITESPACE
    [('ndots:5 (default)', 8), ('trailing dot', 2), ('ndots:1', 2), ('ndots:2', 2),
     ('AF_INET only', 4)]
    """
    if real:
        raise SvclabError(
            "real=True needs svclab.dns's caching resolvers, which are not in the package yet"
        )
    del seed  # deterministic: no randomness in a search list
    base = ResolvConf.for_pod(namespace, host_search=list(host_search))
    cases = {
        "ndots:5 (default)": (name, base, "AF_UNSPEC"),
        "trailing dot": (name.rstrip(".") + ".", base, "AF_UNSPEC"),
        "ndots:1": (
            name,
            ResolvConf.for_pod(namespace, host_search=list(host_search), ndots=1),
            "AF_UNSPEC",
        ),
        "ndots:2": (
            name,
            ResolvConf.for_pod(namespace, host_search=list(host_search), ndots=2),
            "AF_UNSPEC",
        ),
        "AF_INET only": (name, base, "AF_INET"),
    }
    rows = []
    for fix, (asked, conf, families) in cases.items():
        plan = query_plan(asked, conf, families)
        # the name exists only as given: the lookup ends with the answers for that candidate
        sent = 1 + max(i for i, (qname, _) in enumerate(plan) if qname == name.rstrip(".") + ".")
        wasted = sum(1 for qname, _ in plan[:sent] if qname != name.rstrip(".") + ".")
        rows.append(
            {
                "fix": fix,
                "name": asked,
                "queries": sent,
                "nxdomain_first": wasted,
                "first_query": plan[0][0],
            }
        )
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
    fig.suptitle(say(TITLE, lang) + f": {result.data['name']}")
