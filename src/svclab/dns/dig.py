"""A DNS reply laid out as ``dig`` prints it: header, flags, sections, timing.

CoreDNS keeps such helpers (`plugin/pkg/dnsutil`) apart from its server; so does svclab, for
``svclab dns query`` and the DNS pages alike.
"""

from __future__ import annotations

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype


def dig_text(reply: dns.message.Message, server: str, transport: str, elapsed: float) -> str:
    """A reply laid out as dig prints it.

    >>> reply = dns.message.make_response(dns.message.make_query("a.example.", "A", id=1))
    >>> print(dig_text(reply, "127.0.0.1#53", "UDP", 0.001).splitlines()[0])
    ;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1
    """
    flags = dns.flags.to_text(reply.flags).lower()
    lines = [
        f";; ->>HEADER<<- opcode: QUERY, status: {dns.rcode.to_text(reply.rcode())}, "
        f"id: {reply.id}",
        f";; flags: {flags}; QUERY: {len(reply.question)}, ANSWER: {_count(reply.answer)}, "
        f"AUTHORITY: {_count(reply.authority)}, ADDITIONAL: {_count(reply.additional)}",
        "",
        ";; QUESTION SECTION:",
        *(f";{q.name} IN {dns.rdatatype.to_text(q.rdtype)}" for q in reply.question),
    ]
    for title, section in (
        ("ANSWER", reply.answer),
        ("AUTHORITY", reply.authority),
        ("ADDITIONAL", reply.additional),
    ):
        if section:
            lines += ["", f";; {title} SECTION:", *(rr.to_text() for rr in section)]
    lines += [
        "",
        f";; Query time: {elapsed * 1000:.0f} msec",
        f";; SERVER: {server} ({transport})",
        f";; MSG SIZE  rcvd: {len(reply.to_wire())}",
    ]
    return "\n".join(lines)


def _count(section: list) -> int:
    return sum(len(rr) for rr in section)
