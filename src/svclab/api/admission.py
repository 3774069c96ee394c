"""Admission plugins of the model API server: checks that run after validation, before storage.

Only ``DenyServiceExternalIPs`` (kube-apiserver ``--enable-admission-plugins``, since
Kubernetes 1.22, KEP-2200) is modelled: it refuses any *new* use of ``spec.externalIPs``.
A Service may keep, or drop, external IPs it already had; it may not add one.

>>> import kubernetes.client as k8s
>>> def svc(*ips):
...     return k8s.V1Service(metadata=k8s.V1ObjectMeta(name="web"),
...                          spec=k8s.V1ServiceSpec(external_ips=list(ips)))
>>> deny_service_external_ips(svc("203.0.113.7"), None)
'Use of external IPs is denied by admission control'
>>> deny_service_external_ips(svc("203.0.113.7"), svc("203.0.113.7", "203.0.113.8")) is None
True
>>> deny_service_external_ips(svc("203.0.113.9"), svc("203.0.113.7"))
'Use of external IPs is denied by admission control'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import kubernetes.client as k8s

from svclab.errors import ManifestError

DENIED = "Use of external IPs is denied by admission control"
"""kube-apiserver's message (plugin/pkg/admission/network/denyserviceexternalips)."""


def deny_service_external_ips(new: k8s.V1Service, old: k8s.V1Service | None) -> str | None:
    """Why the plugin refuses `new` (replacing `old`, None on create), or None to admit it."""
    wanted = new.spec.external_ips or [] if new.spec else []
    had = set(old.spec.external_ips or []) if old is not None and old.spec else set()
    if all(ip in had for ip in wanted):
        return None
    return DENIED


PLUGINS: dict[str, Callable[[Any, Any], str | None]] = {
    "DenyServiceExternalIPs": deny_service_external_ips,
}
"""Admission plugin name → check of a Service create (old None) or update."""


def check_plugins(names: Sequence[str]) -> tuple[str, ...]:
    """The plugin names, or a one-line error naming the unknown one.

    >>> check_plugins(["DenyServiceExternalIPs"])
    ('DenyServiceExternalIPs',)
    >>> check_plugins(["AlwaysPullImages"])
    Traceback (most recent call last):
    ...
    svclab.errors.ManifestError: kube-apiserver: --enable-admission-plugins: unknown plugin 'AlwaysPullImages' (svclab models DenyServiceExternalIPs)
    """
    for name in names:
        if name not in PLUGINS:
            known = ", ".join(PLUGINS)
            raise ManifestError(
                "kube-apiserver",
                "",
                "--enable-admission-plugins",
                f"unknown plugin {name!r} (svclab models {known})",
            )
    return tuple(names)


def admit(names: Sequence[str], obj: Any, old: Any, source: str, label: str) -> None:
    """Run the plugins `names` on a Service write; raise `ManifestError` (Forbidden) if one refuses."""
    if not isinstance(obj, k8s.V1Service):
        return
    for name in names:
        reason = PLUGINS[name](obj, old)
        if reason is not None:
            raise ManifestError(source, label, "spec.externalIPs", f"Forbidden: {reason}")
