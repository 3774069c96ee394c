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
{'sent': 10, 'completed': 9, 'lost': 1, 'qps': 1234.5}
"""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import kubernetes.client as k8s

from svclab.dns.loopback import LoopbackServer
from svclab.dns.server import DnsServer
from svclab.errors import SvclabError
from svclab.state import ClusterState

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
    return ClusterState(services=[
        k8s.V1Service(
            metadata=k8s.V1ObjectMeta(name=f"svc-{i}", namespace=NAMESPACE),
            spec=k8s.V1ServiceSpec(cluster_ip=cluster_ip(i),
                                   ports=[k8s.V1ServicePort(name="http", port=80)]),
        )
        for i in range(count)
    ])


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
        "qps": number("Queries per second"),
    }


def dnsperf(port: int, datafile: Path, seconds: float) -> dict:
    """Run dnsperf against 127.0.0.1:`port` for `seconds` and parse its report."""
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(datafile),
           "-l", str(seconds), "-c", "1", "-T", "1", "-q", "100", "-t", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise SvclabError(f"dnsperf failed ({done.returncode}): {done.stderr.strip()}")
    return parse_dnsperf(done.stdout)


def start_dnsmasq(hosts_file: Path, ttl: int) -> tuple[subprocess.Popen, int]:
    """dnsmasq serving `hosts_file` on a free loopback port; its process and port."""
    for _ in range(10):
        port = _free_port()
        proc = subprocess.Popen(
            ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--pid-file=", "--no-resolv",
             "--no-hosts", f"--addn-hosts={hosts_file}", f"--local=/{ZONE}/",
             f"--local-ttl={ttl}", "--listen-address=127.0.0.1", "--bind-interfaces",
             f"--port={port}", "--cache-size=10000", "--user=root"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        time.sleep(0.3)
        if proc.poll() is None:
            return proc, port
        proc.wait()
    raise SvclabError("dnsmasq would not start on any free loopback port")


def _free_port() -> int:
    """A port free for UDP and TCP now (found by binding a throw-away server)."""
    probe = LoopbackServer().start()
    port = probe.port
    probe.stop()
    return port


def run(quick: bool = False) -> list[dict]:
    """Measure svclab (asyncio, and uvloop if installed) and dnsmasq; one row each."""
    for tool in ("dnsperf", "dnsmasq"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SvclabError(f"{tool} is not installed (apt-get install {tool})")
    count, seconds = (50, 2.0) if quick else (500, 8.0)
    names = service_names(count)
    missing = [f"absent-{i}.{NAMESPACE}.svc.{ZONE}" for i in range(count // 10)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="svclab-bench-dns-") as tmp:
        datafile, hosts = Path(tmp) / "queries.txt", Path(tmp) / "hosts"
        datafile.write_text("".join(f"{n} A\n" for n in names + missing))
        hosts.write_text("".join(f"{cluster_ip(i)} {n}\n" for i, n in enumerate(names)))
        proc, port = start_dnsmasq(hosts, ttl=5)
        try:
            base = dnsperf(port, datafile, seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        rows.append({"server": "dnsmasq", **base, "ratio": 1.0})
        loops = [False] + ([True] if _has_uvloop() else [])
        for use_uvloop in loops:
            with DnsServer(bench_state(count), use_uvloop=use_uvloop) as srv:
                result = dnsperf(srv.port, datafile, seconds)
            name = "svclab (uvloop)" if use_uvloop else "svclab (asyncio)"
            rows.append({"server": name, **result, "ratio": round(result["qps"] / base["qps"], 3)})
    return rows


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    """Print the table (``python -m svclab.bench.dns [--quick]``)."""
    from svclab.bench.__main__ import format_table

    print(format_table(run(quick="--quick" in sys.argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
