"""Shared pieces of the sandbox tests: a served cluster with a Deployment behind a Service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client

from svclab.cluster import Cluster
from svclab.sandbox import Sandbox

DATA = Path(__file__).resolve().parents[1] / "data" / "sandbox"
WEB = DATA / "web.yaml"


def start_sandbox(**options: object) -> Sandbox:
    """A running sandbox (clock stopped unless `speed` is given) with web.yaml applied and its
    Pods Ready."""
    cluster = Cluster.from_manifests([WEB], seed=3, nodes=2)
    box = Sandbox(cluster, **{"speed": 0, **options}).start()
    box.advance(5)  # Pods start after 1 s and are Ready after 2 s of virtual time
    return box


@pytest.fixture(name="box")
def box_fixture() -> Iterator[Sandbox]:
    """A running sandbox; stopped after the test."""
    sandbox = start_sandbox()
    yield sandbox
    sandbox.stop()


@pytest.fixture(name="api")
def api_fixture(box: Sandbox) -> Iterator[client.ApiClient]:
    """An official-client ApiClient pointed at the sandbox."""
    with box.api_client() as api_client:
        yield api_client


def pod_ips(box: Sandbox, **labels: str) -> set[str]:
    """IPs of the running, not terminating Pods with these labels, read from the cluster itself."""
    with box.store.lock:
        pods = box.cluster.list("Pod", "default")
    return {
        p.status.pod_ip
        for p in pods
        if p.status
        and p.status.pod_ip
        and not p.metadata.deletion_timestamp
        and all((p.metadata.labels or {}).get(k) == v for k, v in labels.items())
    }


def until(
    condition: Callable[[], bool], *, timeout: float = 10.0, step: Callable[[], None] | None = None
) -> None:
    """Poll `condition` (running `step` between tries) until true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        if step:
            step()
        time.sleep(0.02)
