"""`svclab kernel cleanup`: remove what earlier runs left behind (SIGKILL, power loss).

Only namespaces named by `svclab.kernel.names` are considered, and by default only those whose
creating process is gone, so a lab running in another terminal is left alone. Their processes
(the Pod servers live in the node namespace) are killed first, by pid.

>>> stale("svclab-999999999-abcdef-node", alive=lambda pid: False)
True
>>> stale("svclab-1-abcdef-node", alive=lambda pid: True)
False
>>> stale("other-ns", alive=lambda pid: False)
False
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable

from svclab.kernel.names import parse_netns
from svclab.kernel.netns import list_netns, netns_pids
from svclab.kernel.system import require_kernel, run


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists.

    >>> pid_alive(os.getpid())
    True
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale(name: str, alive: Callable[[int], bool] = pid_alive) -> bool:
    """Whether `name` is an svclab namespace whose creating process has exited."""
    run_name = parse_netns(name)
    return run_name is not None and not alive(run_name.pid)


def cleanup(include_live: bool = False) -> list[str]:
    """Delete leftover svclab namespaces and kill their processes; return the names removed.

    With `include_live`, namespaces of runs that are still going are removed too.
    """
    require_kernel()
    victims = [
        ns for ns in list_netns()
        if parse_netns(ns) is not None and (include_live or stale(ns))
    ]  # fmt: skip
    for ns in victims:
        for pid in netns_pids(ns):
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                    os.kill(pid, signal.SIGKILL)
    if victims:
        run(["ip", "-force", "-batch", "-"], stdin="".join(f"netns del {ns}\n" for ns in victims))
    return victims
