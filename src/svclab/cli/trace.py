"""``svclab trace iptables|nftables|ipvs``: follow one first packet through the rules kube-proxy would write.

>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "web.yaml").write_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web}
... spec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}
... ---
... apiVersion: discovery.k8s.io/v1
... kind: EndpointSlice
... metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
... addressType: IPv4
... endpoints: [{addresses: [10.244.1.5]}, {addresses: [10.244.2.7]}]
... ports: [{port: 8080}]
... ''')
>>> from svclab.cli import main
>>> main(["trace", "iptables", "-f", str(d), "--hostname-override", "n1", "--cluster-cidr", "10.244.0.0/16",
...       "--src", "10.244.1.9", "--dst", "10.96.0.20", "--dport", "80"])  # doctest: +ELLIPSIS
packet: tcp 10.244.1.9 -> 10.96.0.20:80 (from a pod)
verdict: DNAT
destinations:
  10.244.1.5:8080  p=0.5000000000  masquerade: no
  10.244.2.7:8080  p=0.5000000000  masquerade: no
...
0
>>> main(["trace", "iptables", "-f", str(d), "--src", "10.244.1.9", "--dst", "10.96.0.20", "--dport", "0"])
2
"""

from __future__ import annotations

import argparse
from typing import Any

from svclab.cli import SUMMARIES
from svclab.cli.render import add_proxy_options, config_from_args, load_state
from svclab.proxy import modes
from svclab.proxy.packet import PROTOCOLS, Packet, SourceKind


def register(subparsers: Any) -> None:
    """Add the ``trace`` subcommand."""
    parser = subparsers.add_parser(
        "trace",
        help=SUMMARIES["trace"],
        description="Render the rules as kube-proxy would, then run them on one first packet "
        "the way the kernel would: print the verdict, every possible DNAT destination with its "
        "probability, whether the packet is masqueraded, and the rules it matched.",
    )
    parser.add_argument("mode", choices=modes.names(), help="kube-proxy mode")
    add_proxy_options(parser)
    packet = parser.add_argument_group("packet")
    packet.add_argument("--src", required=True, metavar="IP", help="source address")
    packet.add_argument("--dst", required=True, metavar="IP", help="destination address")
    packet.add_argument("--dport", required=True, metavar="N", help="destination port")
    packet.add_argument("--proto", default="tcp", choices=PROTOCOLS, help="protocol (default tcp)")
    packet.add_argument(
        "--source",
        choices=[kind.value for kind in SourceKind],
        help="where the packet starts (default: guessed from --node-ip and --cluster-cidr)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Render, trace and print."""
    config = config_from_args(args)
    packet = Packet(args.src, args.dst, args.dport, args.proto)
    text = modes.render(args.mode, load_state(args), config)
    source = SourceKind(args.source) if args.source else None
    result = modes.trace(args.mode, text, packet, config, source)
    print(result.format())
    return 0
