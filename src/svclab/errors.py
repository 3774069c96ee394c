"""One error type for bad input, printed as one line: file, object, field, rule.

>>> err = ManifestError("svc.yaml", "Service default/web", "spec.ports[0].port", "must be 1-65535")
>>> str(err)
'svc.yaml: Service default/web: spec.ports[0].port: must be 1-65535'
>>> str(ManifestError("-", "", "", "no such file"))
'-: no such file'
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import NoReturn


class SvclabError(Exception):
    """Base of every error svclab reports to a user (the CLI prints it and exits 2)."""


class ManifestError(SvclabError):
    """A manifest, flag or packet that svclab cannot accept, and why."""

    def __init__(self, source: str, obj: str, field: str, rule: str) -> None:
        self.source, self.obj, self.field, self.rule = source, obj, field, rule
        super().__init__(": ".join(part for part in (source, obj, field, rule) if part))


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) raised like Ctrl-C, so the same clean-up runs.

    >>> exit_status(Interrupted(signal.SIGTERM)), exit_status(KeyboardInterrupt())
    (143, 130)
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signal.Signals(signum).name}")
        self.signum = signum


def raise_interrupted(signum: int, frame: FrameType | None) -> NoReturn:
    """A signal handler: raise `Interrupted` in the main thread."""
    raise Interrupted(signum)


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number, as a shell reports a command ended by it (130 for Ctrl-C)."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)
