"""The kubeconfig that points ``kubectl`` and the ``kubernetes`` client at a sandbox.

>>> config = kubeconfig("http://127.0.0.1:8001")
>>> config["clusters"][0]["cluster"]["server"], config["current-context"]
('http://127.0.0.1:8001', 'svclab-sandbox')
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

CONTEXT = "svclab-sandbox"


def kubeconfig(
    server: str, *, context: str = CONTEXT, namespace: str = "default"
) -> dict[str, Any]:
    """A kubeconfig with one cluster, one user (no credentials: loopback only) and one context."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": context, "user": {}}],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": context, "namespace": namespace},
            }
        ],
        "current-context": context,
    }


def write_kubeconfig(path: str | Path, server: str, **kwargs: Any) -> Path:
    """Write the kubeconfig (mode 0600, like kubectl's own) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(server, **kwargs), sort_keys=False)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path
