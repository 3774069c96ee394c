"""Value formats: DNS names, label keys and values, ports, IPs and CIDRs (apimachinery rules)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from svclab.api.addresses import parse_cidr_sloppy, parse_ip_sloppy
from svclab.api.validation.field import FieldError, invalid

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _LABEL_KEY_NAME + ")?"


def regex_error(message: str, pattern: str, *examples: str) -> str:
    # Upstream's RegexError, double space before "or" included.
    listed = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {listed}regex used for validation is '{pattern}')"


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


def dns1123_label(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1123 label (``IsDNS1123Label``).

    >>> dns1123_label("my-name"), dns1123_label("a.b")
    ([], ['must not contain dots'])
    """
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _matches(_DNS1123_LABEL, value):
        if _matches(_DNS1123_SUBDOMAIN, value):
            errs.append("must not contain dots")
        else:
            errs.append(
                regex_error(
                    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
                    "or '-', and must start and end with an alphanumeric character",
                    _DNS1123_LABEL,
                    "my-name",
                    "123-abc",
                )
            )
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1123 subdomain (``IsDNS1123Subdomain``).

    >>> dns1123_subdomain("example.com")
    []
    """
    errs = [_max_len(253)] if len(value) > 253 else []
    if not _matches(_DNS1123_SUBDOMAIN, value):
        errs.append(
            regex_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric character",
                _DNS1123_SUBDOMAIN,
                "example.com",
            )
        )
    return errs


def dns1035_label(value: str) -> list[str]:
    """Problems with ``value`` as an RFC 1035 label, the rule for Service names.

    >>> dns1035_label("1web")[0][:40]
    'a DNS-1035 label must consist of lower c'
    """
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _matches(_DNS1035_LABEL, value):
        errs.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                "with an alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL,
                "my-name",
                "abc-123",
            )
        )
    return errs


def port_number(port: int) -> list[str]:
    """``IsValidPortNum``.

    >>> port_number(80), port_number(70000)
    ([], ['must be between 1 and 65535, inclusive'])
    """
    return [] if 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


def port_name(name: str) -> list[str]:
    """``IsValidPortName``: an IANA_SVC_NAME (RFC 6335), lower case only.

    >>> port_name("http"), port_name("8080")
    ([], ['must contain at least one letter (a-z)'])
    """
    errs = [_max_len(15)] if len(name) > 15 else []
    if not _matches("[-a-z0-9]+", name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def label_key(key: str) -> list[str]:
    """``IsLabelKey`` (a qualified name: optional DNS-subdomain prefix and ``/``).

    >>> label_key("app"), label_key("kubernetes.io/service-name")
    ([], [])
    """
    key_rule = (
        "must consist of alphanumeric characters, '-', '_' or '.', "
        "and must start and end with an alphanumeric character"
    )
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + regex_error(key_rule, _LABEL_KEY_NAME, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errs: list[str] = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + _max_len(63))
    if not _matches(_LABEL_KEY_NAME, name):
        errs.append(
            "name part " + regex_error(key_rule, _LABEL_KEY_NAME, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value(value: str) -> list[str]:
    """``IsLabelValue``.

    >>> label_value(""), len(label_value("-x"))
    ([], 1)
    """
    errs = [_max_len(63)] if len(value) > 63 else []
    if not _matches(_LABEL_VALUE, value):
        errs.append(
            regex_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', "
                "'_' or '.', and must start and end with an alphanumeric character",
                _LABEL_VALUE,
                "MyValue",
                "my_value",
                "12345",
            )
        )
    return errs


_STORED = ContextVar("stored", default=False)


@contextmanager
def stored_objects() -> Iterator[None]:
    """Check objects as already stored: IP and CIDR forms older API servers accepted pass.

    Validation of new objects is strict, but the API server keeps (and lets components read)
    legacy values such as ``172.30.0.041`` that it stored before IP validation was tightened.

    >>> with stored_objects():
    ...     ip_errors("spec.clusterIP", "172.30.0.041")
    []
    >>> len(ip_errors("spec.clusterIP", "172.30.0.041"))
    1
    """
    token = _STORED.set(True)
    try:
        yield
    finally:
        _STORED.reset(token)


def reading_stored() -> bool:
    """Whether objects are being checked as already stored (inside `stored_objects`)."""
    return _STORED.get()


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if _STORED.get():
        text = parse_ip_sloppy(text) or text
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ip_errors(field: str, value: str) -> list[FieldError]:
    """``IsValidIP``."""
    if parse_ip(value) is None:
        return [
            invalid(field, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        ]
    return []


def cidr_errors(field: str, value: str) -> list[FieldError]:
    """``IsValidCIDR`` (host bits may be set, as Go's ParseCIDR allows)."""
    if _STORED.get() and parse_cidr_sloppy(value):
        return []
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [
            invalid(field, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
        ]
    return (
        []
        if "/" in value
        else [
            invalid(field, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
        ]
    )


def non_special_ip(field: str, value: str) -> list[FieldError]:
    """``ValidateNonSpecialIP``: no unspecified, loopback, link-local or link-local multicast."""
    ip = parse_ip(value)
    if ip is None:
        return []
    checks = (
        (ip.is_unspecified, f"may not be unspecified ({value})"),
        (ip.is_loopback, "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
        (ip.is_link_local, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
        (
            ip in ipaddress.ip_network("224.0.0.0/24")
            if ip.version == 4
            else ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ),
    )
    return [invalid(field, value, msg) for hit, msg in checks if hit]


def each_error(field: str, value: Any, messages: list[str]) -> list[FieldError]:
    return [invalid(field, value, m) for m in messages]
