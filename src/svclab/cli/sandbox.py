"""``svclab sandbox up`` (serve a cluster over the Kubernetes API, write a kubeconfig) and
``svclab sandbox down`` (stop it by its pid file).

>>> from svclab.cli import main
>>> import contextlib, sys
>>> with contextlib.redirect_stderr(sys.stdout):
...     main(["sandbox", "down", "--run-dir", "/nonexistent"])
...     main(["sandbox", "up", "-f", "/nonexistent.yaml", "--run-dir", "/nonexistent"])
svclab: no sandbox is running (no pid file in /nonexistent)
2
svclab: /nonexistent.yaml: no such file or folder
2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from svclab.cli import SUMMARIES, add_manifests_option
from svclab.cli.values import port_number
from svclab.cluster import Cluster
from svclab.errors import SvclabError
from svclab.sandbox.server import Sandbox

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def default_run_dir() -> Path:
    """Where the pid file, log and kubeconfig go: ``$XDG_RUNTIME_DIR/svclab-sandbox`` or a
    per-user folder under the temporary directory."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"svclab-sandbox-{os.getuid()}"


def register(subparsers: Any) -> None:
    """Add ``sandbox up`` and ``sandbox down`` to the ``svclab`` parser."""
    parser = subparsers.add_parser("sandbox", help=SUMMARIES["sandbox"])
    commands = parser.add_subparsers(dest="sandbox_command", metavar="{up,down}", required=True)

    up = commands.add_parser("up", help="start the sandbox API server and write a kubeconfig")
    add_manifests_option(up, "objects to create first", required=False, reading=False)
    up.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to bind (default %(default)s: loopback only)",
    )
    up.add_argument(
        "--port", type=port_number, default=0, help="port to bind (default: any free port)"
    )
    up.add_argument(
        "--kubeconfig", type=Path, help="where to write the kubeconfig (default RUN_DIR/kubeconfig)"
    )
    up.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="virtual seconds per real second (0 stops the clock; default %(default)s)",
    )
    up.add_argument(
        "--seed", type=int, default=0, help="seed for names and IP allocation (default %(default)s)"
    )
    up.add_argument("--nodes", type=int, default=1, help="number of nodes (default %(default)s)")
    up.add_argument(
        "--service-cidr", default="10.96.0.0/12", help="service CIDR (default %(default)s)"
    )
    up.add_argument(
        "--detach",
        action="store_true",
        help="run in the background (stop with 'svclab sandbox down')",
    )
    up.add_argument(
        "--run-dir", type=Path, default=None, help="pid file, log and kubeconfig folder"
    )
    up.set_defaults(func=up_command)

    down = commands.add_parser("down", help="stop the sandbox started with 'up'")
    down.add_argument("--run-dir", type=Path, default=None, help="the folder 'up' used")
    down.set_defaults(func=down_command)


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    run_dir = args.run_dir or default_run_dir()
    return run_dir, run_dir / "sandbox.pid"


def _running_pid(pid_file: Path) -> int | None:
    """The pid in the file if that process is alive and is an svclab sandbox (not a reused pid)."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"svclab" in cmdline and b"sandbox" in cmdline else None


def up_command(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM, or start a background copy with ``--detach``."""
    run_dir, pid_file = _paths(args)
    pid = _running_pid(pid_file)
    if pid is not None:
        raise SvclabError(
            f"a sandbox is already running (pid {pid}); stop it with 'svclab sandbox down'"
        )
    kubeconfig = (args.kubeconfig or run_dir / "kubeconfig").resolve()
    # Load the manifests here even when detaching: bad input fails now, as one line.
    cluster = Cluster.from_manifests(
        args.filename, seed=args.seed, nodes=args.nodes, service_cidr=args.service_cidr
    )
    if args.detach:
        return _detach(args, run_dir, pid_file, kubeconfig)
    box = Sandbox(cluster, host=args.address, port=args.port, speed=args.speed)
    received: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signum)
        box.stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            box.start()
        except OSError as exc:
            raise SvclabError(
                f"--address/--port: cannot listen on {args.address}:{args.port}: {exc.strerror}"
            ) from None
        box.write_kubeconfig(kubeconfig)
        run_dir.mkdir(parents=True, exist_ok=True)
        pid_file.write_text(f"{os.getpid()}\n")
        print(
            f"svclab sandbox: Kubernetes API on {box.url} (virtual clock x{args.speed:g}); "
            f"stop with Ctrl-C or 'svclab sandbox down'",
            file=sys.stderr,
            flush=True,
        )
        print(f"export KUBECONFIG={kubeconfig}", flush=True)
        box.wait()
    finally:
        box.stop()
        with contextlib.suppress(OSError):
            if _running_pid(pid_file) == os.getpid():
                pid_file.unlink()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 + received[0] if received else 0


def _detach(args: argparse.Namespace, run_dir: Path, pid_file: Path, kubeconfig: Path) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        pid_file.unlink()  # stale: its process is gone (checked above)
    command = [
        sys.executable,
        "-m",
        "svclab",
        "sandbox",
        "up",
        "--run-dir",
        str(run_dir),
        "--kubeconfig",
        str(kubeconfig),
        "--address",
        args.address,
        "--port",
        str(args.port),
        "--speed",
        str(args.speed),
        "--seed",
        str(args.seed),
        "--nodes",
        str(args.nodes),
        "--service-cidr",
        args.service_cidr,
    ]
    for manifest in args.filename:
        command += ["-f", str(Path(manifest).resolve())]
    log = run_dir / "sandbox.log"
    # posix_spawn, not Popen: the child outlives this process (no Popen left to warn about it).
    pid = os.posix_spawn(
        sys.executable,
        command,
        os.environ,
        setsid=True,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
    )
    deadline = time.monotonic() + START_TIMEOUT
    while _running_pid(pid_file) != pid:
        exited = os.waitpid(pid, os.WNOHANG)[0] == pid
        if exited or time.monotonic() > deadline:
            if not exited:
                os.kill(pid, signal.SIGTERM)
            lines = log.read_text(errors="replace").strip().splitlines()
            raise SvclabError(
                f"the sandbox did not start: {lines[-1] if lines else 'no output'} (log: {log})"
            )
        time.sleep(0.05)
    print(
        f"svclab sandbox: running in the background (pid {pid}, log {log}); "
        f"stop with 'svclab sandbox down'",
        file=sys.stderr,
        flush=True,
    )
    print(f"export KUBECONFIG={kubeconfig}", flush=True)
    return 0


def down_command(args: argparse.Namespace) -> int:
    """Stop the sandbox whose pid file is in the run folder (SIGTERM, bounded wait)."""
    run_dir, pid_file = _paths(args)
    pid = _running_pid(pid_file)
    if pid is None:
        with contextlib.suppress(OSError):
            pid_file.unlink()
        raise SvclabError(f"no sandbox is running (no pid file in {run_dir})")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child (tests)
        time.sleep(0.05)
    if Path(f"/proc/{pid}").exists():
        raise SvclabError(f"the sandbox (pid {pid}) did not stop within {STOP_TIMEOUT:g}s")
    with contextlib.suppress(OSError):
        pid_file.unlink()
    print(f"svclab sandbox: stopped (pid {pid})", file=sys.stderr)
    return 0
