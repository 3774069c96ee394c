"""``svclab render iptables|nftables|ipvs``: the rules kube-proxy would write for some manifests.

>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "svc.yaml").write_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web}
... spec: {clusterIP: 10.96.0.20, ports: [{port: 80}]}
... ''')
>>> from svclab.cli import main
>>> main(["render", "iptables", "-f", str(d), "--hostname-override", "n1"])  # doctest: +ELLIPSIS
*filter
...
-A KUBE-SERVICES -m comment --comment "default/web has no endpoints" -m tcp -p tcp -d 10.96.0.20 --dport 80 -j REJECT
...
COMMIT
0
>>> main(["render", "iptables", "-f", str(d), "--node-ip", "10.0.0.300"])  # one line on stderr
2
>>> main(["render", "nftables", "-f", str(d), "--since", str(d)])  # no change: nothing to write
0
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from svclab.api.state import ClusterState
from svclab.cli import SUMMARIES, add_manifests_option
from svclab.cli.reading import read_manifests
from svclab.proxy import modes
from svclab.proxy.config import ProxyConfig

IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq")
"""The schedulers kube-proxy's configuration accepts (``validateIPVSSchedulerMethod``)."""


def register(subparsers: Any) -> None:
    """Add the ``render`` subcommand."""
    parser = subparsers.add_parser(
        "render",
        help=SUMMARIES["render"],
        description="Print exactly what kube-proxy 1.35 hands to iptables-restore or nft -f for "
        "these Services and EndpointSlices on one node, or the IPVS state it sets up.",
    )
    parser.add_argument("mode", choices=modes.names(), help="kube-proxy mode")
    add_proxy_options(parser)
    parser.add_argument(
        "--ipvs-scheduler",
        default="",
        choices=IPVS_SCHEDULERS,
        metavar="NAME",
        help=f"IPVS scheduler (ipvs mode; default rr, as kube-proxy's): {', '.join(IPVS_SCHEDULERS)}",
    )
    parser.add_argument(
        "--since",
        action="append",
        default=[],
        metavar="OLD",
        help="print only what kube-proxy writes when the cluster goes from OLD (manifests, may "
        "repeat) to -f: the partial iptables-restore --noflush input (changed Services' chains, "
        "fixed chains, -X for unused ones; KEP-3453) or the nft -f transaction (changed chains, "
        "set and map elements added or deleted, flushes of unused chains)",
    )
    parser.set_defaults(func=run)


def add_proxy_options(parser: argparse.ArgumentParser) -> None:
    """The manifest option and kube-proxy's flags, named as kube-proxy names them."""
    add_manifests_option(parser, "Services and EndpointSlices")
    flags = parser.add_argument_group("kube-proxy flags")
    flags.add_argument(
        "--hostname-override",
        metavar="NAME",
        help="node name: endpoints with this nodeName are local (default: this host's name)",
    )
    flags.add_argument(
        "--node-ip",
        action="append",
        default=[],
        metavar="IP",
        help="an address of the node (addrtype LOCAL, NodePorts); may repeat, first is primary",
    )
    flags.add_argument(
        "--cluster-cidr",
        metavar="CIDR",
        help="pod CIDR of the ClusterCIDR local-traffic detector (default: no detector)",
    )
    flags.add_argument(
        "--masquerade-all", action="store_true", help="SNAT all traffic to cluster IPs"
    )
    mark = flags.add_mutually_exclusive_group()
    mark.add_argument(
        "--masquerade-bit",
        type=int,
        default=14,
        metavar="N",
        help="fwmark bit for packets to SNAT (default 14: mark 0x00004000)",
    )
    mark.add_argument(
        "--masquerade-mark",
        metavar="HEX",
        help="the mark string verbatim, e.g. 0x4000 as upstream's tests write it",
    )
    flags.add_argument(
        "--nodeport-addresses",
        action="append",
        default=[],
        metavar="CIDR",
        help="CIDRs (or 'primary') whose node addresses accept NodePorts; may repeat or use commas",
    )
    flags.add_argument(
        "--service-cidr",
        action="append",
        default=[],
        metavar="CIDR",
        help="service CIDR (nftables mode); may repeat or use commas",
    )
    flags.add_argument(
        "--no-random-fully", action="store_true", help="iptables without --random-fully support"
    )
    flags.add_argument(
        "--no-localhost-nodeports",
        action="store_true",
        help="as --iptables-localhost-nodeports=false",
    )
    flags.add_argument(
        "--nfacct",
        action="store_true",
        help="the kernel has nfacct counters (adds kube-proxy's -m nfacct rules, as upstream's tests)",
    )


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def config_from_args(args: argparse.Namespace) -> ProxyConfig:
    """A `ProxyConfig` from the parsed flags (bad values raise `SvclabError`)."""
    settings: dict[str, Any] = {
        "node_ips": _split(args.node_ip),
        "cluster_cidr": args.cluster_cidr,
        "masquerade_all": args.masquerade_all,
        "masquerade_bit": args.masquerade_bit,
        "masquerade_mark": args.masquerade_mark,
        "nodeport_addresses": _split(args.nodeport_addresses),
        "service_cidrs": _split(args.service_cidr),
        "random_fully": not args.no_random_fully,
        "localhost_nodeports": not args.no_localhost_nodeports,
        "nfacct": args.nfacct,
    }
    if args.hostname_override:
        settings["hostname_override"] = args.hostname_override
    return ProxyConfig(**settings)


def load_state(args: argparse.Namespace) -> ClusterState:
    """The Services and EndpointSlices named by ``-f``."""
    return read_manifests(args, data_plane=True)


def run(args: argparse.Namespace) -> int:
    """Render and print."""
    config = config_from_args(args)
    if args.since:
        from svclab.proxy.partial_sync import partial

        change = partial(
            args.mode,
            read_manifests(args, data_plane=True, paths=args.since),
            load_state(args),
            config,
        )
        sys.stdout.write(change.text)
        return 0
    options = (
        {"scheduler": args.ipvs_scheduler} if "scheduler" in modes.get(args.mode).options else {}
    )
    sys.stdout.write(modes.render(args.mode, load_state(args), config, **options))
    return 0
