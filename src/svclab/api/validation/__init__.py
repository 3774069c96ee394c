"""Validate objects on creation as the API server does, with upstream's field-error wording.

Rules follow ``ValidateService`` and friends in kubernetes
``pkg/apis/core/validation/validation.go`` (v1.35) and the name/label checks of
``k8s.io/apimachinery``; errors read like ``kubectl`` shows them. One module per part: `field` (the errors),
`formats` (names, labels, ports, IPs), `meta`, `service`, `workloads`.
Objects are validated *after* defaulting (`svclab.api.defaults`), as the API server does.

>>> import kubernetes.client as k8s
>>> svc = k8s.V1Service(kind="Service", metadata=k8s.V1ObjectMeta(name="web", namespace="shop"),
...     spec=k8s.V1ServiceSpec(type="ClusterIP", session_affinity="None",
...         internal_traffic_policy="Cluster",
...         ports=[k8s.V1ServicePort(port=0, protocol="TCP", target_port=80)]))
>>> from svclab.api.validation.service import validate_service
>>> [str(e) for e in validate_service(svc)]
['spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive']
>>> check(svc, "web.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
svclab.errors.ManifestError: web.yaml: Service shop/web: spec.ports[0].port: Invalid value: 0: ...
"""

from __future__ import annotations

from typing import Any

from svclab.api.manifests import object_label
from svclab.api.validation.workloads import VALIDATORS
from svclab.errors import ManifestError


def check(obj: Any, source: str = "<api>") -> None:
    """Raise `ManifestError` for the first error in a defaulted object (other kinds pass)."""
    validator = VALIDATORS.get(type(obj).__name__)
    errors = validator(obj) if validator else []
    if errors:
        first = errors[0]
        raise ManifestError(source, object_label(obj), first.field, first.body)
