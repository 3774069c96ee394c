"""Real TCP connections from inside a namespace: which Pod answered, and who it thought called.

Each connection is a fresh socket (a new source port, so a new conntrack entry and a new random
draw by the rules); nothing is retried. A connection that fails is reported with why.

>>> from svclab.proxy.servicemap import ServicePortInfo
>>> port = ServicePortInfo("ns", "web", "http", "TCP", "10.96.0.10", 80, node_port=30080,
...                        load_balancer_ips=("192.0.2.100",))
>>> for t in service_targets([port], "192.168.0.2"):
...     print(t.kind, t)
ClusterIP 10.96.0.10:80
NodePort 192.168.0.2:30080
LoadBalancer 192.0.2.100:80
>>> summarize([Connection("ok", "web-a", "192.168.0.2:4000"),
...            Connection("ok", "web-a", "192.168.0.2:4001"), Connection("refused")])
[('web-a', '192.168.0.2', 2), ('(refused)', '', 1)]
"""

from __future__ import annotations

import errno
import json
import socket
import struct
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from svclab.kernel.netns import call_in_netns
from svclab.proxy.servicemap import ServicePortInfo

CONNECT_TIMEOUT = 5.0
"""Seconds before a connection that kube-proxy semantics say succeeds counts as failed."""
DROP_TIMEOUT = 1.0
"""Seconds to wait on a connection the rules are expected to DROP (the SYN just vanishes)."""
MAX_RESPONSE = 65536
TOTAL_RETRANS_OFFSET = 100
"""Where ``tcpi_total_retrans`` sits in Linux's ``struct tcp_info`` (include/uapi/linux/tcp.h)."""
TCP_INFO_SIZE = TOTAL_RETRANS_OFFSET + 4
PARALLEL = 16
"""Connections in flight at once: DROPped ones then cost one timeout per 16, not one each."""


@dataclass(frozen=True)
class Target:
    """An address a Service answers on: ClusterIP, NodePort, LoadBalancer IP or external IP."""

    service: str
    kind: str
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class Connection:
    """One attempt: ``ok`` with the Pod's name and the client address it saw, or why it failed
    (``refused``, ``timeout``, ``unreachable`` or ``reset``)."""

    outcome: str
    pod: str | None = None
    client_seen: str | None = None
    retransmits: int = 0
    """Segments our TCP sent again (``tcpi_total_retrans``), SYNs included: 0 means no retry."""

    @property
    def client_ip(self) -> str:
        """The source IP the Pod saw (``ip`` of ``ip:port``)."""
        return (self.client_seen or "").rpartition(":")[0]


def service_targets(
    ports: Iterable[ServicePortInfo], node_ip: str, localhost: bool = False
) -> list[Target]:
    """Every TCP address of every service port, in kube-proxy's Service order.

    With `localhost`, NodePorts on 127.0.0.1 too (reachable from the node in iptables mode only).
    """
    targets = []
    for p in ports:
        if p.protocol != "TCP":
            continue
        targets.append(Target(p.name, "ClusterIP", p.cluster_ip, p.port))
        if p.node_port:
            targets.append(Target(p.name, "NodePort", node_ip, p.node_port))
            if localhost:
                targets.append(Target(p.name, "NodePort", "127.0.0.1", p.node_port))
        targets += [Target(p.name, "LoadBalancer", ip, p.port) for ip in p.load_balancer_ips]
        targets += [Target(p.name, "ExternalIP", ip, p.port) for ip in p.external_ips]
    return targets


def connect_once(ip: str, port: int, timeout: float = CONNECT_TIMEOUT) -> Connection:
    """One HTTP/1.0 request to ``ip:port`` from the calling thread's namespace."""
    try:
        with socket.create_connection((ip, port), timeout=timeout) as sock:
            sock.sendall(f"GET / HTTP/1.0\r\nHost: {ip}\r\n\r\n".encode())
            data = b""
            while len(data) < MAX_RESPONSE and (chunk := sock.recv(4096)):
                data += chunk
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    except ConnectionRefusedError:
        return Connection("refused")
    except ConnectionResetError:
        return Connection("reset")
    except TimeoutError:
        return Connection("timeout")
    except OSError as exc:
        if exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return Connection("unreachable")
        raise
    body = json.loads(data.partition(b"\r\n\r\n")[2])
    retransmits = struct.unpack_from("I", info, TOTAL_RETRANS_OFFSET)[0]
    return Connection("ok", body["pod"], body["client"], retransmits)


def connect_many(
    netns: str, ip: str, port: int, count: int, timeout: float = CONNECT_TIMEOUT
) -> list[Connection]:
    """`count` connections to ``ip:port`` from namespace `netns`: one, then `PARALLEL` at a time.

    The first goes alone so that state it creates (a ClientIP affinity record) exists before the
    rest: first SYNs racing on two CPUs can both miss the empty ``recent`` list and pick
    different Pods, which a client opening one connection and then a pool would not see.
    """

    def connect_all() -> list[Connection]:
        first = [connect_once(ip, port, timeout)] if count else []
        # Threads started here inherit this thread's namespace, so their sockets are made there.
        with ThreadPoolExecutor(PARALLEL) as pool:
            return first + list(
                pool.map(lambda _: connect_once(ip, port, timeout), range(count - 1))
            )

    return call_in_netns(netns, connect_all)


def connect_latencies(netns: str, ip: str, port: int, count: int) -> list[float]:
    """Seconds to establish each of `count` connections (closed at once, nothing sent)."""

    def measure() -> list[float]:
        times = []
        for _ in range(count):
            started = time.perf_counter()
            with socket.create_connection((ip, port), timeout=CONNECT_TIMEOUT):
                times.append(time.perf_counter() - started)
        return times

    return call_in_netns(netns, measure)


def summarize(connections: Iterable[Connection]) -> list[tuple[str, str, int]]:
    """(Pod or ``(failure)``, client IP the Pod saw, count), Pods first, in name order."""
    counts = Counter(
        (c.pod, c.client_ip) if c.outcome == "ok" else (f"({c.outcome})", "") for c in connections
    )
    return sorted(
        ((pod, ip, n) for (pod, ip), n in counts.items()), key=lambda r: (r[0].startswith("("), r)
    )
