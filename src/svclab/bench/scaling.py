"""The scaling lesson's dataset: rules written, bytes, render time and first-packet checks per mode.

``python -m svclab.bench.scaling --dataset docs/_data/bench/scaling.json`` measures 10 to
10,000 Services × 5 endpoints (about half a minute) and saves the rows with their provenance,
for the proxy-modes page, which recomputes the sizes it can afford and shows the rest from here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from svclab.proxy import scaling
from svclab.report.dataset import save
from svclab.report.tables import format_table

QUICK_SIZES = (10, 100)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows of `svclab.proxy.scaling.table` (``quick``: 10 and 100 Services)."""
    return scaling.table(QUICK_SIZES if quick else scaling.SIZES)


def main(argv: list[str] | None = None) -> int:
    """Print the table; ``--dataset PATH`` also saves it with machine, kernel, date, command."""
    parser = argparse.ArgumentParser(prog="python -m svclab.bench.scaling")
    parser.add_argument("--quick", action="store_true", help="10 and 100 Services only")
    parser.add_argument("--dataset", type=Path, help="save the rows with their provenance")
    args = parser.parse_args(argv)
    rows = run(quick=args.quick)
    print(format_table(rows))
    if args.dataset:
        save(args.dataset, rows, "python -m svclab.bench.scaling " + " ".join(argv or sys.argv[1:]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
