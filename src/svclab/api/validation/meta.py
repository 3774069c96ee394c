"""``ObjectMeta`` and labels, as ``ValidateObjectMeta`` checks them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import kubernetes.client as k8s

from svclab.api.validation.field import FieldError, forbidden, required
from svclab.api.validation.formats import dns1123_label, each_error, label_key, label_value


def validate_labels(labels: Mapping[str, str] | None, field: str) -> list[FieldError]:
    """``ValidateLabels``: keys and values, in key order (upstream walks a Go map)."""
    errs: list[FieldError] = []
    for key, value in sorted((labels or {}).items()):
        errs += each_error(field, key, label_key(key))
        errs += each_error(
            field, value, label_value(value if isinstance(value, str) else str(value))
        )
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
        errs += each_error("metadata.name", meta.name, name_rule(meta.name))
    if namespaced:
        if not meta.namespace:
            errs.append(required("metadata.namespace"))
        else:
            errs += each_error("metadata.namespace", meta.namespace, dns1123_label(meta.namespace))
    elif meta.namespace:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    errs += validate_labels(meta.labels, "metadata.labels")
    return errs
