"""The DNS-Based Service Discovery record set (schema 1.1.0) of a ClusterState, precomputed.

The table answers every (name, type) the way CoreDNS's ``kubernetes`` plugin does, including
which misses are NXDOMAIN and which are NODATA (an SOA in the authority section either way).
Records only change when the cluster does, so every answer is built once per update.

>>> from svclab.api.manifests import load_text
>>> state = ClusterState.from_manifests(load_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web, namespace: shop}
... spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80}]}
... '''))
>>> table = build_records(state, serial=1)
>>> print(table.lookup("WEB.shop.svc.cluster.local", "A").to_text())
;; NOERROR
;; ANSWER
web.shop.svc.cluster.local. 5 IN A 10.96.0.10
>>> print(table.lookup("_http._tcp.web.shop.svc.cluster.local", "SRV").to_text())
;; NOERROR
;; ANSWER
_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local.
;; ADDITIONAL
web.shop.svc.cluster.local. 5 IN A 10.96.0.10
>>> print(table.lookup("db.shop.svc.cluster.local", "A").to_text())
;; NXDOMAIN
;; AUTHORITY
cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import dns.exception
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset
import kubernetes.client as k8s

from svclab.api.helpers import is_headless
from svclab.api.state import ClusterState, namespace_of
from svclab.errors import SvclabError

SCHEMA_VERSION = "1.1.0"
"""The schema version published at ``dns-version.<zone>`` (spec section 1)."""

DEFAULT_ZONE = "cluster.local"
DEFAULT_TTL = 5
"""CoreDNS's default TTL for the kubernetes plugin (its README); the spec prescribes none."""

VERSION_TTL = 28800
"""The TTL CoreDNS gives the ``dns-version`` TXT record, as in the spec's example answer."""

DEFAULT_REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")
"""The reverse zones of the default Corefile (``kubernetes cluster.local in-addr.arpa …``)."""

MAX_TTL = 3600
MAX_CNAME_CHAIN = 10
"""CoreDNS stops following in-zone CNAMEs after this many (``maxCnameChainLength``)."""

A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT = (
    dns.rdatatype.A,
    dns.rdatatype.AAAA,
    dns.rdatatype.CNAME,
    dns.rdatatype.NS,
    dns.rdatatype.PTR,
    dns.rdatatype.SOA,
    dns.rdatatype.SRV,
    dns.rdatatype.TXT,
)
IN = dns.rdataclass.IN
NOERROR, NXDOMAIN, REFUSED = dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED


@dataclass(frozen=True)
class Answer:
    """What the server puts in a response: rcode and the three record sections.

    ``chase`` names an out-of-zone CNAME target that a server with an upstream completes
    (CoreDNS asks its upstream; without one the CNAME alone is the answer).
    """

    rcode: int
    answer: tuple[dns.rrset.RRset, ...] = ()
    authority: tuple[dns.rrset.RRset, ...] = ()
    additional: tuple[dns.rrset.RRset, ...] = ()
    authoritative: bool = True
    chase: dns.name.Name | None = None

    def to_text(self) -> str:
        """The rcode and the non-empty sections, one record per line."""
        return format_sections(self.rcode, self.answer, self.authority, self.additional)


def format_sections(
    rcode: int,
    answer: Iterable[dns.rrset.RRset],
    authority: Iterable[dns.rrset.RRset] = (),
    additional: Iterable[dns.rrset.RRset] = (),
) -> str:
    """Lines like dig's: ``;; RCODE`` then ``;; SECTION`` headers over their records.

    >>> rr = dns.rrset.from_text("a.example.", 5, "IN", "A", "192.0.2.1")
    >>> print(format_sections(NOERROR, [rr]))
    ;; NOERROR
    ;; ANSWER
    a.example. 5 IN A 192.0.2.1
    """
    lines = [f";; {dns.rcode.to_text(dns.rcode.Rcode(rcode))}"]
    for title, rrsets in (("ANSWER", answer), ("AUTHORITY", authority), ("ADDITIONAL", additional)):
        text = [line for rrset in rrsets for line in rrset.to_text().splitlines()]
        if text:
            lines += [f";; {title}", *text]
    return "\n".join(lines)


class _Entry(NamedTuple):
    """One CoreDNS ``msg.Service``: an address, a port (-1: none declared) and the SRV target."""

    host: str
    port: int
    target: dns.name.Name


@dataclass
class _Names:
    """Everything a Service contributes, before answers are built."""

    entries: dict[dns.name.Name, list[_Entry]] = field(default_factory=dict)
    existing: set[dns.name.Name] = field(default_factory=set)
    cnames: dict[dns.name.Name, dns.name.Name] = field(default_factory=dict)
    service_ptrs: dict[dns.name.Name, dns.name.Name] = field(default_factory=dict)
    endpoint_ptrs: dict[dns.name.Name, list[dns.name.Name]] = field(default_factory=dict)

    def add(self, name: dns.name.Name, entry: _Entry) -> None:
        self.entries.setdefault(name, []).append(entry)


def endpoint_hostname(address: str, hostname: str | None) -> str:
    """The endpoint's DNS label: its ``hostname``, else CoreDNS's dashed IP.

    >>> endpoint_hostname("172.0.0.2", None), endpoint_hostname("5678:abcd::1", None)
    ('172-0-0-2', '5678-abcd--1')
    >>> endpoint_hostname("fd00::", None), endpoint_hostname("10.0.0.1", "my-pet")
    ('fd00--0', 'my-pet')
    """
    if hostname:
        return hostname
    dashed = address.replace(".", "-").replace(":", "-")
    # A label cannot end with '-', so CoreDNS appends a 0 to IPv6 addresses ending in '::'.
    return dashed + "0" if dashed.endswith("-") else dashed


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text or "")
    except ValueError:
        return None


def _cluster_ips(spec: k8s.V1ServiceSpec) -> list[str]:
    ips = spec.cluster_ips or ([spec.cluster_ip] if spec.cluster_ip else [])
    return [ip for ip in ips if _ip(ip) is not None]


def _ready_endpoints(state: ClusterState, ns: str, name: str) -> Iterable[tuple[str, str, list]]:
    """(address, hostname, ports) for each ready address of each slice of the Service.

    Only ``conditions.ready`` counts, unset meaning ready (as CoreDNS reads EndpointSlices):
    the EndpointSlice controller already folds ``publishNotReadyAddresses`` into it.
    """
    for slc in state.slices_for(ns, name):
        if slc.address_type not in ("IPv4", "IPv6"):
            continue
        # A slice without ports still gives addresses; CoreDNS marks it with port -1.
        ports = [
            (p.port if p.port is not None else -1, p.name or "", (p.protocol or "TCP").lower())
            for p in slc.ports or []
        ] or [(-1, "", "")]
        for endpoint in slc.endpoints or []:
            conditions = endpoint.conditions
            if conditions is not None and conditions.ready is False:
                continue
            for address in endpoint.addresses or []:
                if _ip(address) is not None:
                    yield address, endpoint_hostname(address, endpoint.hostname), ports


def _collect(state: ClusterState, zone: dns.name.Name) -> _Names:
    names = _Names()
    for svc in state.services:
        spec = svc.spec or k8s.V1ServiceSpec()
        ns, name = namespace_of(svc), svc.metadata.name
        if not name:
            continue
        base = dns.name.from_text(f"{name}.{ns}.svc", origin=zone)
        if spec.type == "ExternalName":
            # CoreDNS serves only a name there: an IP in externalName yields no record.
            if spec.external_name and _ip(spec.external_name.rstrip(".")) is None:
                names.cnames[base] = dns.name.from_text(spec.external_name)
            continue
        headless = is_headless(svc)
        if not headless:
            ips = _cluster_ips(spec)
            for port in spec.ports or []:
                names.existing.add(base)
                for ip in ips:
                    names.add(base, _Entry(ip, port.port, base))
                if port.name:
                    proto = (port.protocol or "TCP").lower()
                    srv_name = dns.name.from_text(f"_{port.name}._{proto}", origin=base)
                    names.existing.add(srv_name)
                    for ip in ips:
                        names.add(srv_name, _Entry(ip, port.port, base))
            for ip in ips:
                names.service_ptrs.setdefault(dns.reversename.from_address(ip), base)
        for address, hostname, ports in _ready_endpoints(state, ns, name):
            host_name = dns.name.from_text(hostname, origin=base)
            ptrs = names.endpoint_ptrs.setdefault(dns.reversename.from_address(address), [])
            if host_name not in ptrs:
                ptrs.append(host_name)
            for number, port_name, proto in ports:
                entry = _Entry(address, number, host_name)
                names.add(host_name, entry)
                if headless:
                    names.add(base, entry)
                    if port_name:
                        names.add(dns.name.from_text(f"_{port_name}._{proto}", origin=base), entry)
    return names


def _rrset(name: dns.name.Name, ttl: int, rdtype: int, texts: Iterable[str]) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, ttl, IN, rdtype, list(texts))


def _address_rrsets(
    name: dns.name.Name, ttl: int, hosts: Iterable[str]
) -> dict[int, dns.rrset.RRset]:
    by_type: dict[int, list[str]] = {}
    for host in dict.fromkeys(hosts):
        by_type.setdefault(A if ":" not in host else AAAA, []).append(host)
    return {rdtype: _rrset(name, ttl, rdtype, hosts) for rdtype, hosts in by_type.items()}


def _srv_answer(name: dns.name.Name, ttl: int, entries: Sequence[_Entry]) -> Answer:
    """SRV as CoreDNS builds it: priority 0, weight 100/N over all N entries, duplicates dropped,
    the targets' addresses in the additional section."""
    weight = max(1, 100 // len(entries)) if entries else 100
    records = dict.fromkeys(
        f"0 {weight} {e.port} {e.target.to_text()}" for e in entries if e.port != -1
    )
    extra: dict[tuple[dns.name.Name, int], list[str]] = {}
    for e in entries:
        if e.port != -1:
            extra.setdefault((e.target, A if ":" not in e.host else AAAA), []).append(e.host)
    if not records:
        return Answer(NOERROR)
    return Answer(
        NOERROR,
        answer=(_rrset(name, ttl, SRV, records),),
        additional=tuple(
            _rrset(target, ttl, rdtype, dict.fromkeys(hosts))
            for (target, rdtype), hosts in extra.items()
        ),
    )


@dataclass
class _Node:
    """Answers of one owner name by type, and the answer for any other type."""

    answers: dict[int, Answer]
    otherwise: Answer


class RecordTable:
    """Answers for every name of a cluster's DNS zones, by name and type (case-insensitive)."""

    def __init__(
        self,
        zone: dns.name.Name,
        ttl: int,
        reverse_zones: Sequence[dns.name.Name],
        serial: int,
    ) -> None:
        self.zone, self.ttl, self.reverse_zones, self.serial = (
            zone,
            ttl,
            tuple(reverse_zones),
            serial,
        )
        self.zones = (zone, *self.reverse_zones)
        self._nodes: dict[dns.name.Name, _Node] = {}
        self._nxdomain: dict[dns.name.Name, Answer] = {}
        self._nodata: dict[dns.name.Name, Answer] = {}
        for z in self.zones:
            soa = (self.soa(z),)
            self._nxdomain[z] = Answer(NXDOMAIN, authority=soa)
            self._nodata[z] = Answer(NOERROR, authority=soa)

    def soa(self, zone: dns.name.Name) -> dns.rrset.RRset:
        """The zone's SOA as CoreDNS makes it (TTL capped at 300, minimum = the TTL)."""
        mname = dns.name.from_text("ns.dns", origin=zone)
        rname = dns.name.from_text("hostmaster", origin=zone)
        text = f"{mname} {rname} {self.serial} 7200 1800 86400 {self.ttl}"
        return _rrset(zone, min(self.ttl, 300), SOA, [text])

    def zone_of(self, name: dns.name.Name) -> dns.name.Name | None:
        """The longest served zone containing `name`, or None when it is not ours.

        >>> t = build_records(ClusterState(), reverse_zones=["10.in-addr.arpa"])
        >>> t.zone_of(dns.name.from_text("1.0.0.10.in-addr.arpa")), t.zone_of(dns.name.from_text("x."))
        (<DNS name 10.in-addr.arpa.>, None)
        """
        best = None
        for z in self.zones:
            if name.is_subdomain(z) and (best is None or len(z) > len(best)):
                best = z
        return best

    def lookup(self, qname: str | dns.name.Name, qtype: str | int) -> Answer:
        """The answer to one question; REFUSED (not authoritative) outside the served zones."""
        name = qname if isinstance(qname, dns.name.Name) else dns.name.from_text(qname)
        rdtype = dns.rdatatype.from_text(qtype) if isinstance(qtype, str) else qtype
        zone = self.zone_of(name)
        if zone is None:
            return Answer(REFUSED, authoritative=False)
        node = self._nodes.get(name)
        if node is None:
            return self._nxdomain[zone]
        return node.answers.get(rdtype, node.otherwise)

    def names(self) -> list[dns.name.Name]:
        """Every owner name that exists, sorted.

        >>> [n.to_text() for n in build_records(ClusterState(), reverse_zones=[]).names()]
        ['cluster.local.', 'dns-version.cluster.local.', 'pod.cluster.local.', 'svc.cluster.local.']
        """
        return sorted(self._nodes)

    def records(self) -> list[dns.rrset.RRset]:
        """Every positive answer RRset owned by its own name (a zone-file view), sorted."""
        out = []
        for name in self.names():
            for rdtype, ans in sorted(self._nodes[name].answers.items()):
                out += [rr for rr in ans.answer if rr.name == name and rr.rdtype == rdtype]
        return out

    def _set(self, name: dns.name.Name, answers: dict[int, Answer], negative: str) -> None:
        zone = self.zone_of(name)
        if zone is None:
            return
        base = self._nodata[zone] if negative == "nodata" else self._nxdomain[zone]
        self._nodes[name] = _Node(
            {
                t: a if a.answer or a.rcode != NOERROR else self._nodata[zone]
                for t, a in answers.items()
            },
            base,
        )

    def _add_structure(self, namespaces: Iterable[str]) -> None:
        """Apexes, ``svc``, ``pod`` and namespaces: NODATA, except TXT which CoreDNS answers
        NXDOMAIN for every name without Service records (handler TXT path)."""
        nx_txt = {TXT: self._nxdomain[self.zone]}
        for z in self.zones:
            apex = {
                SOA: Answer(NOERROR, answer=(self.soa(z),)),
                NS: Answer(NOERROR, answer=(_rrset(z, self.ttl, NS, [f"ns.dns.{z}"]),)),
                TXT: self._nxdomain[z],
            }
            self._set(z, apex, "nodata")
        structural = [dns.name.from_text(p, origin=self.zone) for p in ("svc", "pod")]
        structural += [dns.name.from_text(f"{ns}.svc", origin=self.zone) for ns in namespaces]
        for name in structural:
            self._set(name, nx_txt, "nodata")
        # CoreDNS parses dns-version as neither svc nor pod: every other type is NXDOMAIN.
        version = dns.name.from_text("dns-version", origin=self.zone)
        txt = _rrset(version, VERSION_TTL, TXT, [f'"{SCHEMA_VERSION}"'])
        self._set(version, {TXT: Answer(NOERROR, answer=(txt,))}, "nxdomain")

    def _add_services(self, names: _Names) -> None:
        for name in names.existing | set(names.entries):
            entries = names.entries.get(name, [])
            answers = {
                t: Answer(NOERROR, answer=(rr,))
                for t, rr in _address_rrsets(name, self.ttl, (e.host for e in entries)).items()
            }
            answers[SRV] = _srv_answer(name, self.ttl, entries)
            answers[TXT] = Answer(NOERROR)
            self._set(name, answers, "nodata")

    def _add_ptrs(self, names: _Names) -> None:
        """A ClusterIP points to its Service; other IPs to every endpoint name using them.
        Other types at a PTR name are NXDOMAIN in CoreDNS (reverse names are not Services)."""
        ptrs = {rev: [target] for rev, target in names.service_ptrs.items()}
        for rev, targets in names.endpoint_ptrs.items():
            ptrs.setdefault(rev, targets)
        for rev, targets in ptrs.items():
            rr = _rrset(rev, self.ttl, PTR, (t.to_text() for t in targets))
            self._set(rev, {PTR: Answer(NOERROR, answer=(rr,))}, "nxdomain")

    def _add_cnames(self, cnames: dict[dns.name.Name, dns.name.Name]) -> None:
        """ExternalName: a CNAME for A, AAAA and CNAME questions (NODATA otherwise). An in-zone
        target is followed here; CoreDNS then answers only if the target had addresses."""
        for name, target in cnames.items():
            cname = _rrset(name, self.ttl, CNAME, [target.to_text()])
            answers = {CNAME: Answer(NOERROR, answer=(cname,)), TXT: Answer(NOERROR)}
            for rdtype in (A, AAAA):
                answers[rdtype] = self._follow(cname, rdtype, cnames)
            self._set(name, answers, "nodata")

    def _follow(
        self, cname: dns.rrset.RRset, rdtype: int, cnames: dict[dns.name.Name, dns.name.Name]
    ) -> Answer:
        chain = [cname]
        target = cname[0].target
        while target.is_subdomain(self.zone):
            if target == chain[-1].name or len(chain) > MAX_CNAME_CHAIN:
                return Answer(NOERROR)
            if target in cnames:
                chain.append(_rrset(target, self.ttl, CNAME, [cnames[target].to_text()]))
                target = cnames[target]
                continue
            found = self.lookup(target, rdtype)
            return (
                Answer(NOERROR, answer=(*chain, *found.answer)) if found.answer else Answer(NOERROR)
            )
        return Answer(NOERROR, answer=tuple(chain), chase=target)


def build_records(
    state: ClusterState,
    zone: str = DEFAULT_ZONE,
    ttl: int = DEFAULT_TTL,
    reverse_zones: Sequence[str] = DEFAULT_REVERSE_ZONES,
    serial: int | None = None,
) -> RecordTable:
    """Build the record table of `state` for `zone`.

    `serial` is the SOA serial; by default the current Unix time, as CoreDNS uses the time
    of the last change it saw.

    >>> build_records(ClusterState(), ttl=4000)
    Traceback (most recent call last):
    ...
    svclab.errors.SvclabError: --ttl: must be 0-3600 seconds (CoreDNS's range), got 4000
    >>> t = build_records(ClusterState(), zone="Example.Test", serial=7)
    >>> print(t.lookup("dns-version.example.test.", "TXT").to_text())
    ;; NOERROR
    ;; ANSWER
    dns-version.example.test. 28800 IN TXT "1.1.0"
    """
    if not 0 <= ttl <= MAX_TTL:
        raise SvclabError(f"--ttl: must be 0-{MAX_TTL} seconds (CoreDNS's range), got {ttl}")
    try:
        origin = dns.name.from_text(zone.lower())
        reverse = [dns.name.from_text(z.lower()) for z in reverse_zones]
    except dns.exception.DNSException as exc:
        raise SvclabError(f"--zone: not a valid DNS name: {zone!r} ({exc})") from None
    table = RecordTable(origin, ttl, reverse, int(time.time()) if serial is None else serial)
    names = _collect(state, origin)
    objects: list[Any] = [*state.services, *state.endpoint_slices, *state.pods]
    table._add_structure(sorted({namespace_of(obj) for obj in objects}))
    table._add_services(names)
    table._add_ptrs(names)
    table._add_cnames(names.cnames)
    return table
