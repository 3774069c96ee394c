"""``ValidateService`` (``pkg/apis/core/validation``, v1.35): types, ports, IPs, policies."""

from __future__ import annotations

import kubernetes.client as k8s

from svclab.api.helpers import externally_accessible, is_headless
from svclab.api.validation.field import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
)
from svclab.api.validation.formats import (
    cidr_errors,
    dns1035_label,
    dns1123_label,
    dns1123_subdomain,
    each_error,
    ip_errors,
    label_key,
    non_special_ip,
    parse_ip,
    port_name,
    port_number,
    reading_stored,
)
from svclab.api.validation.meta import validate_labels, validate_object_meta

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
    if reading_stored():  # on create the API server drops the status
        errs += _load_balancer_status(svc)
    return errs


def _load_balancer_status(svc: k8s.V1Service) -> list[FieldError]:
    """``ValidateLoadBalancerStatus``: ingress IPs and hostnames."""
    lb = svc.status.load_balancer if svc.status else None
    errs: list[FieldError] = []
    for i, ingress in enumerate((lb.ingress if lb else None) or []):
        path = f"status.loadBalancer.ingress[{i}]"
        if ingress.ip:
            errs += ip_errors(f"{path}.ip", ingress.ip)
        if ingress.hostname:
            errs += each_error(
                f"{path}.hostname", ingress.hostname, dns1123_subdomain(ingress.hostname)
            )
            if parse_ip(ingress.hostname) is not None:
                errs.append(
                    invalid(
                        f"{path}.hostname",
                        ingress.hostname,
                        "must be a DNS name, not an IP address",
                    )
                )
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
            errs += each_error("spec.externalName", cname, dns1123_subdomain(cname))
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
        errs += each_error(f"{path}.name", port.name, dns1123_label(port.name))
        if port.name in names:
            errs.append(duplicate(f"{path}.name", port.name))
        names.add(port.name)
    errs += each_error(f"{path}.port", port.port or 0, port_number(port.port or 0))
    if not port.protocol:
        errs.append(required(f"{path}.protocol"))
    elif port.protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", port.protocol, PROTOCOLS))
    errs += port_num_or_name(port.target_port, f"{path}.targetPort")
    if port.app_protocol is not None:
        errs += each_error(f"{path}.appProtocol", port.app_protocol, label_key(port.app_protocol))
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
        return each_error(field, value, port_name(value))
    return each_error(field, value or 0, port_number(value or 0))


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
    if len(ips) > 1 and len({parse_ip(ip).version for ip in ips[:2]}) != 2:  # type: ignore[union-attr]
        errs.append(
            invalid("spec.clusterIPs", ips, "may specify no more than one IP for each IP family")
        )
    if ips != ["None"]:
        for i, (ip, family) in enumerate(zip(ips, spec.ip_families or [], strict=False)):
            version = parse_ip(ip).version  # type: ignore[union-attr]
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
        if p.node_port and reading_stored():
            # On create the NodePort allocator checks the range; no range reaches past 65535.
            errs += each_error(f"spec.ports[{i}].nodePort", p.node_port, port_number(p.node_port))
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
            errs += each_error(
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
    # Stored objects: kube-proxy ignores the field where no health check is served.
    if spec.health_check_node_port and not needs_health_check and not reading_stored():
        errs.append(
            invalid(
                "spec.healthCheckNodePort",
                spec.health_check_node_port,
                "may only be set when `type` is 'LoadBalancer' and "
                "`externalTrafficPolicy` is 'Local'",
            )
        )
    elif spec.health_check_node_port:
        errs += each_error(
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
