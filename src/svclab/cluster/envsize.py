"""How large kubelet's Service variables make a container's environment, and where Linux stops.

Every Service in a Pod's namespace adds its block of variables (`svclab.cluster.envvars`), and the
environment is handed to the container's first process by ``execve``. Linux caps what
``execve`` copies (``fs/exec.c``, execve(2) "Limits on size of arguments and environment"):
each string at ``MAX_ARG_STRLEN`` (32 pages, 128 KiB), and all argument and environment
strings plus their pointers at a quarter of the stack limit (``RLIMIT_STACK``), at most 3/4 of
``_STK_LIM`` (6 MiB) and at least ``ARG_MAX`` (32 pages). Beyond, ``execve`` fails with
``E2BIG`` ("Argument list too long"): the container never starts.

>>> growth = Growth(100)
>>> env = growth.environment(100)
>>> len(env), env_bytes(env) > 100 * 200
(808, True)
>>> len(growth.environment(100, links=False))  # only default/kubernetes is left
8
>>> execs(env)
True
"""

from __future__ import annotations

import ipaddress
import resource
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

import kubernetes.client as k8s

from svclab.cluster.envvars import EnvList, service_env

NAMESPACE = "shop"
PAGE = resource.getpagesize()
MAX_ARG_STRLEN = 32 * PAGE
"""Longest single argument or ``NAME=value`` string ``execve`` accepts (128 KiB on 4 KiB pages)."""
ARG_MAX = 32 * PAGE
"""The floor of the total limit, however small the stack limit (``fs/exec.c``)."""
STK_LIM = 8 * 1024 * 1024
"""``_STK_LIM``: the total is at most 3/4 of it, whatever the stack limit."""
POINTER = 8
"""Bytes of one ``argv``/``envp`` pointer on a 64-bit machine; they count against the limit."""
PROGRAM = ("/bin/true",)
"""What `execs` starts: a program that does nothing, so only ``execve`` itself is tested."""
SHELL = "/bin/sh"
EXEC_TIMEOUT = 10.0
"""Seconds one process start may take before the measurement gives up."""

KUBERNETES = k8s.V1Service(
    metadata=k8s.V1ObjectMeta(name="kubernetes", namespace="default"),
    spec=k8s.V1ServiceSpec(
        cluster_ip="10.96.0.1", ports=[k8s.V1ServicePort(name="https", port=443, protocol="TCP")]
    ),
)
"""The API server's Service, which every Pod gets variables for."""


def namespace_services(count: int, namespace: str = NAMESPACE) -> list[k8s.V1Service]:
    """`count` Services ``svc-00000``… with one named port each, on consecutive ClusterIPs.

    >>> [(s.metadata.name, s.spec.cluster_ip) for s in namespace_services(2)]
    [('svc-00000', '10.96.0.10'), ('svc-00001', '10.96.0.11')]
    """
    base = ipaddress.ip_address("10.96.0.10")
    return [
        k8s.V1Service(
            metadata=k8s.V1ObjectMeta(name=f"svc-{i:05d}", namespace=namespace),
            spec=k8s.V1ServiceSpec(
                cluster_ip=str(base + i),
                ports=[k8s.V1ServicePort(name="http", port=80, protocol="TCP")],
            ),
        )
        for i in range(count)
    ]


class Growth:
    """A namespace of up to `most` Services, and the environment of a Pod started among them."""

    def __init__(self, most: int, namespace: str = NAMESPACE) -> None:
        self.most, self.namespace = most, namespace
        self.services = namespace_services(most, namespace)

    def environment(self, count: int, links: bool = True) -> EnvList:
        """kubelet's variables for a container started after the first `count` Services."""
        if not 0 <= count <= self.most:
            raise ValueError(f"count must be between 0 and {self.most}, not {count}")
        visible = [*self.services[:count], KUBERNETES]
        return service_env(visible, self.namespace, enable_service_links=links)


def env_bytes(env: EnvList) -> int:
    """Bytes of the ``NAME=value`` strings with their terminating NULs, as ``execve`` copies them.

    >>> env_bytes([("A", "1"), ("HOST", "10.0.0.1")])
    18
    """
    return sum(len(name.encode()) + len(value.encode()) + 2 for name, value in env)


def exec_bytes(env: EnvList, argv: Sequence[str] = PROGRAM) -> int:
    """What counts against the total limit: the file name, argument and environment strings,
    and one pointer per argument and variable.

    >>> exec_bytes([("A", "1")], ["/bin/true"])
    40
    """
    strings = sum(len(a.encode()) + 1 for a in argv) + len(argv[0].encode()) + 1
    return strings + env_bytes(env) + POINTER * (len(argv) + len(env))


def stack_limit() -> int | None:
    """This process's soft ``RLIMIT_STACK`` in bytes (None when unlimited); children inherit it."""
    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    return None if soft == resource.RLIM_INFINITY else soft


def exec_limit(stack: int | None = -1) -> int:
    """The total ``execve`` accepts for a stack limit of `stack` bytes (default: this process's).

    >>> exec_limit(8 * 1024 * 1024), exec_limit(None), exec_limit(64 * 1024)
    (2097152, 6291456, 131072)
    """
    if stack == -1:
        stack = stack_limit()
    limit = STK_LIM // 4 * 3 if stack is None else min(STK_LIM // 4 * 3, stack // 4)
    return max(limit, ARG_MAX)


def execs(env: EnvList, argv: Sequence[str] = PROGRAM) -> bool:
    """Start `argv` with exactly `env`: True if it ran, False if ``execve`` said ``E2BIG``.

    Any other failure (a missing program, a timeout) is raised.

    >>> execs([("HUGE", "x" * MAX_ARG_STRLEN)])  # one string over MAX_ARG_STRLEN
    False
    """
    try:
        subprocess.run(list(argv), env=dict(env), check=True, timeout=EXEC_TIMEOUT)
    except OSError as exc:
        if exc.errno == 7:  # E2BIG, "Argument list too long"
            return False
        raise
    return True


@dataclass(frozen=True)
class Threshold:
    """The fewest Services in a namespace at which a new container's ``execve`` fails."""

    services: int
    variables: int
    exec_bytes: int
    """What ``execve`` was asked to copy at `services`."""
    last_ok_bytes: int
    """What it copied with one Service fewer."""
    limit: int
    """`exec_limit` of this machine."""
    tries: int
    """Processes started to find it."""


def exec_threshold(growth: Growth, links: bool = True) -> Threshold | None:
    """Bisect for the Service count at which ``execve`` starts failing (None: never, up to
    ``growth.most``). Bounded: at most ``log2(most) + 2`` process starts.

    >>> exec_threshold(Growth(50)) is None
    True
    """
    tries = 1
    if execs(growth.environment(growth.most, links)):
        return None
    low, high = 0, growth.most  # execs at low, fails at high
    while high - low > 1:
        middle = (low + high) // 2
        tries += 1
        if execs(growth.environment(middle, links)):
            low = middle
        else:
            high = middle
    env = growth.environment(high, links)
    return Threshold(
        services=high,
        variables=len(env),
        exec_bytes=exec_bytes(env),
        last_ok_bytes=exec_bytes(growth.environment(low, links)),
        limit=exec_limit(),
        tries=tries,
    )


def shell_start_seconds(env: EnvList, repeats: int = 5, budget: float = 0.5) -> float:
    """Seconds from spawning ``/bin/sh -c true`` with exactly `env` to its exit: the best of up
    to `repeats` runs, fewer once they have taken `budget` seconds (the machine is shared).

    That is what every shell a container starts pays: the parent hands the environment over,
    ``execve`` copies it, and the shell reads every variable before running anything.

    >>> 0 < shell_start_seconds([("A", "1")], repeats=2) < 1
    True
    """
    times: list[float] = []
    while len(times) < repeats and sum(times) < budget:
        started = time.perf_counter()
        subprocess.run([SHELL, "-c", "true"], env=dict(env), check=True, timeout=EXEC_TIMEOUT)
        times.append(time.perf_counter() - started)
    return min(times)
