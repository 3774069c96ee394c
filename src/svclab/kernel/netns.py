"""Entering named network namespaces from Python (``setns``), without a subprocess per call.

A socket belongs to the namespace its creator was in, so a short-lived thread that has entered a
namespace can create sockets there (or write its ``/proc/sys/net`` settings) while the rest of
the process stays where it was. Stdlib only: the pod server imports this at start-up.

>>> netns_path("svclab-1-abcdef-node")
'/run/netns/svclab-1-abcdef-node'
>>> call_in_netns("svclab-none-such", lambda: 1)
Traceback (most recent call last):
...
FileNotFoundError: [Errno 2] No such file or directory: '/run/netns/svclab-none-such'
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"
"""Where ``ip netns add`` bind-mounts named namespaces."""

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(name: str) -> str:
    """The file that names namespace `name`."""
    return os.path.join(NETNS_RUN_DIR, name)


def enter_netns(name: str) -> None:
    """Move the calling thread into network namespace `name` (Python 3.11 has no ``os.setns``)."""
    fd = os.open(netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns({name}): {os.strerror(errno)}")
    finally:
        os.close(fd)


def call_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run `fn` in a new thread inside namespace `name` and return its result (or raise)."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            enter_netns(name)
            outcome["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    # Daemon: a Ctrl-C in the caller must not wait for a thread whose namespace is being deleted.
    thread = threading.Thread(target=target, name=f"netns:{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def write_sysctls(name: str, settings: dict[str, str]) -> None:
    """Set ``net.*`` sysctls inside namespace `name` only (keys like ``net.ipv4.ip_forward``)."""

    def write() -> None:
        for key, value in settings.items():
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(value)

    call_in_netns(name, write)


def list_netns() -> list[str]:
    """Names of the named network namespaces (what ``ip netns list`` shows)."""
    try:
        return sorted(os.listdir(NETNS_RUN_DIR))
    except FileNotFoundError:
        return []


def netns_pids(name: str) -> list[int]:
    """Processes whose network namespace is `name` (like ``ip netns pids``)."""
    try:
        target = os.stat(netns_path(name))
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:  # the process exited meanwhile, or is not ours to read
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            pids.append(int(entry))
    return pids
