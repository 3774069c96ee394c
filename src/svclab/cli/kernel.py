"""``svclab kernel demo|cleanup``: svclab's rules in a real kernel, and removing what runs left.

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="svclab")
>>> register(parser.add_subparsers())
>>> args = parser.parse_args(["kernel", "demo", "--mode", "nftables", "-f", "x.yaml",
...                           "--from", "node"])
>>> args.mode, args.filename, args.source, args.connections
('nftables', ['x.yaml'], 'node', 100)
"""

from __future__ import annotations

import argparse

from svclab.cli import SUMMARIES
from svclab.cli.render import add_proxy_options, config_from_args, load_state
from svclab.cli.values import positive_int, positive_seconds
from svclab.kernel.cleanup import cleanup
from svclab.kernel.drive import DROP_TIMEOUT
from svclab.kernel.lab import run_lab
from svclab.kernel.load import MODES
from svclab.kernel.system import require_kernel
from svclab.kernel.topology import SOURCES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``kernel demo`` and ``kernel cleanup``."""
    parser = subparsers.add_parser(
        "kernel",
        help=SUMMARIES["kernel"],
        description="Run kube-proxy's rules, as `svclab render` prints them, in a real kernel.",
    )
    commands = parser.add_subparsers(dest="kernel_command", metavar="COMMAND", required=True)
    demo = commands.add_parser("demo", help="connect to every Service address, show the Pods hit")
    demo.add_argument(
        "--mode",
        choices=MODES,
        default="iptables",
        help="kube-proxy mode (IPVS is simulated only: this kernel has no IPVS)",
    )
    demo.add_argument(
        "--connections",
        type=positive_int,
        default=100,
        metavar="N",
        help="connections per Service address (default 100)",
    )
    demo.add_argument(
        "--from",
        dest="source",
        choices=SOURCES,
        default="client",
        help="where connections start (default: client, outside the node)",
    )
    demo.add_argument(
        "--timeout",
        type=positive_seconds,
        default=DROP_TIMEOUT,
        metavar="SECONDS",
        help=f"connect timeout; a DROPped SYN shows as a timeout (default {DROP_TIMEOUT})",
    )
    add_proxy_options(demo)
    demo.set_defaults(func=_demo)
    clean = commands.add_parser("cleanup", help="remove namespaces left by earlier runs")
    clean.add_argument(
        "--all",
        action="store_true",
        help="also remove namespaces of runs whose process is still alive",
    )
    clean.set_defaults(func=_cleanup)


def _demo(args: argparse.Namespace) -> int:
    require_kernel()
    config = config_from_args(args)
    lab = run_lab(load_state(args), config, args.mode, args.source, args.connections, args.timeout)
    print(lab.to_text())
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    removed = cleanup(include_live=args.all)
    for name in removed:
        print(f"removed {name}")
    if not removed:
        print("nothing to clean up")
    return 0
