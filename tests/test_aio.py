"""The one asyncio-loop-on-a-thread helper and its one uvloop rule."""

import sys

import pytest

from svclab.aio import LoopThread, new_loop
from svclab.dns.server import DnsServer
from svclab.errors import SvclabError
from svclab.proxy.userspace import UserspaceProxy


@pytest.fixture
def no_uvloop(monkeypatch):
    """Make ``import uvloop`` fail as it does where svclab[fast] is not installed."""
    monkeypatch.setitem(sys.modules, "uvloop", None)


def test_uvloop_asked_for_and_missing_is_a_clear_error(no_uvloop):
    with pytest.raises(SvclabError, match=r"uvloop .*pip install 'svclab\[fast\]'"):
        new_loop(use_uvloop=True)


@pytest.mark.parametrize(
    "start",
    [
        lambda: DnsServer(None, use_uvloop=True).start(),
        lambda: UserspaceProxy([], "127.0.0.1", 0, use_uvloop=True).start_in_thread(),
    ],
    ids=["dns-server", "userspace-proxy"],
)
def test_servers_share_the_uvloop_rule(no_uvloop, start):
    with pytest.raises(SvclabError, match="uvloop was asked for"):
        start()


def test_not_asked_for_is_asyncio_own_loop(no_uvloop):
    with LoopThread("test-aio") as thread:
        assert type(thread.loop).__module__.startswith("asyncio")
        assert thread.call(lambda: thread.loop.is_running())
    assert thread.loop is None


def test_run_after_stop_is_an_error():
    thread = LoopThread("test-aio-stopped").start()
    thread.stop()
    thread.stop()  # idempotent

    async def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(SvclabError, match="test-aio-stopped is not running"):
        thread.run(never())
