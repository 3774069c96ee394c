"""DNS wire format for the servers: a fast question parser, error replies, answer rendering.

Queries are parsed by hand up to the question (and an OPT record) because that is all a
server needs; anything unusual goes through dnspython's full parser.

>>> import dns.message
>>> wire = dns.message.make_query("Web.shop.svc.cluster.local", "A", use_edns=0, id=7).to_wire()
>>> q = parse_query(wire)
>>> q.id, q.name.to_text(), q.qtype, q.edns, q.payload
(7, 'Web.shop.svc.cluster.local.', 1, 0, 1232)
>>> parse_query(wire[:-13])  # cut inside the question type
Traceback (most recent call last):
...
svclab.dns.wire.Rejected: FORMERR: the question does not fit in the packet
>>> error_response(wire, dns.rcode.FORMERR)[:4].hex()
'00078101'
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from svclab.dns.records import Answer

OUR_PAYLOAD = 1232
"""The EDNS UDP payload size we advertise (DNS flag day 2020)."""

CLASSIC_UDP_LIMIT = 512
"""Largest UDP answer to a query without EDNS (RFC 1035 section 4.2.1)."""

TCP_LIMIT = 65535

_HEADER = struct.Struct("!HHHHHH")
_QTAIL = struct.Struct("!HH")
_OPT = struct.Struct("!HHBBHH")


class Dropped(Exception):
    """A packet to ignore: too short for a header, or itself a response."""


class Rejected(Exception):
    """A query answered only with an rcode (FORMERR, NOTIMP …) in a bare header."""

    def __init__(self, rcode: int, why: str) -> None:
        self.rcode = rcode
        super().__init__(f"{dns.rcode.to_text(dns.rcode.Rcode(rcode))}: {why}")


class Query(NamedTuple):
    """The parts of a query a server answers from."""

    id: int
    flags: int
    name: dns.name.Name
    qtype: int
    qclass: int
    edns: int
    """EDNS version, -1 without an OPT record."""
    payload: int
    dnssec_ok: bool

    def udp_limit(self) -> int:
        """Largest UDP answer this client accepts: its EDNS payload size, else 512 bytes."""
        return max(CLASSIC_UDP_LIMIT, min(self.payload, TCP_LIMIT)) if self.edns >= 0 else 512


def parse_query(data: bytes) -> Query:
    """Parse a query's header, question and OPT record; raise `Dropped` or `Rejected`."""
    if len(data) < 12:
        raise Dropped("shorter than a DNS header")
    qid, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if flags & dns.flags.QR:
        raise Dropped("a response, not a query")
    if dns.opcode.from_flags(flags) != dns.opcode.QUERY:
        raise Rejected(dns.rcode.NOTIMP, "only standard queries are served")
    if qdcount != 1:
        raise Rejected(dns.rcode.FORMERR, f"{qdcount} questions, expected 1")
    if ancount or nscount or arcount > 1:
        return _parse_slowly(data)
    try:
        name, used = dns.name.from_wire(data, 12)
    except dns.exception.DNSException as exc:
        raise Rejected(dns.rcode.FORMERR, f"bad question name ({exc})") from None
    end = 12 + used
    if len(data) < end + 4:
        raise Rejected(dns.rcode.FORMERR, "the question does not fit in the packet")
    qtype, qclass = _QTAIL.unpack_from(data, end)
    end += 4
    if not arcount:
        if end != len(data):
            raise Rejected(dns.rcode.FORMERR, "bytes after the question")
        return Query(qid, flags, name, qtype, qclass, -1, 0, False)
    if len(data) < end + 11 or data[end] != 0:
        return _parse_slowly(data)
    rdtype, payload, _, version, ednsflags, rdlen = _OPT.unpack_from(data, end + 1)
    if rdtype != dns.rdatatype.OPT or end + 11 + rdlen != len(data):
        return _parse_slowly(data)
    return Query(qid, flags, name, qtype, qclass, version, payload, bool(ednsflags & 0x8000))


def _parse_slowly(data: bytes) -> Query:
    """Unusual queries (records in other sections, TSIG …) through dnspython's parser."""
    try:
        msg = dns.message.from_wire(data)
    except Exception as exc:  # dnspython raises many types for bad input; all mean FORMERR
        raise Rejected(dns.rcode.FORMERR, f"unparsable ({type(exc).__name__})") from None
    (question,) = msg.question
    return Query(
        msg.id,
        msg.flags,
        question.name,
        question.rdtype,
        question.rdclass,
        msg.edns,
        msg.payload,
        bool(msg.ednsflags & dns.flags.DO),
    )


def error_response(data: bytes, rcode: int) -> bytes:
    """A bare header answering `data` with `rcode` (opcode and RD copied, no sections)."""
    flags = (data[2] << 8) & 0x7900  # keep opcode and RD
    return data[:2] + struct.pack("!HHHHH", flags | dns.flags.QR | rcode, 0, 0, 0, 0)


def render(query: Query, answer: Answer, max_size: int, extra_answer: tuple = ()) -> bytes:
    """The response to `query`, truncated (TC) when it exceeds `max_size` bytes.

    Owner names equal to the question are compressed into pointers to it, so the answer
    echoes the query's letter case as CoreDNS does.
    """
    msg = dns.message.Message(id=query.id)
    msg.flags = dns.flags.QR | (query.flags & (dns.flags.RD | dns.flags.CD))
    if answer.authoritative:
        msg.flags |= dns.flags.AA
    msg.question = [dns.rrset.RRset(query.name, query.qclass, query.qtype)]
    if query.edns >= 0:
        msg.use_edns(0, dns.flags.DO if query.dnssec_ok else 0, OUR_PAYLOAD)
    msg.set_rcode(answer.rcode)
    msg.answer = [*answer.answer, *extra_answer]
    msg.authority = list(answer.authority)
    msg.additional = list(answer.additional)
    return msg.to_wire(max_size=max_size, prefer_truncation=True)


def rcode_of(wire: bytes) -> int:
    """The (non-extended) rcode of a response.

    >>> rcode_of(bytes.fromhex("00078183"))
    3
    """
    return wire[3] & 0x0F


def truncated(wire: bytes) -> bool:
    """Whether a response has the TC bit set."""
    return bool(wire[2] & 0x02)
