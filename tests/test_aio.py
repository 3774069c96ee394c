"""svclab.aio: one loop-on-a-thread and one uvloop rule for every real server."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from svclab.aio import LoopThread, new_loop
from svclab.errors import SvclabError


def test_uvloop_asked_for_and_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    with pytest.raises(SvclabError, match=r"svclab\[fast\]"):
        new_loop(use_uvloop=True)
    with pytest.raises(SvclabError, match="uvloop"):
        LoopThread("x", use_uvloop=True).start()


def test_not_asked_for_is_asyncio() -> None:
    loop = new_loop()
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


def test_work_runs_on_the_loop_thread_and_stop_closes_it() -> None:
    async def where() -> str:
        return threading.current_thread().name

    loop_thread = LoopThread("svclab-test-loop").start()
    loop = loop_thread.loop
    assert loop_thread.run(where()) == "svclab-test-loop"
    assert loop_thread.call(lambda: threading.current_thread().name) == "svclab-test-loop"
    loop_thread.stop()
    loop_thread.stop()  # idempotent
    assert loop is not None and loop.is_closed()
    with pytest.raises(SvclabError, match="not running"):
        loop_thread.run(asyncio.sleep(0))
