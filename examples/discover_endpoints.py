"""Discover a Service's backends the cloud-native way: list its EndpointSlices, then watch them.

This is what kube-proxy, CoreDNS and client-side load balancers (gRPC's xDS-less resolvers,
Envoy's EDS bridges) do instead of asking DNS: keep a live list of ready endpoints by
list + watch on ``discovery.k8s.io/v1`` EndpointSlices labelled
``kubernetes.io/service-name=<service>``. Only the official ``kubernetes`` client is used, so
the same script runs against the svclab sandbox or a real cluster; ``KUBECONFIG`` decides::

    eval "$(svclab sandbox up -f manifests/ --detach)"
    python examples/discover_endpoints.py web --timeout 60
    svclab sandbox down

It prints the backends found by the list, then one line per backend that appears (``+``) or
goes away (``-``), until ``--timeout`` seconds have passed or ``--events`` changes were seen.
A watch that expires (410 Gone) is recovered the informer way: list again and carry on.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def ready_backends(endpoint_slice: Any) -> set[str]:
    """``address:port`` for each endpoint that should get new requests: ready (unset counts as
    ready, per the API) and not terminating (a Service with ``publishNotReadyAddresses`` keeps
    terminating endpoints ready)."""
    ports = [p.port for p in endpoint_slice.ports or [] if p.port] or [None]
    backends = set()
    for endpoint in endpoint_slice.endpoints or []:
        conditions = endpoint.conditions
        if conditions is not None and (conditions.ready is False or conditions.terminating):
            continue
        for address in endpoint.addresses or []:
            host = f"[{address}]" if ":" in address else address
            backends.update(f"{host}:{port}" if port else host for port in ports)
    return backends


def union(slices: dict[str, set[str]]) -> set[str]:
    """All backends over all slices (an endpoint may move between slices)."""
    return set().union(*slices.values()) if slices else set()


def report(before: set[str], after: set[str]) -> int:
    """Print what changed; return how many backends changed."""
    for backend in sorted(after - before):
        print(f"+ {backend}", flush=True)
    for backend in sorted(before - after):
        print(f"- {backend}", flush=True)
    return len(after ^ before)


def watch_backends(
    api: client.DiscoveryV1Api, namespace: str, service: str, *, timeout: float
) -> Iterator[set[str]]:
    """The Service's ready backends: first as listed, then again after every change a watch
    reports, for `timeout` seconds. The watch starts at the list's resourceVersion, so no change
    falls between the two; a watch that expired (410 Gone) is followed by a new list."""
    selector = f"{SERVICE_NAME_LABEL}={service}"
    deadline = time.monotonic() + timeout

    def relist() -> tuple[dict[str, set[str]], str]:
        listed = api.list_namespaced_endpoint_slice(namespace, label_selector=selector)
        slices = {s.metadata.name: ready_backends(s) for s in listed.items}
        return slices, listed.metadata.resource_version

    slices, resource_version = relist()
    yield union(slices)
    while time.monotonic() < deadline:
        stream = watch.Watch()
        events = stream.stream(
            api.list_namespaced_endpoint_slice,
            namespace,
            label_selector=selector,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=max(1, int(deadline - time.monotonic())),
        )
        try:
            for event in events:
                resource_version = stream.resource_version or resource_version
                if event["type"] == "BOOKMARK":
                    continue
                name = event["object"].metadata.name
                if event["type"] == "DELETED":
                    slices.pop(name, None)
                else:
                    slices[name] = ready_backends(event["object"])
                yield union(slices)
                if time.monotonic() >= deadline:
                    break
        except ApiException as error:
            if error.status != 410:
                raise
            slices, resource_version = relist()
            yield union(slices)
        finally:
            events.close()  # closes the HTTP response at once, even when the caller stops early


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", help="Service name")
    parser.add_argument(
        "-n", "--namespace", help="namespace (default: the kubeconfig context's, else default)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds to watch (default %(default)s)"
    )
    parser.add_argument(
        "--events", type=int, default=0, help="stop after this many backend changes (0: no limit)"
    )
    args = parser.parse_args(argv)

    config.load_kube_config()
    _, context = config.list_kube_config_contexts()
    namespace = args.namespace or context.get("context", {}).get("namespace") or "default"
    updates = watch_backends(client.DiscoveryV1Api(), namespace, args.service, timeout=args.timeout)
    changes = 0
    with contextlib.closing(updates):
        backends = next(updates)
        print(
            f"backends of {namespace}/{args.service}: {', '.join(sorted(backends)) or '(none)'}",
            flush=True,
        )
        for current in updates:
            changes += report(backends, current)
            backends = current
            if args.events and changes >= args.events:
                break
    print(
        f"{changes} change(s); backends now: {', '.join(sorted(backends)) or '(none)'}", flush=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
