"""Pod lifecycles as data: when each Pod became ready, started terminating and was gone.

The simulator needs only these instants per Pod; where they come from (the cluster's
Deployment controller, or a hand-written list in a test) does not matter to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PodSpan:
    """One Pod's life as the Service sees it.

    ``ready``: the Pod answers and its endpoint is ready. ``terminating``: deletion began and
    the endpoint left the ready set. ``gone``: the process exited; its IP no longer answers.
    """

    name: str
    ip: str
    node: str = "node-1"
    ready: float = 0.0
    terminating: float = math.inf
    gone: float = math.inf


@dataclass(frozen=True)
class Timeline:
    """The Pods behind one Service over a run, and when the change (a rollout) began.

    >>> old = PodSpan("a", "10.0.0.1", terminating=5.0, gone=6.0)
    >>> tl = Timeline((old, PodSpan("b", "10.0.0.2", ready=4.0)))
    >>> tl.ready_at(4.5).tolist(), tl.ready_at(5).tolist(), tl.serving_at(5.5).tolist()
    ([0, 1], [1], [True, True])
    >>> tl.change_times()
    [0.0, 4.0, 5.0, 6.0]
    """

    pods: tuple[PodSpan, ...]
    change_start: float = 0.0

    def ready_at(self, t: float) -> np.ndarray:
        """Indexes of Pods whose endpoint is ready at `t` (what an EndpointSlice lists as ready)."""
        return np.array(
            [i for i, p in enumerate(self.pods) if p.ready <= t < p.terminating], dtype=np.intp
        )

    def serving_at(self, t: float) -> np.ndarray:
        """Whether each Pod accepts connections at `t` (a terminating Pod may still drain)."""
        return np.array([p.ready <= t < p.gone for p in self.pods], dtype=bool)

    def change_times(self) -> list[float]:
        """Every finite instant at which some Pod changes state, sorted."""
        times = {t for p in self.pods for t in (p.ready, p.terminating, p.gone) if math.isfinite(t)}
        return sorted(times)

    def endpoints_settled(self) -> float:
        """The last instant the ready set changes (the rollout's end, as endpoints see it)."""
        times = [t for p in self.pods for t in (p.ready, p.terminating) if math.isfinite(t)]
        return max(times, default=0.0)
