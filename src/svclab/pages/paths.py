"""Where a page finds the repository's files, whichever folder its notebook runs in.

>>> manifest("shop.yaml").endswith("labs/manifests/shop.yaml")
True
>>> (ROOT / "examples" / "discover_endpoints.py").exists()
True
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
"""The repository's root: ``src/svclab/pages/`` is three levels below it."""

EXAMPLES = ROOT / "examples"
MANIFESTS = ROOT / "labs" / "manifests"


def manifest(name: str) -> str:
    """The path of the lab manifest `name` (``labs/manifests/<name>``), for the loaders."""
    path = MANIFESTS / name
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such lab manifest")
    return str(path)


def use_examples() -> None:
    """Make the programs in ``examples/`` importable, as they are when run from that folder."""
    if str(EXAMPLES) not in sys.path:
        sys.path.append(str(EXAMPLES))
