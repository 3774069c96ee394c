"""A stand-in for the DNS beyond the cluster on loopback: fixed A/AAAA records, nothing else."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence

import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from svclab.dns import wire
from svclab.dns.records import Answer
from svclab.dns.serving import LoopbackServer


class HostsServer(LoopbackServer):
    """The DNS outside the cluster, as far as a page needs it: fixed A and AAAA records for a
    few names (like dnsmasq's ``--host-record``), NODATA for their other types and NXDOMAIN for
    every other name. Negative answers carry no SOA, so resolvers do not cache them.

    >>> from svclab.pages.dns import dig
    >>> with HostsServer({"api.example.com": ["192.0.2.10", "2001:db8::10"]}) as srv:
    ...     print(dig(srv.address, "API.example.com", "AAAA", brief=True))
    ...     print(dig(srv.address, "api.example.com", "TXT", brief=True))
    ...     print(dig(srv.address, "www.example.com", brief=True))
    ;; NOERROR
    ;; ANSWER
    API.example.com. 300 IN AAAA 2001:db8::10
    ;; NOERROR
    ;; NXDOMAIN
    """

    def __init__(self, hosts: Mapping[str, Sequence[str]], *, ttl: int = 300) -> None:
        super().__init__()
        self.records: dict[dns.name.Name, dict[int, list[str]]] = {}
        for name, addresses in hosts.items():
            by_type = self.records.setdefault(dns.name.from_text(name), {})
            for address in addresses:
                rdtype = dns.rdatatype.AAAA if ":" in address else dns.rdatatype.A
                by_type.setdefault(rdtype, []).append(address)
        self.ttl = ttl

    def respond(
        self, data: bytes, tcp: bool, client: tuple
    ) -> bytes | Awaitable[bytes | None] | None:
        """Answer from the fixed records."""
        query, error = self.parse(data, tcp, client)
        if query is None:
            return error
        answer = self._answer(query.name, query.qtype)
        out = wire.render(query, answer, wire.TCP_LIMIT if tcp else query.udp_limit())
        self.note(query.name.to_text().lower(), query.qtype, answer.rcode, client, tcp, False)
        return out

    def _answer(self, name: dns.name.Name, qtype: int) -> Answer:
        # dnspython names compare case-insensitively, so the dict lookup does too.
        by_type = self.records.get(name)
        if by_type is None:
            return Answer(dns.rcode.NXDOMAIN)
        addresses = by_type.get(qtype, [])
        if not addresses:
            return Answer(dns.rcode.NOERROR)
        rrset = dns.rrset.from_text_list(name, self.ttl, "IN", qtype, addresses)
        return Answer(dns.rcode.NOERROR, answer=(rrset,))
