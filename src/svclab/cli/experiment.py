"""``svclab experiment NAME [options]``: run one experiment, print its table, save its figure.

Each experiment's keyword parameters become options (``--clients 100``, ``--ttls 0 5 30``,
``--real``), read from the signature of its ``run`` so that help never drifts from the code.

>>> from svclab.cli import main
>>> main(["experiment", "--list"])  # doctest: +ELLIPSIS
rolling-update    DNS round-robin vs ClusterIP during a rolling update
...
0
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from typing import Any, get_args, get_origin, get_type_hints

from svclab import experiments
from svclab.cli import SUMMARIES
from svclab.errors import SvclabError
from svclab.report.result import LANGS

SKIP = {"progress"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``experiment`` and one sub-command per experiment."""
    parser = subparsers.add_parser(
        "experiment",
        help=SUMMARIES["experiment"],
        description="Run an experiment: a table on stdout, optionally a figure.",
    )
    parser.add_argument("--list", action="store_true", help="list the experiments and exit")
    # dest "experiment", not "name": an experiment may have a --name option of its own (ndots)
    parser.set_defaults(func=handle, experiment=None)
    names = parser.add_subparsers(dest="experiment", metavar="NAME")
    for name in experiments.names():
        try:
            module = experiments.get(name)
        except ImportError:
            continue  # an experiment whose building blocks are missing is simply not offered
        sub = names.add_parser(name, help=module.TITLE["en"], description=module.TITLE["en"])
        add_options(sub, module.run)
        sub.add_argument("--lang", choices=LANGS, default="en", help="language of the figure")
        sub.add_argument("--figure", metavar="FILE", help="save the figure (png, svg, pdf)")
        sub.set_defaults(func=handle)


def add_options(parser: argparse.ArgumentParser, run: Any) -> None:
    """One ``--option`` per keyword parameter of `run`, typed from its annotation."""
    hints = get_type_hints(run)
    for name, param in inspect.signature(run).parameters.items():
        if name in SKIP or param.kind is not param.KEYWORD_ONLY:
            continue
        flag, kind = "--" + name.replace("_", "-"), hints[name]
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=param.default)
        elif get_origin(kind) is tuple:
            parser.add_argument(
                flag,
                nargs="+",
                type=get_args(kind)[0],
                default=param.default,
                help=f"default: {' '.join(map(str, param.default))}",
            )
        else:
            parser.add_argument(
                flag, type=kind, default=param.default, help=f"default: {param.default}"
            )


class ProgressBar:
    """A bar on stderr, drawn only once a run has taken more than half a second."""

    def __init__(self, label: str, stream=sys.stderr) -> None:
        self.label, self.stream, self.started, self.shown = label, stream, time.monotonic(), False

    def __call__(self, fraction: float) -> None:
        if time.monotonic() - self.started < 0.5:
            return
        filled = int(30 * min(1.0, fraction))
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {100 * fraction:3.0f}%"
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


def handle(args: argparse.Namespace) -> int:
    """List the experiments, or run the chosen one."""
    if args.list or not args.experiment:
        for name in experiments.names():
            try:
                title = experiments.get(name).TITLE["en"]
            except ImportError as exc:
                title = f"(unavailable: {exc})"
            print(f"{name:<18}{title}")
        return 0
    module = experiments.get(args.experiment)
    params = inspect.signature(module.run).parameters
    options = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in vars(args).items()
        if k in params and k not in SKIP
    }
    bar = ProgressBar(args.experiment)
    try:
        result = module.run(progress=bar, **options)
    except (ValueError, OSError) as exc:
        raise SvclabError(f"experiment {args.experiment}: {exc}") from exc
    finally:
        bar.close()
    print(result.to_text())
    if args.figure:
        result.figure(args.lang).savefig(args.figure, dpi=120)
        print(f"figure: {args.figure}", file=sys.stderr)
    return 0
