"""The discrete-event core: the cluster's virtual clock, its timers and one seeded generator.

Requests are not events here. Between two events nothing in the world changes, so the
engine hands each such quiet interval to ``on_interval`` hooks, which settle all the
requests in it at once (see `svclab.sim.traffic`). That is what makes a million simulated
requests cost seconds, not minutes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from svclab.cluster.clock import Action, VirtualClock

Interval = Callable[[float, float], None]
"""A hook told about every quiet interval ``[start, end)`` before time moves past it."""


class Engine:
    """Run actions in time order on a virtual clock; deterministic for a seed.

    >>> engine = Engine(seed=1)
    >>> seen = []
    >>> engine.at(2.0, lambda: seen.append(("b", engine.now)))
    >>> engine.at(1.0, lambda: seen.append(("a", engine.now)))
    >>> engine.on_interval(lambda start, end: seen.append((start, end)))
    >>> engine.run(until=3.0)
    >>> seen
    [(0.0, 1.0), ('a', 1.0), (1.0, 2.0), ('b', 2.0), (2.0, 3.0)]
    >>> engine.now
    3.0
    """

    def __init__(self, seed: int = 0) -> None:
        self.clock = VirtualClock()
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._hooks: list[Interval] = []

    @property
    def now(self) -> float:
        """Virtual seconds since the start."""
        return self.clock.now

    def at(self, time: float, action: Action) -> None:
        """Schedule `action` at virtual `time` (not before now)."""
        self.clock.at(time, action)

    def after(self, delay: float, action: Action) -> None:
        """Schedule `action` `delay` seconds from now."""
        self.clock.after(delay, action)

    def every(
        self, period: float, action: Action, start: float = 0.0, until: float = math.inf
    ) -> None:
        """Schedule `action` at ``start``, ``start + period``, … while before `until`.

        >>> engine, ticks = Engine(), []
        >>> engine.every(0.5, lambda: ticks.append(engine.now), until=2.0)
        >>> engine.run(until=10.0)
        >>> ticks
        [0.0, 0.5, 1.0, 1.5]
        """
        if period <= 0:
            raise ValueError("period must be positive")

        def tick(k: int = 0) -> None:
            action()
            upcoming = start + (k + 1) * period  # multiply, so that many ticks never drift
            if upcoming < until:
                self.at(upcoming, lambda: tick(k + 1))

        if start < until:
            self.at(start, tick)

    def on_interval(self, hook: Interval) -> None:
        """Call ``hook(start, end)`` for every quiet interval the clock crosses."""
        self._hooks.append(hook)

    def spawn_rng(self) -> np.random.Generator:
        """An independent generator derived from this engine's seed (one per component)."""
        return np.random.default_rng(self.rng.integers(2**63))

    def run(self, until: float, progress: Callable[[float], None] | None = None) -> None:
        """Run every event up to and including time `until`, then stop the clock there.

        `progress`, if given, receives the fraction of virtual time done after each event.
        """
        begin = self.now
        while (time := self.clock.next_due(until)) is not None:
            self._advance(time)
            self.clock.pop()()
            if progress is not None and until > begin:
                progress((self.now - begin) / (until - begin))
        self._advance(until)

    def _advance(self, time: float) -> None:
        if time > self.now:
            for hook in self._hooks:
                hook(self.now, time)
            self.clock.now = time
