"""The ``svclab`` command: one subcommand module per job, errors as one line and exit 2.

>>> main(["--version"])
svclab 0.1.0
0
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from svclab import __version__
from svclab.cli.lazy_imports import lazy_kubernetes
from svclab.errors import SvclabError, exit_status, raise_interrupted

SUMMARIES = {
    "envvars": "print the Service environment variables of a Pod (kubelet's rules)",
    "dns": "serve or query cluster DNS on loopback",
    "render": "print the rules kube-proxy would write (iptables-restore, nft -f, or IPVS state)",
    "trace": "trace a first packet through the rendered rules: verdict, backends, masquerade",
    "kernel": "load svclab's rules into network namespaces and send real traffic (root)",
    "sandbox": "serve a cluster over the Kubernetes API (kubectl, clients)",
    "experiment": "run an experiment and print its table",
}
"""Each subcommand (a module of `svclab.cli` with ``register(subparsers)`` setting ``func``)
and its line in ``svclab --help``. Only the module of the command being run is imported."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_manifests_option(
    parser: argparse.ArgumentParser, what: str, required: bool = True, reading: bool = True
) -> None:
    """``-f/--filename MANIFESTS``, repeatable, as kubectl names it; `what` says which objects count.

    Reading commands (`reading`) also get ``-R`` and ``--verbose`` (see `svclab.cli.reading`).
    """
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=required,
        default=None if required else [],
        metavar="MANIFESTS",
        help=f"YAML or JSON file or folder of {what}; may repeat",
    )
    if not reading:
        return
    parser.add_argument(
        "-R",
        "--recursive",
        action="store_true",
        help="read the folders given with -f and all folders below them (as kubectl -R)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also say what the component reading these objects would ignore",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every subcommand in full, or only `command` (the others as names).

    >>> build_parser().parse_args(["--no-such-flag"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    parser = OneLineParser(
        prog="svclab", description="Kubernetes Services, observed by running code."
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in SUMMARIES.items():
        if command is None or name == command:
            importlib.import_module(f"svclab.cli.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=summary)
    return parser


def _command_word(argv: Sequence[str]) -> str:
    """The subcommand named in `argv` ("" for none): its first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), "")


def command_help(*words: str) -> str:
    """The ``--help`` text of ``svclab WORDS…`` (the site's CLI reference is built from it).

    >>> print(command_help("dns").splitlines()[0])
    usage: svclab dns [-h] {serve,query} ...
    """
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        build_parser().parse_args([*words, "--help"])
    return out.getvalue()


_received: list[int] = []
"""Stop signals received while `main` runs."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Remember the signal, then raise it: KeyboardInterrupt for SIGINT, as always."""
    _received.append(signum)
    if frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        # Inside the import machinery an exception would be printed as "ignored" and lost;
        # nothing has been set up that needs cleaning, so end at once.
        os._exit(128 + signum)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise_interrupted(signum, frame)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 ok, 2 bad input, 130/143 after SIGINT/SIGTERM)."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    _received.clear()
    handlers = {sig: _on_signal for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    previous = {
        sig: signal.signal(sig, handler) for sig, handler in handlers.items() if in_main_thread
    }
    try:
        return _run(argv)
    except KeyboardInterrupt as interrupt:
        return exit_status(interrupt)
    except BaseException:
        # A signal that lands inside an extension module's import (pydantic-core) surfaces as
        # that module's own error (pyo3's PanicException), not as KeyboardInterrupt.
        if not _received:
            raise
        return 128 + _received[-1]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(argv: Sequence[str] | None) -> int:
    lazy_kubernetes()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_word(argv))
    args = parser.parse_args(argv)
    if args.version:
        print(f"svclab {__version__}")
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except SvclabError as exc:
        print(f"svclab: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (``svclab render … | head``): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
