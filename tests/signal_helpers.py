"""Start ``svclab`` in a subprocess and signal it after a delay (shared by the signal tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def interrupted(args: list[str], sig: signal.Signals, delay: float) -> tuple[int, str]:
    with subprocess.Popen(
        [sys.executable, "-m", "svclab", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        time.sleep(delay)
        proc.send_signal(sig)
        try:
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    return proc.returncode, err


EXPECTED = {signal.SIGINT: 130, signal.SIGTERM: 143}
