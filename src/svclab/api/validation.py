"""Validate objects on creation as the API server does, with upstream's field-error wording.

Rules follow ``ValidateService`` and friends in kubernetes
``pkg/apis/core/validation/validation.go`` (v1.35) and the name/label checks of
``k8s.io/apimachinery``; errors read like ``kubectl`` shows them.
Objects are validated *after* defaulting (`svclab.api.defaults`), as the API server does.

>>> import kubernetes.client as k8s
>>> svc = k8s.V1Service(kind="Service", metadata=k8s.V1ObjectMeta(name="web", namespace="shop"),
...     spec=k8s.V1ServiceSpec(type="ClusterIP", session_affinity="None",
...         internal_traffic_policy="Cluster",
...         ports=[k8s.V1ServicePort(port=0, protocol="TCP", target_port=80)]))
>>> [str(e) for e in validate_service(svc)]
['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']
>>> check(svc, "web.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
svclab.errors.ManifestError: web.yaml: Service shop/web: spec.ports[0].port: Invalid value: 0: ...
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import kubernetes.client as k8s

from svclab.api.addresses import parse_cidr_sloppy, parse_ip_sloppy
from svclab.api.helpers import externally_accessible, is_headless
from svclab.api.manifests import object_label
from svclab.errors import ManifestError

# --- field errors (k8s.io/apimachinery/pkg/util/validation/field/errors.go) -----------------


@dataclass(frozen=True)
class FieldError:
    """One field error; ``str()`` gives upstream's ``field: Type: value: detail`` text."""

    kind: str  # "Required value", "Invalid value", "Duplicate value", "Unsupported value", ...
    field: str
    value: Any = None
    detail: str = ""
    show_value: bool = True

    @property
    def body(self) -> str:
        """The message without the field path (``ErrorBody``)."""
        text = self.kind
        if self.show_value:
            text += f": {_render(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"


def _render(value: Any) -> str:
    """Bad values as upstream prints them: numbers bare, strings quoted, the rest as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def required(field: str, detail: str = "") -> FieldError:
    """``field.Required``."""
    return FieldError("Required value", field, detail=detail, show_value=False)


def forbidden(field: str, detail: str) -> FieldError:
    """``field.Forbidden``."""
    return FieldError("Forbidden", field, detail=detail, show_value=False)


def invalid(field: str, value: Any, detail: str) -> FieldError:
    """``field.Invalid``."""
    return FieldError("Invalid value", field, value, detail)


def duplicate(field: str, value: Any) -> FieldError:
    """``field.Duplicate``."""
    return FieldError("Duplicate value", field, value)


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    """``field.NotSupported``: lists the accepted values, quoted, in the given order."""
    return FieldError(
        "Unsupported value",
        field,
        value,
        "supported values: " + ", ".join(json.dumps(s) for s in supported),
    )


def too_many(field: str, count: int, maximum: int) -> FieldError:
    """``field.TooMany``."""
    return FieldError("Too many", field, count, f"must have at most {maximum} items")


# --- value formats (k8s.io/apimachinery/pkg/util/validation, api/validate/content) ------------

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _LABEL_KEY_NAME + ")?"


def _regex_error(message: str, pattern: str, *examples: str) -> str:
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
                _regex_error(
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
            _regex_error(
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
            _regex_error(
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
            + _regex_error(key_rule, _LABEL_KEY_NAME, "MyName", "my.name", "123-abc")
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
            "name part " + _regex_error(key_rule, _LABEL_KEY_NAME, "MyName", "my.name", "123-abc")
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
            _regex_error(
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


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if _STORED.get():
        text = parse_ip_sloppy(text) or text
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def ip_errors(field: str, value: str) -> list[FieldError]:
    """``IsValidIP``."""
    if _parse_ip(value) is None:
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
    ip = _parse_ip(value)
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


def _each(field: str, value: Any, messages: list[str]) -> list[FieldError]:
    return [invalid(field, value, m) for m in messages]


# --- metadata -----------------------------------------------------------------------------


def validate_labels(labels: Mapping[str, str] | None, field: str) -> list[FieldError]:
    """``ValidateLabels``: keys and values, in key order (upstream walks a Go map)."""
    errs: list[FieldError] = []
    for key, value in sorted((labels or {}).items()):
        errs += _each(field, key, label_key(key))
        errs += _each(field, value, label_value(value if isinstance(value, str) else str(value)))
    return errs


def validate_object_meta(
    meta: k8s.V1ObjectMeta | None, *, namespaced: bool, name_rule: Callable[[str], list[str]]
) -> list[FieldError]:
    """``ValidateObjectMeta`` on create (after generateName was turned into a name)."""
    meta = meta or k8s.V1ObjectMeta()
    errs: list[FieldError] = []
    if not meta.name:
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        errs += _each("metadata.name", meta.name, name_rule(meta.name))
    if namespaced:
        if not meta.namespace:
            errs.append(required("metadata.namespace"))
        else:
            errs += _each("metadata.namespace", meta.namespace, dns1123_label(meta.namespace))
    elif meta.namespace:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    errs += validate_labels(meta.labels, "metadata.labels")
    return errs


# --- Service (ValidateService) ---------------------------------------------------------------

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
TRAFFIC_DISTRIBUTIONS = ("PreferClose", "PreferSameZone", "PreferSameNode")


def validate_service(svc: k8s.V1Service) -> list[FieldError]:
    """Every error ``ValidateService`` finds in a defaulted Service, in upstream's order."""
    errs = validate_object_meta(svc.metadata, namespaced=True, name_rule=dns1035_label)
    spec = svc.spec or k8s.V1ServiceSpec()
    headless = is_headless(svc)
    ports = spec.ports or []
    if not ports and not headless and spec.type != "ExternalName":
        errs.append(required("spec.ports"))
    errs += _type_rules(spec, headless)
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _service_port(port, f"spec.ports[{i}]", len(ports) > 1, names)
    if spec.selector is not None:
        errs += validate_labels(spec.selector, "spec.selector")
    errs += _session_affinity(spec)
    errs += _cluster_ips(spec)
    for i, ip in enumerate(spec.external_ips or []):
        errs += ip_errors(f"spec.externalIPs[{i}]", ip) or non_special_ip(
            f"spec.externalIPs[{i}]", ip
        )
    if not spec.type:
        errs.append(required("spec.type"))
    elif spec.type not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", spec.type, SERVICE_TYPES))
    errs += _port_uniqueness(spec)
    errs += _load_balancer_fields(svc)
    errs += _traffic_policies(svc)
    return errs


def _type_rules(spec: k8s.V1ServiceSpec, headless: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    if spec.type in ("LoadBalancer", "NodePort") and headless:
        errs.append(
            invalid(
                "spec.clusterIPs[0]", "None", f"may not be set to 'None' for {spec.type} services"
            )
        )
    if spec.type == "ExternalName":
        for name, value in (("clusterIPs", spec.cluster_ips), ("ipFamilies", spec.ip_families)):
            if value:
                errs.append(forbidden(f"spec.{name}", "may not be set for ExternalName services"))
        if spec.ip_family_policy is not None:
            errs.append(
                forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
            )
        # A trailing dot marks the name as fully qualified.
        cname = (spec.external_name or "").removesuffix(".")
        if cname:
            errs += _each("spec.externalName", cname, dns1123_subdomain(cname))
        else:
            errs.append(required("spec.externalName"))
    return errs


def _service_port(
    port: k8s.V1ServicePort, path: str, require_name: bool, names: set[str]
) -> list[FieldError]:
    errs: list[FieldError] = []
    if require_name and not port.name:
        errs.append(required(f"{path}.name"))
    elif port.name:
        errs += _each(f"{path}.name", port.name, dns1123_label(port.name))
        if port.name in names:
            errs.append(duplicate(f"{path}.name", port.name))
        names.add(port.name)
    errs += _each(f"{path}.port", port.port or 0, port_number(port.port or 0))
    if not port.protocol:
        errs.append(required(f"{path}.protocol"))
    elif port.protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", port.protocol, PROTOCOLS))
    errs += port_num_or_name(port.target_port, f"{path}.targetPort")
    if port.app_protocol is not None:
        errs += _each(f"{path}.appProtocol", port.app_protocol, label_key(port.app_protocol))
    return errs


def port_num_or_name(value: int | str | None, field: str) -> list[FieldError]:
    """``ValidatePortNumOrName``: a port number or an IANA_SVC_NAME.

    >>> for e in port_num_or_name("HTTP", "spec.ports[0].targetPort"):
    ...     print(e.body)
    Invalid value: "HTTP": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)
    Invalid value: "HTTP": must contain at least one letter (a-z)
    """
    if isinstance(value, str):
        if not value:
            return [required(field)]
        return _each(field, value, port_name(value))
    return _each(field, value or 0, port_number(value or 0))


def _session_affinity(spec: k8s.V1ServiceSpec) -> list[FieldError]:
    affinity = spec.session_affinity
    if not affinity:
        return [required("spec.sessionAffinity")]
    if affinity not in ("ClientIP", "None"):
        return [not_supported("spec.sessionAffinity", affinity, ("ClientIP", "None"))]
    config = spec.session_affinity_config
    if affinity == "None":
        if config is not None:
            return [
                forbidden(
                    "spec.sessionAffinityConfig", "must not be set when session affinity is None"
                )
            ]
        return []
    path, why = "spec.sessionAffinityConfig", "when session affinity type is ClientIP"
    if config is None:
        return [required(path, why)]
    if config.client_ip is None:
        return [required(f"{path}.clientIP", why)]
    timeout = config.client_ip.timeout_seconds
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", why)]
    if not 0 < timeout <= MAX_CLIENT_IP_AFFINITY_SECONDS:
        return [
            invalid(
                f"{path}.clientIP.timeoutSeconds",
                timeout,
                f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}",
            )
        ]
    return []


def _cluster_ips(spec: k8s.V1ServiceSpec) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields``."""
    if spec.type == "ExternalName":
        return []
    errs: list[FieldError] = []
    ips = spec.cluster_ips or []
    if spec.cluster_ip:
        if not ips:
            errs.append(required("spec.clusterIPs"))
        elif ips[0] != spec.cluster_ip:
            errs.append(invalid("spec.clusterIPs", ips, "first value must match `clusterIP`"))
    elif ips:
        errs.append(
            invalid("spec.clusterIPs", ips, "must be empty when `clusterIP` is not specified")
        )
    seen: set[str] = set()
    for i, family in enumerate(spec.ip_families or []):
        if family not in ("IPv4", "IPv6"):
            errs.append(not_supported(f"spec.ipFamilies[{i}]", family, ("IPv4", "IPv6")))
        if family in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", family))
        seen.add(family)
    policies = ("PreferDualStack", "RequireDualStack", "SingleStack")
    if spec.ip_family_policy is not None and spec.ip_family_policy not in policies:
        errs.append(not_supported("spec.ipFamilyPolicy", spec.ip_family_policy, policies))
    bad_ip = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad_ip = True
                errs.append(
                    invalid("spec.clusterIPs", ips, "'None' must be the first and only value")
                )
            continue
        found = ip_errors(f"spec.clusterIPs[{i}]", ip)
        bad_ip = bad_ip or bool(found)
        errs += found
    if len(ips) > 2:
        errs.append(invalid("spec.clusterIPs", ips, "may only hold up to 2 values"))
    if bad_ip:
        return errs
    if len(ips) > 1 and len({_parse_ip(ip).version for ip in ips[:2]}) != 2:  # type: ignore[union-attr]
        errs.append(
            invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family")
        )
    if ips != ["None"]:
        for i, (ip, family) in enumerate(zip(ips, spec.ip_families or [], strict=False)):
            version = _parse_ip(ip).version  # type: ignore[union-attr]
            if (family == "IPv4" and version == 6) or (family == "IPv6" and version == 4):
                errs.append(
                    invalid(
                        f"spec.clusterIPs[{i}]",
                        ip,
                        f"expected an {family} value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return errs


def _port_uniqueness(spec: k8s.V1ServiceSpec) -> list[FieldError]:
    errs: list[FieldError] = []
    ports = spec.ports or []
    if spec.type == "ClusterIP":
        errs += [
            forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'")
            for i, p in enumerate(ports)
            if p.node_port
        ]
    node_ports: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        if p.node_port:
            if (p.protocol, p.node_port) in node_ports:
                errs.append(duplicate(f"spec.ports[{i}].nodePort", p.node_port))
            node_ports.add((p.protocol, p.node_port))
    seen: set[tuple[str, int]] = set()
    for i, p in enumerate(ports):
        if (p.protocol, p.port) in seen:
            # Upstream reports the internal ServicePort key, rendered as JSON.
            key = {
                "Name": "",
                "Protocol": p.protocol,
                "AppProtocol": None,
                "Port": p.port,
                "TargetPort": 0,
                "NodePort": 0,
            }
            errs.append(duplicate(f"spec.ports[{i}]", key))
        seen.add((p.protocol, p.port))
    return errs


def _load_balancer_fields(svc: k8s.V1Service) -> list[FieldError]:
    spec = svc.spec
    is_lb = spec.type == "LoadBalancer"
    only_lb = "may only be used when `type` is 'LoadBalancer'"
    errs: list[FieldError] = []
    if spec.load_balancer_source_ranges:
        path = "spec.LoadBalancerSourceRanges"  # sic: upstream's capital L
        if not is_lb:
            errs.append(forbidden(path, only_lb))
        for i, value in enumerate(spec.load_balancer_source_ranges):
            # Historical accident: values may be space-padded.
            errs += cidr_errors(f"{path}[{i}]", value.strip())
    if spec.allocate_load_balancer_node_ports is not None and not is_lb:
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", only_lb))
    if spec.load_balancer_class is not None:
        if is_lb:
            errs += _each(
                "spec.loadBalancerClass",
                spec.load_balancer_class,
                label_key(spec.load_balancer_class),
            )
        else:
            errs.append(forbidden("spec.loadBalancerClass", only_lb))
    return errs


def _traffic_policies(svc: k8s.V1Service) -> list[FieldError]:
    spec = svc.spec
    errs: list[FieldError] = []
    etp = spec.external_traffic_policy
    if not externally_accessible(svc):
        if etp:
            errs.append(
                invalid(
                    "spec.externalTrafficPolicy",
                    etp,
                    "may only be set for externally-accessible services",
                )
            )
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy"))
    elif etp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ("Cluster", "Local")))
    needs_health_check = spec.type == "LoadBalancer" and etp == "Local"
    if spec.health_check_node_port and not needs_health_check:
        errs.append(
            invalid(
                "spec.healthCheckNodePort",
                spec.health_check_node_port,
                "may only be set when `type` is 'LoadBalancer' and "
                "`externalTrafficPolicy` is 'Local'",
            )
        )
    elif spec.health_check_node_port:
        errs += _each(
            "spec.healthCheckNodePort",
            spec.health_check_node_port,
            port_number(spec.health_check_node_port),
        )
    itp = spec.internal_traffic_policy
    if itp is None and spec.type in ("ClusterIP", "NodePort", "LoadBalancer"):
        errs.append(required("spec.internalTrafficPolicy"))
    elif itp is not None and itp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", itp, ("Cluster", "Local")))
    td = spec.traffic_distribution
    if td is not None and td not in TRAFFIC_DISTRIBUTIONS:
        errs.append(not_supported("spec.trafficDistribution", td, TRAFFIC_DISTRIBUTIONS))
    return errs


# --- Pods, EndpointSlices, Nodes, Deployments (enough to reject nonsense) --------------------


def validate_pod(pod: k8s.V1Pod) -> list[FieldError]:
    """Name, namespace, labels and the parts of the spec that Services depend on."""
    errs = validate_object_meta(pod.metadata, namespaced=True, name_rule=dns1123_subdomain)
    return errs + validate_pod_spec(pod.spec, "spec")


def validate_pod_spec(spec: k8s.V1PodSpec | None, path: str) -> list[FieldError]:
    """Containers (name, image, ports), hostname and subdomain (``ValidatePodSpec``, in part)."""
    if spec is None or not spec.containers:
        return [required(f"{path}.containers")]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, container in enumerate(spec.containers):
        cpath = f"{path}.containers[{i}]"
        if not container.name:
            errs.append(required(f"{cpath}.name"))
        else:
            errs += _each(f"{cpath}.name", container.name, dns1123_label(container.name))
            if container.name in names:
                errs.append(duplicate(f"{cpath}.name", container.name))
            names.add(container.name)
        if not container.image:
            errs.append(required(f"{cpath}.image"))
        errs += _container_ports(container.ports or [], f"{cpath}.ports")
    for name in ("hostname", "subdomain"):
        value = getattr(spec, name)
        if value:
            errs += _each(f"{path}.{name}", value, dns1123_label(value))
    if (
        spec.termination_grace_period_seconds is not None
        and spec.termination_grace_period_seconds < 0
    ):
        errs.append(
            invalid(
                f"{path}.terminationGracePeriodSeconds",
                spec.termination_grace_period_seconds,
                "must be greater than or equal to 0",
            )
        )
    return errs


def _container_ports(ports: list[k8s.V1ContainerPort], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        ppath = f"{path}[{i}]"
        if port.name:
            errs += _each(f"{ppath}.name", port.name, port_name(port.name))
            if port.name in names:
                errs.append(duplicate(f"{ppath}.name", port.name))
            names.add(port.name)
        if port.container_port == 0 or port.container_port is None:
            errs.append(required(f"{ppath}.containerPort"))
        else:
            errs += _each(
                f"{ppath}.containerPort", port.container_port, port_number(port.container_port)
            )
        if port.protocol and port.protocol not in PROTOCOLS:
            errs.append(not_supported(f"{ppath}.protocol", port.protocol, PROTOCOLS))
    return errs


ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")


def validate_endpoint_slice(eps: k8s.V1EndpointSlice) -> list[FieldError]:
    """``ValidateEndpointSliceCreate``: address type, addresses, conditions' shape and ports."""
    errs = validate_object_meta(eps.metadata, namespaced=True, name_rule=dns1123_subdomain)
    if not eps.address_type:
        errs.append(required("addressType"))
    elif eps.address_type not in ADDRESS_TYPES:
        errs.append(not_supported("addressType", eps.address_type, ADDRESS_TYPES))
    endpoints = eps.endpoints or []
    if len(endpoints) > 1000:
        errs.append(too_many("endpoints", len(endpoints), 1000))
    for i, endpoint in enumerate(endpoints):
        errs += _endpoint(endpoint, eps.address_type, f"endpoints[{i}]")
    ports = eps.ports or []
    if len(ports) > 100:
        errs.append(too_many("ports", len(ports), 100))
    names: set[str] = set()
    for i, port in enumerate(ports):
        ppath = f"ports[{i}]"
        name = port.name or ""
        if name:
            errs += _each(f"{ppath}.name", name, dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{ppath}.name", name))
        names.add(name)
        if not port.protocol:
            errs.append(required(f"{ppath}.protocol"))
        elif port.protocol not in PROTOCOLS:
            errs.append(not_supported(f"{ppath}.protocol", port.protocol, PROTOCOLS))
        if port.port is not None:
            errs += _each(f"{ppath}.port", port.port, port_number(port.port))
    return errs


def _endpoint(endpoint: k8s.V1Endpoint, address_type: str | None, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    addresses = endpoint.addresses or []
    if not addresses:
        errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
    elif len(addresses) > 100:
        errs.append(too_many(f"{path}.addresses", len(addresses), 100))
    for j, address in enumerate(addresses):
        apath = f"{path}.addresses[{j}]"
        ip = _parse_ip(address)
        if address_type in ("IPv4", "IPv6"):
            if ip is None or f"IPv{ip.version}" != address_type:
                errs.append(invalid(apath, address, f"must be a valid {address_type} address"))
            else:
                errs += non_special_ip(apath, address)
        elif address_type == "FQDN":
            errs += _each(apath, address, dns1123_subdomain(address))
    if endpoint.node_name:
        errs += _each(f"{path}.nodeName", endpoint.node_name, dns1123_subdomain(endpoint.node_name))
    if endpoint.hostname:
        errs += _each(f"{path}.hostname", endpoint.hostname, dns1123_label(endpoint.hostname))
    return errs


def validate_node(node: k8s.V1Node) -> list[FieldError]:
    """``ValidateNode`` in part: name, labels, podCIDRs."""
    errs = validate_object_meta(node.metadata, namespaced=False, name_rule=dns1123_subdomain)
    for i, cidr in enumerate((node.spec.pod_cidrs if node.spec else None) or []):
        errs += cidr_errors(f"spec.podCIDRs[{i}]", cidr)
    return errs


def validate_deployment(deploy: k8s.V1Deployment) -> list[FieldError]:
    """``ValidateDeployment`` in part: selector, template labels, replicas, rolling update."""
    errs = validate_object_meta(deploy.metadata, namespaced=True, name_rule=dns1123_subdomain)
    spec = deploy.spec
    if spec is None:
        return [*errs, required("spec.selector"), required("spec.template")]
    if spec.replicas is not None and spec.replicas < 0:
        errs.append(invalid("spec.replicas", spec.replicas, "must be greater than or equal to 0"))
    match_labels = (spec.selector.match_labels if spec.selector else None) or {}
    if not match_labels:
        errs.append(required("spec.selector"))
    template_labels = (
        spec.template.metadata.labels if spec.template and spec.template.metadata else None
    ) or {}
    if match_labels and any(template_labels.get(k) != v for k, v in match_labels.items()):
        errs.append(
            invalid(
                "spec.template.metadata.labels",
                template_labels,
                "`selector` does not match template `labels`",
            )
        )
    errs += validate_labels(template_labels, "spec.template.metadata.labels")
    errs += validate_pod_spec(spec.template.spec if spec.template else None, "spec.template.spec")
    rolling = spec.strategy.rolling_update if spec.strategy else None
    if rolling is not None:
        errs += _rolling_update(rolling, "spec.strategy.rollingUpdate")
    return errs


def _rolling_update(rolling: k8s.V1RollingUpdateDeployment, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for name, value in (
        ("maxUnavailable", rolling.max_unavailable),
        ("maxSurge", rolling.max_surge),
    ):
        if isinstance(value, str):
            if not re.fullmatch("[0-9]+%", value):
                errs.append(
                    invalid(
                        f"{path}.{name}",
                        value,
                        _regex_error(
                            "a valid percent string must be a numeric string followed by an "
                            "ending '%'",
                            "[0-9]+%",
                            "1%",
                            "93%",
                        ),
                    )
                )
            elif name == "maxUnavailable" and int(value[:-1]) > 100:
                errs.append(invalid(f"{path}.{name}", value, "must not be greater than 100%"))
        elif value is not None and value < 0:
            errs.append(invalid(f"{path}.{name}", value, "must be greater than or equal to 0"))
    if _is_zero(rolling.max_unavailable) and _is_zero(rolling.max_surge):
        errs.append(
            invalid(
                f"{path}.maxUnavailable",
                rolling.max_unavailable,
                "may not be 0 when `maxSurge` is 0",
            )
        )
    return errs


def _is_zero(value: int | str | None) -> bool:
    return value in (0, "0%")


VALIDATORS: dict[type, Callable[[Any], list[FieldError]]] = {
    k8s.V1Service: validate_service,
    k8s.V1Pod: validate_pod,
    k8s.V1EndpointSlice: validate_endpoint_slice,
    k8s.V1Node: validate_node,
    k8s.V1Deployment: validate_deployment,
}
"""The validator for each kind svclab creates."""


def check(obj: Any, source: str = "<api>") -> None:
    """Raise `ManifestError` for the first error in a defaulted object (other kinds pass)."""
    validator = VALIDATORS.get(type(obj))
    errors = validator(obj) if validator else []
    if errors:
        first = errors[0]
        raise ManifestError(source, object_label(obj), first.field, first.body)
