"""``python -m svclab.bench [--quick] [NAME …]`` runs the benchmarks and prints their tables."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from svclab.report.tables import format_table

BENCHMARKS = ("render", "dns", "proxy", "sim", "sandbox", "kernel", "scaling")


def main(argv: list[str] | None = None) -> int:
    """Run the named benchmarks (all by default); write their rows (and plots) to ``_build/bench``."""
    parser = argparse.ArgumentParser(prog="python -m svclab.bench")
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--out", default="_build/bench", help="folder for the JSON results")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"svclab.bench.{name}")
        started = time.perf_counter()
        rows = module.run(quick=args.quick)
        print(f"\n== {name} ({time.perf_counter() - started:.1f} s)\n{format_table(rows)}")
        (out / f"{name}.json").write_text(json.dumps(rows, indent=2, default=str))
        if hasattr(module, "plot"):
            module.plot(rows, out / f"{name}.png")
            print(f"plot: {out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
