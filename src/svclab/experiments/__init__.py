"""The experiments behind the site's claims, one module each, found by name.

Every module has ``NAME``, ``TITLE`` (en / zh_CN) and ``run(*, seed=0, ..., progress=None)``
returning a `Result` (rows, ``to_text()``, ``figure(lang)``).

>>> names()[:2]
['rolling-update', 'dns-load']
>>> get("dns-load").TITLE["zh_CN"]
'DNS 负载与记录 TTL'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from svclab.errors import SvclabError
from svclab.report.result import Result

__all__ = ["MODULES", "Result", "get", "names", "run"]

MODULES = {
    "rolling-update": "rolling_update",
    "dns-load": "dns_load",
    "ndots": "ndots",
    "proxy-modes": "proxy_modes",
    "traffic-policy": "traffic_policy",
    "session-affinity": "session_affinity",
    "env-vars": "env_vars",
    "env-limits": "env_limits",
    "headless-clients": "headless_clients",
}
"""Experiment name → module of `svclab.experiments`, in the site's order."""


def names() -> list[str]:
    """Experiment names, in the site's order."""
    return list(MODULES)


def get(name: str) -> ModuleType:
    """The module of experiment `name`; an unknown name is a `SvclabError`."""
    if name not in MODULES:
        raise SvclabError(f"unknown experiment {name!r}; choose from {', '.join(MODULES)}")
    return importlib.import_module(f"svclab.experiments.{MODULES[name]}")


def run(name: str, **options) -> Result:
    """Run experiment `name` with keyword options (see its module's ``run``)."""
    return get(name).run(**options)
