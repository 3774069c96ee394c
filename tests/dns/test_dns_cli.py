"""``svclab dns serve`` in a subprocess (stopped by SIGTERM or SIGINT) and ``svclab dns query``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import dns.message
import dns.query
import pytest
from dns_golden import DATA, cluster_file

from svclab.cli import main
from svclab.dns.server import DnsServer
from svclab.dns.serving import LoopbackServer

SVCLAB = [sys.executable, "-m", "svclab"]
MANIFEST = str(DATA / "coredns-handler.yaml")


def svclab(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (only ``serve`` needs its own, for signals)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def serving():
    """A ``svclab dns serve`` process on an ephemeral port, and that port."""
    proc = subprocess.Popen(
        [*SVCLAB, "dns", "serve", "-f", MANIFEST, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        match = re.search(r"on 127\.0\.0\.1:(\d+) udp\+tcp", first)
        assert match, first + proc.stderr.read()
        yield proc, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_then_exits_cleanly_on_a_signal(serving, sig):
    proc, port = serving
    reply = dns.query.udp(
        dns.message.make_query("svc1.testns.svc.cluster.local.", "A"),
        "127.0.0.1",
        port=port,
        timeout=3,
    )
    assert [rd.address for rd in reply.answer[0]] == ["10.0.0.1"]
    reply = dns.query.tcp(
        dns.message.make_query("svc6.testns.svc.cluster.local.", "AAAA"),
        "127.0.0.1",
        port=port,
        timeout=3,
    )
    assert [rd.address for rd in reply.answer[0]] == ["1234:abcd::1"]
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 128 + sig, err  # as a shell reports a command ended by a signal
    assert "stopped: 2 queries (tcp 1, udp 1); NOERROR 2;" in out
    assert err == ""


def test_query_prints_a_dig_like_answer(capsys):
    with DnsServer(cluster_file("coredns-handler.yaml")) as srv:
        code, out, _ = svclab(
            capsys,
            "dns",
            "query",
            "_http._tcp.hdls1.testns.svc.cluster.local",
            "SRV",
            "--server",
            f"127.0.0.1:{srv.port}",
        )
        assert code == 0
        assert ";; ->>HEADER<<- opcode: QUERY, status: NOERROR" in out
        assert "ANSWER: 5, AUTHORITY: 0, ADDITIONAL: 6" in out
        assert "0 16 80 dup-name.hdls1.testns.svc.cluster.local." in out
        _, tcp, _ = svclab(
            capsys,
            "dns",
            "query",
            "nope.testns.svc.cluster.local",
            "--server",
            f"127.0.0.1:{srv.port}",
            "--tcp",
        )
        assert "status: NXDOMAIN" in tcp
        assert "(TCP)" in tcp
        assert srv.counters().by_transport == {"udp": 1, "tcp": 1}


def test_query_without_a_server_says_so_in_one_line(capsys):
    probe = LoopbackServer().start()
    port = probe.port
    probe.stop()  # nothing listens there now
    code, _, err = svclab(
        capsys,
        "dns",
        "query",
        "x.cluster.local",
        "--server",
        f"127.0.0.1:{port}",
        "--timeout",
        "0.3",
    )
    assert code == 9
    assert err.count("\n") == 1 and "no reply" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dns", "serve", "-f", MANIFEST, "--ttl", "x"], "invalid int value: 'x'"),
        (["dns", "serve", "-f", MANIFEST, "--ttl", "9999"], "--ttl: must be 0-3600"),
        (["dns", "serve", "-f", MANIFEST, "--listen", "localhost"], "--listen: expected HOST:PORT"),
        (
            ["dns", "serve", "-f", MANIFEST, "--listen", "example.com:53"],
            "--listen: not an IP address",
        ),
        (["dns", "serve", "-f", MANIFEST, "--zone", "a..b"], "--zone: not a valid DNS name"),
        (["dns", "serve", "-f", "/nonexistent.yaml"], "nonexistent.yaml"),
        (["dns", "serve", "--listen", "127.0.0.1:0"], "-f/--filename"),
        (["dns", "query", "x", "--server", "127.0.0.1:x"], "--server: expected HOST:PORT"),
        (["dns", "query", "x", "NOPE", "--server", "127.0.0.1:53"], "TYPE: unknown record type"),
        (["dns", "query", "a..b", "--server", "127.0.0.1:53"], "NAME: not a valid DNS name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, _, err = svclab(capsys, *args)
    assert code == 2
    assert err.count("\n") == 1, err
    assert message in err
