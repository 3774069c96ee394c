"""Queries per second of svclab's DNS server against dnsmasq, both measured by dnsperf in one run.

Both servers serve the same names on loopback: A records of N ClusterIP Services, plus names
that do not exist (NXDOMAIN from both). dnsmasq gets them through ``--addn-hosts`` and
``--local=/<zone>/``. Rows give each server's queries per second, the ratio to dnsmasq and
the queries dnsperf counted as lost.

>>> names = service_names(3)
>>> names[0], len(names)
('svc-0.bench.svc.cluster.local', 3)
>>> parse_dnsperf("  Queries sent:         10\\n  Queries completed:    9 (90.00%)\\n"
...               "  Queries lost:         1 (10.00%)\\n  Queries per second:   1234.5\\n")
{'sent': 10, 'completed': 9, 'lost': 1, 'qps': 1234}
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import kubernetes.client as k8s

from svclab.aio import has_uvloop
from svclab.api.state import ClusterState
from svclab.dns.server import DnsServer
from svclab.dns.serving import LoopbackServer
from svclab.errors import SvclabError
from svclab.report.tables import format_table

DNSMASQ = "/usr/sbin/dnsmasq"
"""Debian's path (sbin is often not on a user's PATH)."""
ZONE = "cluster.local"
NAMESPACE = "bench"


def service_names(count: int) -> list[str]:
    """The names of the benchmark's Services."""
    return [f"svc-{i}.{NAMESPACE}.svc.{ZONE}" for i in range(count)]


def cluster_ip(i: int) -> str:
    """The ClusterIP of Service number `i` (inside 10.96.0.0/12)."""
    return str(ipaddress.IPv4Address("10.96.0.0") + 10 + i)


def bench_state(count: int) -> ClusterState:
    """`count` ClusterIP Services, built directly as client objects."""
    return ClusterState(
        services=[
            k8s.V1Service(
                metadata=k8s.V1ObjectMeta(name=f"svc-{i}", namespace=NAMESPACE),
                spec=k8s.V1ServiceSpec(
                    cluster_ip=cluster_ip(i), ports=[k8s.V1ServicePort(name="http", port=80)]
                ),
            )
            for i in range(count)
        ]
    )


def parse_dnsperf(output: str) -> dict:
    """The counts and rate from dnsperf's statistics."""

    def number(label: str) -> float:
        match = re.search(rf"{label}:\s+([\d.]+)", output)
        if not match:
            raise SvclabError(f"dnsperf printed no '{label}' line:\n{output}")
        return float(match.group(1))

    return {
        "sent": int(number("Queries sent")),
        "completed": int(number("Queries completed")),
        "lost": int(number("Queries lost")),
        "qps": round(number("Queries per second")),
    }


def dnsperf(port: int, datafile: Path, seconds: float) -> dict:
    """Run dnsperf against 127.0.0.1:`port` for `seconds` and parse its report."""
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(datafile), "-l", str(seconds)]
    cmd += ["-c", "1", "-T", "1", "-q", "100", "-t", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise SvclabError(f"dnsperf failed ({done.returncode}): {done.stderr.strip()}")
    return parse_dnsperf(done.stdout)


def start_dnsmasq(records: list[str], probe: str) -> tuple[subprocess.Popen, int]:
    """dnsmasq on a free 127.0.0.1 port with only `records` (its options) and no upstream;
    returns once it answers `probe`. Stop it with `stop_dnsmasq`."""
    fixed = ["--no-daemon", "--conf-file=/dev/null", "--pid-file=", "--no-resolv", "--no-hosts"]
    fixed += ["--listen-address=127.0.0.1", "--bind-interfaces", "--user=root"]
    for _ in range(10):
        port = _free_port()
        proc = subprocess.Popen(
            [DNSMASQ, *fixed, f"--port={port}", *records],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while proc.poll() is None and time.monotonic() < deadline:
            query = dns.message.make_query(probe, "A")
            try:
                dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
                return proc, port
            except dns.exception.Timeout:
                continue
        stop_dnsmasq(proc)  # the port was taken meanwhile, or it hung: try another
    raise SvclabError("dnsmasq would not start on any free loopback port")


def stop_dnsmasq(proc: subprocess.Popen) -> None:
    """End dnsmasq by its PID."""
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=10)


def _free_port() -> int:
    """A port free for UDP and TCP now (found by binding a throw-away server)."""
    probe = LoopbackServer().start()
    port = probe.port
    probe.stop()
    return port


def run(quick: bool = False) -> list[dict]:
    """Measure dnsmasq and svclab (asyncio, and uvloop if installed), one row each.

    The servers take turns for several rounds, so load from other processes on the machine
    falls on all of them; a row gives the median rate and the sum of queries sent and lost.
    """
    for tool in ("dnsperf", DNSMASQ):
        if shutil.which(tool) is None:
            raise SvclabError(f"{tool} is not installed (apt-get install {Path(tool).name})")
    count, seconds, rounds = (50, 1.0, 1) if quick else (500, 4.0, 3)
    names = service_names(count)
    missing = [f"absent-{i}.{NAMESPACE}.svc.{ZONE}" for i in range(count // 10)]
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="svclab-bench-dns-")))
        datafile, hosts = tmp / "queries.txt", tmp / "hosts"
        datafile.write_text("".join(f"{n} A\n" for n in names + missing))
        hosts.write_text("".join(f"{cluster_ip(i)} {n}\n" for i, n in enumerate(names)))
        records = [f"--addn-hosts={hosts}", f"--local=/{ZONE}/", "--local-ttl=5"]
        proc, port = start_dnsmasq([*records, "--cache-size=10000"], names[0])
        stack.callback(stop_dnsmasq, proc)
        ports = {"dnsmasq": port}
        for use_uvloop in [False] + ([True] if has_uvloop() else []):
            srv = stack.enter_context(DnsServer(bench_state(count), use_uvloop=use_uvloop))
            ports["svclab (uvloop)" if use_uvloop else "svclab (asyncio)"] = srv.port
        runs: dict[str, list[dict]] = {name: [] for name in ports}
        for _ in range(rounds):
            for name, server_port in ports.items():
                runs[name].append(dnsperf(server_port, datafile, seconds))
    base = statistics.median(r["qps"] for r in runs["dnsmasq"])
    rows = []
    for name, results in runs.items():
        qps = statistics.median(r["qps"] for r in results)
        rows.append(
            {
                "server": name,
                "qps": round(qps),
                "ratio": round(qps / base, 3),
                "sent": sum(r["sent"] for r in results),
                "lost": sum(r["lost"] for r in results),
                "rounds": " ".join(str(r["qps"]) for r in results),
            }
        )
    return rows


def main() -> int:
    """Print the table (``python -m svclab.bench.dns [--quick]``)."""
    print(format_table(run(quick="--quick" in sys.argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
