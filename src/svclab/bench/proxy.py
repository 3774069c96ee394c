"""Requests per second through the userspace proxy, through HAProxy and direct, measured by wrk.

All three run in the same benchmark, interleaved round by round, against the same backends:
small asyncio HTTP servers in subprocesses. HAProxy (Debian's) runs in TCP mode with one
thread, round-robin, bound to 127.0.0.1 only: the same layer-4, one-core job the userspace
proxy does. Each target is measured with keep-alive and with ``Connection: close`` (a new TCP
connection, hence a new proxy dial, per request). Ratios are to HAProxy in the same run.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from svclab.aio import has_uvloop, new_loop

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!"
_OK_CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
    b"Connection: close\r\n\r\nHello, world!"
)
PROXY_VIP = "127.0.0.2"
"""Where the userspace proxy listens, as a Service's virtual IP would be."""


class _HelloHTTP(asyncio.Protocol):
    """Answers each bodiless HTTP/1.1 request with a fixed 200; honours ``Connection: close``."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        count = buffer.count(b"\r\n\r\n")
        if not count:
            self.buffer = buffer
            return
        end = buffer.rindex(b"\r\n\r\n") + 4
        if b"connection: close" in buffer[:end].lower():
            self.transport.write(_OK * (count - 1) + _OK_CLOSE)  # type: ignore[attr-defined]
            self.transport.close()
        else:
            self.transport.write(_OK * count)  # type: ignore[attr-defined]
        self.buffer = buffer[end:]


def serve_hello(port: int) -> None:
    """Run the hello HTTP server on 127.0.0.1:``port`` until killed (a benchmark backend)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(_HelloHTTP, "127.0.0.1", port, backlog=1024)
        await asyncio.Event().wait()

    _run(main())


def serve_userspace(port: int, backends: list[tuple[str, int]]) -> None:
    """Run the userspace proxy on ``PROXY_VIP``:``port`` until killed."""
    from svclab.proxy.userspace import UserspaceProxy

    async def main() -> None:
        async with UserspaceProxy(backends, vip=PROXY_VIP, port=port):
            await asyncio.Event().wait()

    _run(main())


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine on uvloop when installed: the benchmark measures the fastest loop."""
    with asyncio.Runner(loop_factory=lambda: new_loop(use_uvloop=has_uvloop())) as runner:
        runner.run(main)


def haproxy_config(port: int, backends: list[tuple[str, int]]) -> str:
    """A minimal HAProxy configuration: TCP mode, one thread, round-robin, 127.0.0.1 only.

    >>> print(haproxy_config(8000, [("127.0.0.1", 9001)]).splitlines()[-1])
        server b0 127.0.0.1:9001
    """
    servers = "".join(f"    server b{i} {h}:{p}\n" for i, (h, p) in enumerate(backends))
    return (
        "global\n    maxconn 4096\n    nbthread 1\n"
        "defaults\n    mode tcp\n    timeout connect 2s\n"
        "    timeout client 30s\n    timeout server 30s\n"
        f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
        f"backend be\n    balance roundrobin\n{servers}"
    ).rstrip("\n")


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_listening(
    address: tuple[str, int], proc: subprocess.Popen[bytes], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}: {err.strip()}")
        try:
            socket.create_connection(address, timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {address} after {seconds} s")


@contextmanager
def _process(args: list[str], address: tuple[str, int]) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until it listens, and kill it (by its PID) afterwards."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(address, proc, 10)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stderr is not None:
            proc.stderr.close()


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", f"from svclab.bench.proxy import *; {code}"]


def parse_wrk(output: str) -> tuple[float, int]:
    """Requests/s and the error count (socket errors plus non-2xx/3xx) from wrk's report.

    >>> parse_wrk("Requests/sec:  1234.50\\n  Socket errors: connect 0, read 2, write 0, timeout 1")
    (1234.5, 3)
    """
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return rate, errors + (int(bad.group(1)) if bad else 0)


def wrk(url: str, seconds: float, connections: int, close: bool) -> tuple[float, int]:
    """Run wrk (one thread) against ``url``; return requests/s and errors."""
    args = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url]
    if close:
        args[1:1] = ["-H", "Connection: close"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30, check=True)
    return parse_wrk(done.stdout)


def run(quick: bool = False) -> list[dict]:
    """Interleaved wrk rounds: direct, HAProxy, userspace proxy; keep-alive and close."""
    missing = [tool for tool in ("wrk", "haproxy") if shutil.which(tool) is None]
    if missing:
        return [{"skipped": f"{', '.join(missing)} not installed (Debian packages wrk, haproxy)"}]
    seconds, rounds, connections = (2, 1, 16) if quick else (5, 3, 32)
    backends = [("127.0.0.1", _free_port()) for _ in range(2)]
    hap_port, proxy_port = _free_port(), _free_port(PROXY_VIP)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp, "haproxy.cfg")
        config.write_text(haproxy_config(hap_port, backends) + "\n")
        with (
            _process(_python(f"serve_hello({backends[0][1]})"), backends[0]),
            _process(_python(f"serve_hello({backends[1][1]})"), backends[1]),
            _process(["haproxy", "-db", "-f", str(config)], ("127.0.0.1", hap_port)),
            _process(
                _python(f"serve_userspace({proxy_port}, {backends!r})"), (PROXY_VIP, proxy_port)
            ),
        ):
            targets = {
                "direct": f"http://{backends[0][0]}:{backends[0][1]}/",
                "haproxy": f"http://127.0.0.1:{hap_port}/",
                "userspace": f"http://{PROXY_VIP}:{proxy_port}/",
            }
            results: dict[tuple[str, str], list[tuple[float, int]]] = {}
            for _ in range(rounds):
                for mode in ("keep-alive", "close"):
                    for name, url in targets.items():
                        rate = wrk(url, seconds, connections, close=mode == "close")
                        results.setdefault((mode, name), []).append(rate)
    rows = []
    for mode in ("keep-alive", "close"):
        haproxy = statistics.median(r for r, _ in results[(mode, "haproxy")])
        for name in targets:
            measured = results[(mode, name)]
            rate = statistics.median(r for r, _ in measured)
            rows.append(
                {
                    "connection": mode,
                    "target": name,
                    "requests_per_s": round(rate),
                    "ratio_to_haproxy": round(rate / haproxy, 2),
                    "errors": sum(e for _, e in measured),
                    "rounds": rounds,
                    "seconds_each": seconds,
                }
            )
    return rows


def main() -> None:
    """Print the table (``--quick`` for a short run)."""
    from svclab.report.tables import format_table

    print(format_table(run(quick="--quick" in sys.argv[1:])))


if __name__ == "__main__":
    main()
