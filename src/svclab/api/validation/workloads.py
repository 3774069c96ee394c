"""Pods, EndpointSlices, Nodes and Deployments: enough of upstream's rules to reject nonsense."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import kubernetes.client as k8s

from svclab.api.validation.field import (
    FieldError,
    duplicate,
    invalid,
    not_supported,
    required,
    too_many,
)
from svclab.api.validation.formats import (
    cidr_errors,
    dns1123_label,
    dns1123_subdomain,
    each_error,
    non_special_ip,
    parse_ip,
    port_name,
    port_number,
    regex_error,
)
from svclab.api.validation.meta import validate_labels, validate_object_meta
from svclab.api.validation.service import PROTOCOLS, validate_service


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
            errs += each_error(f"{cpath}.name", container.name, dns1123_label(container.name))
            if container.name in names:
                errs.append(duplicate(f"{cpath}.name", container.name))
            names.add(container.name)
        if not container.image:
            errs.append(required(f"{cpath}.image"))
        errs += _container_ports(container.ports or [], f"{cpath}.ports")
    for name in ("hostname", "subdomain"):
        value = getattr(spec, name)
        if value:
            errs += each_error(f"{path}.{name}", value, dns1123_label(value))
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
            errs += each_error(f"{ppath}.name", port.name, port_name(port.name))
            if port.name in names:
                errs.append(duplicate(f"{ppath}.name", port.name))
            names.add(port.name)
        if port.container_port == 0 or port.container_port is None:
            errs.append(required(f"{ppath}.containerPort"))
        else:
            errs += each_error(
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
            errs += each_error(f"{ppath}.name", name, dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{ppath}.name", name))
        names.add(name)
        if not port.protocol:
            errs.append(required(f"{ppath}.protocol"))
        elif port.protocol not in PROTOCOLS:
            errs.append(not_supported(f"{ppath}.protocol", port.protocol, PROTOCOLS))
        if port.port is not None:
            errs += each_error(f"{ppath}.port", port.port, port_number(port.port))
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
        ip = parse_ip(address)
        if address_type in ("IPv4", "IPv6"):
            if ip is None or f"IPv{ip.version}" != address_type:
                errs.append(invalid(apath, address, f"must be a valid {address_type} address"))
            else:
                errs += non_special_ip(apath, address)
        elif address_type == "FQDN":
            errs += each_error(apath, address, dns1123_subdomain(address))
    if endpoint.node_name:
        errs += each_error(
            f"{path}.nodeName", endpoint.node_name, dns1123_subdomain(endpoint.node_name)
        )
    if endpoint.hostname:
        errs += each_error(f"{path}.hostname", endpoint.hostname, dns1123_label(endpoint.hostname))
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
                        regex_error(
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


VALIDATORS: dict[str, Callable[[Any], list[FieldError]]] = {
    "V1Service": validate_service,
    "V1Pod": validate_pod,
    "V1EndpointSlice": validate_endpoint_slice,
    "V1Node": validate_node,
    "V1Deployment": validate_deployment,
}
"""The validator for each kind svclab creates, by model name (see `svclab.api.defaults.DEFAULTERS`)."""
