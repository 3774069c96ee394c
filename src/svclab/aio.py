"""One asyncio event loop on a background thread: what svclab's real servers and proxies run on.

A script, a test or a notebook (whose own loop is already running) cannot simply
``asyncio.run`` a server, so the DNS servers, the userspace proxy and the experiments' HTTP Pods
each run their coroutines on a `LoopThread`. One uvloop rule for all of them: asked for
(``use_uvloop=True``) and not installed is a `SvclabError` naming the extra to install; not
asked for is asyncio's own loop.

>>> async def double(n: int) -> int:
...     return 2 * n
>>> with LoopThread("example") as loop:
...     loop.run(double(21)), loop.call(lambda: "on the loop's thread")
(42, "on the loop's thread")
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Self, TypeVar

from svclab.errors import SvclabError

T = TypeVar("T")

TIMEOUT = 10.0
"""Seconds to wait for the loop's thread to run something or to stop."""


def has_uvloop() -> bool:
    """Whether uvloop (``svclab[fast]``) is installed."""
    return importlib.util.find_spec("uvloop") is not None


def new_loop(use_uvloop: bool = False) -> asyncio.AbstractEventLoop:
    """A fresh event loop: uvloop's if asked for (an error if it is missing), else asyncio's."""
    if not use_uvloop:
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError:
        raise SvclabError(
            "uvloop was asked for but is not installed (pip install 'svclab[fast]')"
        ) from None
    return uvloop.new_event_loop()


class LoopThread:
    """An event loop running on a daemon thread from `start` until `stop`."""

    def __init__(self, name: str, *, use_uvloop: bool = False) -> None:
        self.name = name
        self.use_uvloop = use_uvloop
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        """Start the loop's thread (a missing uvloop raises here, in the caller's thread)."""
        if self._thread is not None:
            raise SvclabError(f"{self.name} is already running")
        self.loop = new_loop(self.use_uvloop)
        self._thread = threading.Thread(
            target=self._run_forever, args=(self.loop,), daemon=True, name=self.name
        )
        self._thread.start()
        return self

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = TIMEOUT) -> T:
        """Run `coroutine` on the loop and return its result (or raise its exception)."""
        if self.loop is None:
            coroutine.close()
            raise SvclabError(f"{self.name} is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = TIMEOUT) -> T:
        """Run `fn` on the loop's thread, so it never races the loop's callbacks; directly when
        called from that thread or when the loop is not running."""
        loop = self.loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._thread:
            return fn()

        async def run() -> T:
            return fn()

        return self.run(run(), timeout)

    def stop(self, timeout: float = TIMEOUT) -> None:
        """Stop the loop and join its thread, which closes the loop (idempotent)."""
        loop, thread = self.loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # already closed: its thread has ended
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        self._thread = self.loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @staticmethod
    def _run_forever(loop: asyncio.AbstractEventLoop) -> None:
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
