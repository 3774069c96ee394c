"""What the kernel lab needs from the machine, and running its tools (``ip``, ``nft``…) one way.

>>> ok, reason = kernel_available()
>>> isinstance(ok, bool) and reason.endswith(".")
True
>>> run(["true"])
''
>>> run(["sh", "-c", "echo oops >&2; exit 3"])
Traceback (most recent call last):
...
svclab.kernel.system.KernelError: sh -c echo oops >&2; exit 3: exit 3: oops
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from svclab.errors import SvclabError

TOOLS = ("ip", "iptables-restore", "iptables-save", "nft", "conntrack")
"""Binaries the lab runs (Debian: iproute2, iptables, nftables, conntrack)."""

COMMAND_TIMEOUT = 120.0
"""Default upper bound for one command (the benchmark passes its own for big rule sets)."""


class KernelError(SvclabError):
    """A kernel command failed (its stderr says why)."""


class CommandTimeout(KernelError):
    """A kernel command did not finish in time (it was killed)."""


class KernelUnavailable(KernelError):
    """This machine cannot run the kernel lab (not Linux, not root, or a tool is missing)."""


def kernel_available() -> tuple[bool, str]:
    """Whether the kernel lab can run here, and one sentence saying why (not).

    Notebooks call this and fall back to the tracer when it is False.
    """
    needs = (
        "the svclab kernel lab needs root on Linux with iproute2, iptables, nftables and conntrack"
    )
    if not sys.platform.startswith("linux"):
        return False, f"{needs}; this is {sys.platform}."
    if os.geteuid() != 0:
        return False, f"{needs}; this process is not root (run it with sudo)."
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return False, f"{needs}; missing: {', '.join(missing)}."
    return (
        True,
        "root on Linux with ip, iptables-restore, nft and conntrack: the kernel lab can run.",
    )


def require_kernel() -> None:
    """Raise `KernelUnavailable` with the one-sentence reason unless the lab can run."""
    ok, reason = kernel_available()
    if not ok:
        raise KernelUnavailable(reason)


def run(
    argv: Sequence[str],
    stdin: str | None = None,
    netns: str | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> str:
    """Run a command (inside network namespace `netns` if given); return stdout or raise."""
    command = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CommandTimeout(f"{' '.join(argv)}: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise KernelError(f"{' '.join(argv)}: {exc}") from None
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise KernelError(f"{' '.join(argv)}: exit {done.returncode}: {' / '.join(detail[:3])}")
    return done.stdout
