"""One virtual clock with its timers, under both the cluster and the simulator (`svclab.sim`).

Nothing happens between calls. `advance` moves time and runs what falls due; an owner that
must act between instants (the cluster's controllers, the simulator's interval hooks) asks
for the next timer due (`next_due`), moves `now` there and runs it (`pop`). Timers due at the
same instant run in the order they were set, never by comparing the actions. The clock is
also a plain ``() -> float`` for the DNS resolvers' caches.

>>> clock, seen = VirtualClock(), []
>>> clock.after(2.0, lambda: seen.append("b"))
>>> clock.at(1.0, lambda: seen.append("a"))
>>> while (when := clock.next_due(until=5.0)) is not None:
...     clock.now = when
...     clock.pop()()
>>> seen, clock.now, clock.timestamp().isoformat()
(['a', 'b'], 2.0, '2025-01-01T00:00:02+00:00')
>>> clock.advance(0.5); clock()
2.5
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import math
from collections.abc import Callable

EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
"""The wall-clock time of virtual second 0 (creationTimestamps, conditions)."""

Action = Callable[[], None]
"""A timer's effect: a function of no arguments run at the timer's time."""


class VirtualClock:
    """Virtual seconds since `EPOCH` and the timers set on them."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)
        self._timers: list[tuple[float, int, Action]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward `seconds`, running every timer that falls due, in order."""
        if seconds < 0:
            raise ValueError("time does not run backwards")
        end = self.now + seconds
        while (when := self.next_due(end)) is not None:
            self.now = when
            self.pop()()
        self.now = end

    def at(self, time: float, action: Action) -> None:
        """Run `action` at virtual `time` (not before now)."""
        if time < self.now or math.isnan(time):
            raise ValueError(f"cannot schedule at {time} before now ({self.now})")
        heapq.heappush(self._timers, (time, next(self._order), action))

    def after(self, delay: float, action: Action) -> None:
        """Run `action` `delay` seconds from now."""
        self.at(self.now + delay, action)

    def next_due(self, until: float = math.inf) -> float | None:
        """The time of the next timer if it falls at or before `until`, else None."""
        if self._timers and self._timers[0][0] <= until:
            return self._timers[0][0]
        return None

    def pop(self) -> Action:
        """Remove the next timer and return its action (the caller runs it)."""
        return heapq.heappop(self._timers)[2]

    def timestamp(self, seconds: float | None = None) -> dt.datetime:
        """The wall-clock time of a virtual second (now by default)."""
        return EPOCH + dt.timedelta(seconds=self.now if seconds is None else seconds)

    def seconds(self, when: dt.datetime) -> float:
        """The virtual second of a timestamp."""
        return (when - EPOCH).total_seconds()
