"""What the site's DNS pages show: dig-like answers from a live server, and the queries a Pod's
lookup really sends.

>>> from svclab.api.manifests import load_text
>>> from svclab.api.state import ClusterState
>>> from svclab.dns.server import DnsServer
>>> from svclab.dns.hosts import HostsServer
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: pay, namespace: shop}
... spec: {type: ExternalName, externalName: api.example.com}
... '''))
>>> with HostsServer({"api.example.com": ["192.0.2.10"]}) as world, \\
...         DnsServer(state, upstream=world.address) as cluster:
...     print(dig(cluster.address, "pay.shop.svc.cluster.local", brief=True))
...     lookup = pod_lookup(cluster, ResolvConf.for_pod("shop"), "api.example.com")
;; NOERROR
;; ANSWER
pay.shop.svc.cluster.local. 5 IN CNAME api.example.com.
api.example.com. 300 IN A 192.0.2.10
>>> len(lookup.log), lookup.info.answered, lookup.info.addresses
(8, 'api.example.com.', ['192.0.2.10'])
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset

from svclab.dns.dig import dig_text
from svclab.dns.records import format_sections
from svclab.dns.resolvconf import ResolvConf
from svclab.dns.resolver import AddrInfo, GlibcResolver
from svclab.dns.serving import LoggedQuery, LoopbackServer


def dig(server: tuple[str, int], name: str, rdtype: str = "A", *, brief: bool = False) -> str:
    """Ask `server` (host, port) one question over UDP (TCP if truncated) and lay the reply out
    as ``svclab dns query`` prints it; `brief` keeps only the status and the record sections.

    >>> from svclab.dns.hosts import HostsServer
    >>> with HostsServer({"www.example.com": ["192.0.2.1"]}) as srv:
    ...     print(dig(srv.address, "www.example.com"))  # doctest: +ELLIPSIS
    ;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: ...
    ;; flags: qr aa rd; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0
    <BLANKLINE>
    ;; QUESTION SECTION:
    ;www.example.com. IN A
    <BLANKLINE>
    ;; ANSWER SECTION:
    www.example.com. 300 IN A 192.0.2.1
    <BLANKLINE>
    ;; Query time: ... msec
    ;; SERVER: 127.0.0.1#... (UDP)
    ;; MSG SIZE  rcvd: ...
    """
    host, port = server
    query = dns.message.make_query(name, rdtype, use_edns=0)
    started = time.monotonic()
    reply, tcp = dns.query.udp_with_fallback(query, host, timeout=2.0, port=port)
    if brief:
        return format_sections(reply.rcode(), reply.answer, reply.authority, reply.additional)
    elapsed = time.monotonic() - started
    return dig_text(reply, f"{host}#{port}", "TCP" if tcp else "UDP", elapsed)


@dataclass
class Lookup:
    """One ``getaddrinfo`` from a Pod: what it returned and what the server logged meanwhile."""

    info: AddrInfo
    log: list[LoggedQuery]

    def rows(self) -> list[dict]:
        """The server's log as table rows: query number, name, type, rcode."""
        return [
            {"#": i, "name": q.name, "type": q.type, "rcode": q.rcode}
            for i, q in enumerate(self.log, 1)
        ]


def pod_lookup(
    server: LoopbackServer, conf: ResolvConf, name: str, families: str = "AF_UNSPEC"
) -> Lookup:
    """Resolve `name` as a glibc program reading `conf` would, with `server` on loopback standing
    in for the Pod's nameserver; the server's counters are reset first, so the log holds exactly
    this lookup's queries.

    >>> from svclab.report.tables import format_table
    >>> from svclab.dns.hosts import HostsServer
    >>> with HostsServer({"db.corp.example": ["192.0.2.5"]}) as srv:
    ...     conf = ResolvConf(search=["corp.example"], ndots=1)
    ...     lookup = pod_lookup(srv, conf, "db", "AF_INET")
    >>> print(format_table(lookup.rows()))
    #  name              type  rcode
    1  db.corp.example.  A     NOERROR
    """
    pointed = dataclasses.replace(conf, nameservers=[server.host])
    server.reset_counters()
    info = GlibcResolver(pointed, port=server.port, families=families).getaddrinfo(name)
    return Lookup(info, server.query_log())


def search_table(server: LoopbackServer, conf: ResolvConf, names: Iterable[str]) -> list[dict]:
    """For each name: its dots, how many queries its lookup cost at `server`, the candidate that
    answered and the addresses.

    >>> from svclab.report.tables import format_table
    >>> from svclab.dns.hosts import HostsServer
    >>> with HostsServer({"db.corp.example": ["192.0.2.5"]}) as srv:
    ...     rows = search_table(srv, ResolvConf(search=["corp.example"], ndots=1), ["db", "x.y"])
    >>> print(format_table(rows))
    name  dots  queries  answered as       addresses
    db    0     2        db.corp.example.  192.0.2.5
    x.y   1     4        -                 -
    """
    rows = []
    for name in names:
        lookup = pod_lookup(server, conf, name)
        rows.append(
            {
                "name": name,
                "dots": name.rstrip(".").count("."),
                "queries": len(lookup.log),
                "answered as": lookup.info.answered or "-",
                "addresses": " ".join(lookup.info.addresses) or "-",
            }
        )
    return rows
