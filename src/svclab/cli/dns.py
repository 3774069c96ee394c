"""``svclab dns serve`` (the cluster DNS server on loopback) and ``svclab dns query`` (a small dig).

>>> from svclab.cli import main
>>> import contextlib, sys
>>> with contextlib.redirect_stderr(sys.stdout):
...     main(["dns", "query", "x.", "--server", "127.0.0.1"])
...     main(["dns", "query", "x.", "BOGUS", "--server", "127.0.0.1:53"])
svclab: --server: expected HOST:PORT, got '127.0.0.1'
2
svclab: TYPE: unknown record type 'BOGUS'
2
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from typing import Any, NoReturn

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from svclab.cli import SUMMARIES, add_manifests_option
from svclab.cli.reading import read_manifests
from svclab.dns.dig import dig_text
from svclab.dns.records import DEFAULT_TTL, DEFAULT_ZONE
from svclab.dns.server import DnsServer, parse_address
from svclab.errors import SvclabError

NO_REPLY = 9
"""Exit status when the server never answers (dig's)."""


def register(subparsers: Any) -> None:
    """Add ``dns serve`` and ``dns query`` to the ``svclab`` parser."""
    parser = subparsers.add_parser("dns", help=SUMMARIES["dns"])
    commands = parser.add_subparsers(dest="dns_command", metavar="{serve,query}", required=True)

    serve = commands.add_parser(
        "serve", help="serve the manifests' DNS records until SIGINT/SIGTERM"
    )
    add_manifests_option(serve, "Services, EndpointSlices and Pods")
    serve.add_argument(
        "--listen",
        default="127.0.0.1:5353",
        metavar="HOST:PORT",
        help="address for UDP and TCP (port 0 picks one; default %(default)s)",
    )
    serve.add_argument("--zone", default=DEFAULT_ZONE, help="cluster domain (default %(default)s)")
    serve.add_argument(
        "--ttl",
        type=int,
        default=DEFAULT_TTL,
        help="record TTL in seconds, 0-3600 (default %(default)s, as CoreDNS)",
    )
    serve.add_argument(
        "--upstream",
        metavar="HOST:PORT",
        help="server for other names and ExternalName targets (default: none)",
    )
    serve.add_argument("--uvloop", action="store_true", help="run on uvloop (svclab[fast])")
    serve.set_defaults(func=serve_command)

    query = commands.add_parser(
        "query", help="ask a DNS server one question, print a dig-like answer"
    )
    query.add_argument("name", metavar="NAME")
    query.add_argument("type", nargs="?", default="A", metavar="TYPE", help="default A")
    query.add_argument("--server", required=True, metavar="HOST:PORT")
    query.add_argument(
        "--tcp", action="store_true", help="ask over TCP (default UDP, TCP if truncated)"
    )
    query.add_argument("--timeout", type=float, default=2.0, help="seconds (default %(default)s)")
    query.set_defaults(func=query_command)
    for p in (parser, serve, query):
        p.error = _one_line_error(p)  # type: ignore[method-assign]


def _one_line_error(parser: argparse.ArgumentParser) -> Any:
    def error(message: str) -> NoReturn:
        print(f"{parser.prog}: {message}", file=sys.stderr)
        sys.exit(2)

    return error


def serve_command(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM, then print the counters; exit 130 or 143, as for a signal."""
    host, port = parse_address(args.listen)
    upstream = parse_address(args.upstream, "--upstream") if args.upstream else None
    state = read_manifests(args)
    server = DnsServer(
        state,
        host=host,
        port=port,
        zone=args.zone,
        ttl=args.ttl,
        upstream=upstream,
        use_uvloop=args.uvloop,
    )
    stop = threading.Event()
    received: list[int] = []

    def stop_serving(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {sig: signal.signal(sig, stop_serving) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with server:
            names = len(server.table.names())
            print(
                f"serving {args.zone} ({names} names) on {server.host}:{server.port} udp+tcp",
                flush=True,
            )
            while not stop.wait(0.5):
                pass
            counters = server.counters()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print(f"stopped: {counters.summary()}", flush=True)
    return 128 + received[0]


def query_command(args: argparse.Namespace) -> int:
    """Send one query and print the reply like dig."""
    host, port = parse_address(args.server, "--server")
    try:
        rdtype = dns.rdatatype.from_text(args.type)
    except dns.rdatatype.UnknownRdatatype:
        raise SvclabError(f"TYPE: unknown record type {args.type!r}") from None
    try:
        query = dns.message.make_query(args.name, rdtype, use_edns=0)
    except dns.exception.DNSException as exc:
        raise SvclabError(f"NAME: not a valid DNS name: {args.name!r} ({exc})") from None
    started = time.monotonic()
    try:
        if args.tcp:
            reply, tcp = dns.query.tcp(query, host, timeout=args.timeout, port=port), True
        else:
            reply, tcp = dns.query.udp_with_fallback(query, host, timeout=args.timeout, port=port)
    except (dns.exception.Timeout, OSError) as exc:
        print(f"svclab: no reply from {host}:{port} ({type(exc).__name__})", file=sys.stderr)
        return NO_REPLY
    elapsed = time.monotonic() - started
    print(dig_text(reply, f"{host}#{port}", "TCP" if tcp else "UDP", elapsed))
    return 0
