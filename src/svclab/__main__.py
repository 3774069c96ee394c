"""``python -m svclab`` and the ``svclab`` command: a signal at any moment ends it with 128 + N.

Until the CLI is imported there is nothing to clean up, so SIGINT, SIGTERM and SIGHUP end the
process at once; from then on they are raised as exceptions (`svclab.errors.Interrupted`), so
clean-up code runs, and `svclab.cli.main` turns them into the exit status.
"""

import _signal  # the C module: `signal` imports enum first, which takes a while
import os  # already loaded by the interpreter's start-up

STOP_SIGNALS = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP)


def _exit_at_once(signum: int, _frame: object) -> None:
    os._exit(128 + signum)


def run() -> None:
    """Run `svclab.cli.main` and leave with its exit status."""
    for sig in STOP_SIGNALS:
        _signal.signal(sig, _exit_at_once)
    import sys

    from svclab.cli import main

    status = main()
    # Done: leave without the interpreter's shutdown, during which a late signal would meet
    # its default action again (killed, no exit status) once the signal module is finalised.
    for sig in STOP_SIGNALS:
        _signal.signal(sig, _exit_at_once)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:  # a reader that went away (``| head``)
            status = status or 141
    os._exit(status)


if __name__ == "__main__":
    run()
