"""A benchmark's rows saved with where, when and how they were measured, for pages to show.

A page that cannot afford to rerun a benchmark (loading 10,000 Services into a kernel takes
minutes) shows a dataset that ``nox -s bench`` wrote instead, and prints its provenance under
the figure.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "demo.json"
>>> save(path, [{"services": 10, "load_s": 0.01}], command="python -m svclab.bench demo")
>>> data = load(path)
>>> data.rows, data.command
([{'services': 10, 'load_s': 0.01}], 'python -m svclab.bench demo')
>>> sorted(data.provenance())
['command', 'date', 'kernel', 'machine']
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Dataset:
    """Rows of one benchmark run and the machine, kernel, date and command that made them."""

    rows: list[dict[str, Any]]
    machine: str
    kernel: str
    date: str
    command: str

    def provenance(self) -> dict[str, str]:
        """Machine, kernel, date (UTC) and command, for the line under a figure."""
        return {
            "machine": self.machine,
            "kernel": self.kernel,
            "date": self.date,
            "command": self.command,
        }


def this_machine() -> str:
    """CPU architecture and core count, e.g. ``x86_64, 2 cores``."""
    return f"{platform.machine()}, {os.cpu_count()} cores"


def save(path: Path, rows: list[dict[str, Any]], command: str) -> None:
    """Write `rows` to `path` with this machine's description, kernel release and the date."""
    data = {
        "machine": this_machine(),
        "kernel": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": command,
        "rows": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def load(path: Path) -> Dataset:
    """Read a dataset `save` wrote."""
    data = json.loads(Path(path).read_text())
    return Dataset(data["rows"], data["machine"], data["kernel"], data["date"], data["command"])
