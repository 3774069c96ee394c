"""IP addresses as Kubernetes components parse them: strictly on create, sloppily on read.

Go's `netutils.ParseIPSloppy` (used by kube-proxy, and by the API server before Kubernetes
tightened IP validation) reads IPv4 octets with leading zeros as decimal, so objects stored
long ago can still hold ``172.30.0.041``; components must keep reading them.

>>> parse_cidr_sloppy("203.0.113.000/025")
'203.0.113.0/25'
"""

from __future__ import annotations

import ipaddress
import re

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}\Z")


def parse_ip_sloppy(text: str) -> str | None:
    """An IP address as Go's `net.IP.String()` prints what `netutils.ParseIPSloppy` reads, or None.

    "Sloppy" accepts IPv4 octets with leading zeros, read as decimal (upstream `TestBadIPs`).

    >>> parse_ip_sloppy(" 172.30.0.041"), parse_ip_sloppy("fd00::0001"), parse_ip_sloppy("x")
    ('172.30.0.41', 'fd00::1', None)
    """
    text = text.strip()
    if _CANONICAL_IPV4.match(text):
        return text  # the common case, already as Go prints it
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    parts = text.split(".")
    if len(parts) == 4 and all(p.isascii() and p.isdigit() and int(p) <= 255 for p in parts):
        return ".".join(str(int(p)) for p in parts)
    return None


def parse_cidr_sloppy(text: str) -> str | None:
    """A CIDR as Go prints what `netutils.ParseCIDRSloppy` reads (host bits cleared), or None.

    >>> parse_cidr_sloppy("10.1.2.3/8"), parse_cidr_sloppy("fd00::1/64"), parse_cidr_sloppy("10.0.0.1")
    ('10.0.0.0/8', 'fd00::/64', None)
    """
    address, slash, prefix = text.strip().partition("/")
    ip = parse_ip_sloppy(address)
    if ip is None or not slash or not (prefix.isascii() and prefix.isdigit()):
        return None
    try:
        return str(ipaddress.ip_network(f"{ip}/{int(prefix)}", strict=False))
    except ValueError:
        return None
