"""``svclab envvars``: the Service variables kubelet would give a container in a namespace.

>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "svc.yaml").write_text('''
... apiVersion: v1
... kind: Service
... metadata: {name: web, namespace: shop}
... spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80}]}
... ''')
>>> from svclab.cli import main
>>> main(["envvars", "-f", str(d), "--namespace", "shop"])
WEB_SERVICE_HOST=10.96.0.20
WEB_SERVICE_PORT=80
WEB_SERVICE_PORT_HTTP=80
WEB_PORT=tcp://10.96.0.20:80
WEB_PORT_80_TCP=tcp://10.96.0.20:80
WEB_PORT_80_TCP_PROTO=tcp
WEB_PORT_80_TCP_PORT=80
WEB_PORT_80_TCP_ADDR=10.96.0.20
0
"""

from __future__ import annotations

import argparse
from typing import Any

import kubernetes.client as k8s

from svclab.api.state import ClusterState, namespace_of
from svclab.api.validation.formats import dns1123_label
from svclab.cli import SUMMARIES, add_manifests_option
from svclab.cli.reading import read_manifests
from svclab.cluster.envvars import pod_env, service_env
from svclab.errors import ManifestError

DESCRIPTION = """\
Print NAME=value lines: the container's own variables (with --pod), then each visible Service's
block (Services in name order; kubelet itself hands them over in Go map order). Services are
read as the API server stored them: a Service without spec.clusterIP is left out, like a
headless one. With --pod, only Services created before the Pod started (status.startTime)
count, as in a real cluster."""


def register(subparsers: Any) -> None:
    """Add the ``envvars`` subcommand."""
    parser = subparsers.add_parser(
        "envvars",
        help=SUMMARIES["envvars"],
        description=DESCRIPTION,
    )
    add_manifests_option(parser, "Services (and Pods)")
    parser.add_argument("--namespace", "-n", default="default", help="the Pod's namespace")
    parser.add_argument(
        "--no-service-links",
        action="store_true",
        help="as enableServiceLinks: false (only default/kubernetes remains)",
    )
    parser.add_argument(
        "--pod", help="use this Pod from the manifests (its env, start time, links)"
    )
    parser.add_argument("--container", help="with --pod: the container (default: the first)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load, check and print."""
    if errors := dns1123_label(args.namespace):
        raise ManifestError("--namespace", "", "", f"{args.namespace!r}: {errors[0]}")
    state = read_manifests(args)
    if args.pod:
        if args.no_service_links:
            raise ManifestError(
                "--no-service-links", "", "", "with --pod, the Pod's enableServiceLinks decides"
            )
        env = pod_env(state, _find_pod(state, args.namespace, args.pod), args.container)
    else:
        env = service_env(
            state.services, args.namespace, enable_service_links=not args.no_service_links
        )
    for name, value in env:
        print(f"{name}={value}")
    return 0


def _find_pod(state: ClusterState, namespace: str, name: str) -> k8s.V1Pod:
    for pod in state.pods:
        if pod.metadata.name == name and namespace_of(pod) == namespace:
            return pod
    raise ManifestError("--pod", f"Pod {namespace}/{name}", "", "not found in the manifests")
