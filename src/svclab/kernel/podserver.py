"""The Pods' HTTP servers: one asyncio process serving every Pod IP, each socket in its Pod's netns.

Each answer is one JSON line naming the Pod and the client address it saw, which is how the lab
tells which Pod a connection reached and whether it was masqueraded. The process enters the node
namespace (so ``ip netns pids`` finds it there), dies with its parent and is named after the run.

>>> reply = answer(PodSpec("web-0", "ns", "10.244.1.2", (8080,)), 8080, ("192.168.0.2", 41234))
>>> print(reply.decode().replace("\\r", ""))
HTTP/1.0 200 OK
Content-Type: application/json
Content-Length: 86
Connection: close
<BLANKLINE>
{"pod": "web-0", "pod_ip": "10.244.1.2", "port": 8080, "client": "192.168.0.2:41234"}
<BLANKLINE>
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass

from svclab.kernel.netns import call_in_netns, enter_netns
from svclab.kernel.system import KernelError

READY = "ready"
START_TIMEOUT = 10.0
"""Seconds to wait for the servers to listen; binding a few dozen sockets takes milliseconds."""
MAX_REQUEST = 16384

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class PodSpec:
    """One Pod: its name, its network namespace, its IP and the TCP ports it listens on."""

    name: str
    netns: str
    ip: str
    ports: tuple[int, ...]


def answer(pod: PodSpec, port: int, peer: tuple[str, int]) -> bytes:
    """The HTTP response a Pod sends: its own name and the client address it saw."""
    body = json.dumps(
        {"pod": pod.name, "pod_ip": pod.ip, "port": port, "client": f"{peer[0]}:{peer[1]}"}
    )
    body_bytes = (body + "\n").encode()
    head = (
        "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body_bytes)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body_bytes


class _Responder(asyncio.Protocol):
    """Reads one request head, answers, closes (HTTP/1.0)."""

    def __init__(self, pod: PodSpec, port: int) -> None:
        self.pod, self.port, self.buffer = pod, port, b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            peer = self.transport.get_extra_info("peername")
            self.transport.write(answer(self.pod, self.port, peer))
            self.transport.close()
        elif len(self.buffer) > MAX_REQUEST:
            self.transport.close()


def _listen(pod: PodSpec) -> list[tuple[PodSpec, int, socket.socket]]:
    sockets = []
    for port in pod.ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((pod.ip, port))
        sock.listen(1024)
        sock.setblocking(False)
        sockets.append((pod, port, sock))
    return sockets


async def _serve(listeners: list[tuple[PodSpec, int, socket.socket]]) -> None:
    loop = asyncio.get_running_loop()
    for pod, port, sock in listeners:
        await loop.create_server(lambda pod=pod, port=port: _Responder(pod, port), sock=sock)
    print(READY, flush=True)
    await asyncio.Event().wait()


def _tie_to_parent(parent: int, name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, name[:15].encode(), 0, 0, 0)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        sys.exit(1)


def main() -> None:
    """Entry point of the server process: spec as JSON on stdin, ``ready`` on stdout."""
    spec = json.load(sys.stdin)
    _tie_to_parent(spec["parent"], spec["name"])
    listeners = []
    for pod in (PodSpec(p["name"], p["netns"], p["ip"], tuple(p["ports"])) for p in spec["pods"]):
        listeners += call_in_netns(pod.netns, lambda pod=pod: _listen(pod))
    enter_netns(spec["node"])
    asyncio.run(_serve(listeners))


def start(name: str, node_netns: str, pods: list[PodSpec]) -> subprocess.Popen[str]:
    """Start the server process for `pods`; return once every socket listens (or raise)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "svclab.kernel.podserver", name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's Ctrl-C goes to the lab, which then stops this
    )
    try:
        spec = {
            "parent": os.getpid(),
            "name": name,
            "node": node_netns,
            "pods": [asdict(p) for p in pods],
        }
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(spec))
        proc.stdin.close()
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            line = proc.stdout.readline() if selector.select(START_TIMEOUT) else ""
        if line.strip() != READY:
            proc.kill()
            proc.wait(timeout=START_TIMEOUT)
            detail = (proc.stderr.read() if proc.stderr else "").strip().splitlines()
            raise KernelError(f"pod servers did not start: {detail[-1] if detail else 'timeout'}")
    except BaseException:
        stop(proc)
        raise
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop the server process (SIGKILL: it holds no state worth a graceful exit) and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=START_TIMEOUT)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


if __name__ == "__main__":
    main()
