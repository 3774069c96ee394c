"""Start-up: ``import kubernetes.client`` without the package's eager imports.

``kubernetes/__init__.py`` imports its config loaders, watch, stream, dynamic client, leader
election and informers (OAuth, HTTP, YAML…): about 0.2 s before svclab has read a manifest,
although svclab's commands only use the client models, which ``kubernetes.client`` already
loads one by one on first use. `lazy_kubernetes` registers the package with its submodules
loaded on first attribute access instead (PEP 562), so ``kubernetes.config`` and the others
still work for whoever asks for them.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def lazy_kubernetes() -> None:
    """Make ``kubernetes`` a package whose submodules load when first used (no-op if loaded).

    >>> import kubernetes.client, kubernetes.config
    >>> lazy_kubernetes()  # already imported in full: nothing changes
    >>> callable(kubernetes.config.load_kube_config)
    True
    """
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return
    package = importlib.util.module_from_spec(spec)  # __path__ set, __init__.py not run

    def submodule(name: str) -> ModuleType:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"kubernetes.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module 'kubernetes' has no attribute {name!r}") from None

    package.__getattr__ = submodule  # type: ignore[method-assign]
    sys.modules["kubernetes"] = package
