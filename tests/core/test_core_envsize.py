"""The environment kubelet's Service variables build, measured against the real kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from svclab.cluster.envsize import (
    MAX_ARG_STRLEN,
    Growth,
    env_bytes,
    exec_limit,
    exec_threshold,
    execs,
    namespace_services,
    shell_start_seconds,
    stack_limit,
)


def test_services_are_named_and_addressed_in_creation_order() -> None:
    services = namespace_services(300)
    names = [s.metadata.name for s in services]
    assert names == sorted(names)  # kubelet's name order keeps the first N as a prefix
    assert len({s.spec.cluster_ip for s in services}) == 300


def test_each_service_adds_its_block_and_links_false_keeps_only_kubernetes() -> None:
    growth = Growth(20)
    base = growth.environment(0)
    assert {name for name, _ in base} >= {"KUBERNETES_SERVICE_HOST", "KUBERNETES_PORT"}
    assert len(growth.environment(20)) - len(base) == 20 * 8
    assert growth.environment(20, links=False) == base
    assert not any(name.startswith("SVC_") for name, _ in growth.environment(20, links=False))
    with pytest.raises(ValueError, match="between 0 and 20"):
        growth.environment(21)


def test_env_bytes_is_what_the_new_process_receives() -> None:
    env = Growth(50).environment(50)
    received = subprocess.run(
        ["/usr/bin/env", "-0"], env=dict(env), capture_output=True, check=True
    )
    assert len(received.stdout) == env_bytes(env)


def test_exec_limit_follows_the_stack_limit() -> None:
    assert exec_limit(8 << 20) == 2 << 20
    assert exec_limit(64 << 20) == 6 << 20  # at most 3/4 of _STK_LIM
    assert exec_limit(1 << 16) == 32 * os.sysconf("SC_PAGE_SIZE")  # at least ARG_MAX
    stack = stack_limit()
    if stack is not None and (512 << 10) <= stack <= (24 << 20):
        assert exec_limit() == os.sysconf("SC_ARG_MAX")  # glibc reports the same quarter


def test_one_string_may_be_max_arg_strlen_long_with_its_nul_and_no_longer() -> None:
    assert execs([("A", "x" * (MAX_ARG_STRLEN - 3))])  # "A=" + value + NUL
    assert not execs([("A", "x" * (MAX_ARG_STRLEN - 2))])


def test_other_exec_failures_are_raised() -> None:
    with pytest.raises(FileNotFoundError):
        execs([], argv=["/nonexistent/program"])


def test_threshold_is_where_the_kernel_formula_says() -> None:
    growth = Growth(10_000)
    found = exec_threshold(growth)
    assert found is not None, "10,000 Services fit this machine's stack limit"
    assert found.last_ok_bytes <= exec_limit() < found.exec_bytes
    assert execs(growth.environment(found.services - 1))
    assert not execs(growth.environment(found.services))
    assert found.tries <= (10_000).bit_length() + 1
    assert exec_threshold(growth, links=False) is None


def test_threshold_moves_with_the_stack_rlimit() -> None:
    script = (
        "import json, resource\n"
        "from svclab.cluster.envsize import Growth, exec_threshold\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_STACK)\n"
        "resource.setrlimit(resource.RLIMIT_STACK, (1 << 20, hard))\n"
        "t = exec_threshold(Growth(2000))\n"
        "print(json.dumps([t.services, t.limit]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    services, limit = json.loads(out.stdout)
    assert limit == 256 << 10  # a quarter of 1 MiB
    default = exec_threshold(Growth(10_000))
    assert default is None or services < default.services


def test_a_shell_starts_slower_in_a_larger_environment() -> None:
    growth = Growth(3000)
    small = shell_start_seconds(growth.environment(10), repeats=3)
    large = shell_start_seconds(growth.environment(3000), repeats=3)
    assert 0 <= small < large
