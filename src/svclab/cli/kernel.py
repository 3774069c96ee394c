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
from svclab.kernel.lab import LabRun, run_lab
from svclab.kernel.load import MODES
from svclab.kernel.system import require_kernel
from svclab.kernel.topology import SOURCES
from svclab.report.tables import format_table


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
    print(lab_report(lab))
    return 0


def lab_report(run: LabRun) -> str:
    """The demo's report of `run`: Pods hit and client addresses seen per address, then the records."""
    size = len(run.rules.splitlines())
    rules = f"{run.mode} rules (as `svclab render {run.mode}` prints them, {size} lines)"
    source = f"the {run.source} ({run.source_ip})"
    if run.ran == "kernel":
        lines = [f"{rules} loaded into a node namespace ({run.node_ip}); "
                 f"connections from {source}:"]  # fmt: skip
        counted, conntrack = "iptables-save -c", "conntrack"
    else:
        lines = [f"{rules} walked by svclab's tracer, not run in a kernel: {run.why}",
                 f"Connections drawn by its sampler, from {source}:"]  # fmt: skip
        counted, conntrack = "as the sampler drew them", "conntrack (predicted)"
    lines.append("")
    rows = run.rows()
    lines += [format_table(rows) if rows else "(no TCP Service addresses)", ""]
    dnat = sum(1 for e in run.conntrack if e.dnat)
    masq = ", ".join(f"{n} to {ip}" for ip, n in run.masqueraded().items()) or "none"
    lines.append(f"{conntrack}: {len(run.conntrack)} entries, {dnat} DNATed, masqueraded: {masq}")
    if run.mode == "nftables":
        lines.append("rule counters: kube-proxy's nftables rules have no counter statements")
    else:
        lines.append(f"rule counters (first packets per endpoint choice, {counted}):")
        hits = run.counter_rows()
        lines += [f"  {row['PACKETS']:>6}  {row['RULE']}" for row in hits] or ["  none"]
    return "\n".join(lines)


def _cleanup(args: argparse.Namespace) -> int:
    removed = cleanup(include_live=args.all)
    for name in removed:
        print(f"removed {name}")
    if not removed:
        print("nothing to clean up")
    return 0
