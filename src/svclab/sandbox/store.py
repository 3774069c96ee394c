"""The sandbox's view of a `svclab.cluster.Cluster`: one lock, JSON-shaped objects and a watch history.

Every change the cluster makes (API writes, controllers, the kubelet on virtual time) reaches
`Store` through `Cluster.watch` and is kept, in resourceVersion order, in a bounded history,
like the API server's watch cache. A watch that starts from a version older than the history
gets 410 Expired, as upstream's ``watch_cache_history.go`` answers.

>>> from svclab.cluster import Cluster
>>> store = Store(Cluster(seed=1), history=3)
>>> rv = store.resource_version
>>> _ = store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
>>> [(e.type, e.kind, e.obj["metadata"]["name"]) for e in store.events_since(rv)]
[('ADDED', 'Namespace', 'shop')]
>>> for name in "abcd":
...     _ = store.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
>>> store.events_since(rv)
Traceback (most recent call last):
...
svclab.sandbox.status.ApiError: too old resource version: 3 (5)
"""

from __future__ import annotations

import collections
import datetime
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from svclab.cluster import Cluster
from svclab.sandbox.status import expired

Obj = dict[str, Any]
T = TypeVar("T")

KINDS = ("Namespace", "Node", "Service", "Pod", "EndpointSlice", "Deployment")

DEFAULT_HISTORY = 1000
"""Events kept for watches to resume from (the API server keeps a time window of them)."""


def to_api_dict(obj: Any) -> Obj:
    """A stored client object as the API serves it: camelCase keys, unset fields left out and
    times in whole seconds with ``Z`` (``metav1.Time``).

    >>> import datetime as dt, kubernetes.client as k8s
    >>> when = dt.datetime(2025, 1, 1, 0, 0, 3, 500000, tzinfo=dt.timezone.utc)
    >>> to_api_dict(k8s.V1ObjectMeta(name="a", creation_timestamp=when))
    {'creationTimestamp': '2025-01-01T00:00:03Z', 'name': 'a'}
    """
    return _jsonable(obj.model_dump(by_alias=True, exclude_none=True))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def object_key(obj: Obj) -> tuple[str, str]:
    """``(namespace, name)``, namespace empty for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    return meta.get("namespace") or "", meta.get("name") or ""


@dataclass(frozen=True)
class WatchEvent:
    """One change: its place in the history (`seq`), its resourceVersion, ADDED/MODIFIED/DELETED,
    the kind, the object and the object as it was before (None when added), so selector
    transitions can be told apart."""

    seq: int
    rv: int
    type: str
    kind: str
    obj: Obj
    previous: Obj | None


class Store:
    """A cluster behind a lock, with the change history that watches read.

    Live watches follow the history by position (`WatchEvent.seq`); a resourceVersion is only
    turned into a position when a watch starts. Positions stay exact even where the cluster
    reports a DELETED event at the version of an earlier write (see requests-sandbox.md).
    """

    def __init__(self, cluster: Cluster, *, history: int = DEFAULT_HISTORY) -> None:
        self.cluster = cluster
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._events: collections.deque[WatchEvent] = collections.deque(maxlen=max(history, 1))
        self._latest: dict[tuple[str, str, str], Obj] = {}
        self._seq = 0
        with self.lock:
            for kind in KINDS:
                for obj in map(to_api_dict, cluster.list(kind)):
                    self._latest[(kind, *object_key(obj))] = obj
            versions = [
                int(o["metadata"].get("resourceVersion") or 0) for o in self._latest.values()
            ]
            self._last_rv = self._base_rv = max(versions, default=0)
            cluster.watch(self._record)

    def _record(self, event_type: str, obj: Any) -> None:
        # Called by the cluster; the store's own calls already hold the (re-entrant) lock.
        with self.lock:
            self._append(event_type, to_api_dict(obj))

    def _append(self, event_type: str, data: Obj) -> None:
        kind = data["kind"]
        key = (kind, *object_key(data))
        # Never let versions go backwards, whatever the cluster reports for a DELETED event.
        rv = max(int(data["metadata"].get("resourceVersion") or 0), self._last_rv)
        data["metadata"]["resourceVersion"] = str(rv)
        previous = self._latest.get(key)
        if event_type == "DELETED":
            self._latest.pop(key, None)
        else:
            self._latest[key] = data
        if len(self._events) == self._events.maxlen:
            self._base_rv = self._events[0].rv
        self._seq += 1
        self._events.append(WatchEvent(self._seq, rv, event_type, kind, data, previous))
        self._last_rv = rv
        self.changed.notify_all()

    @property
    def resource_version(self) -> int:
        """The newest resourceVersion the store has seen."""
        with self.lock:
            return self._last_rv

    def position(self, rv: int | None = None) -> int:
        """Where a watch from `rv` (default: now) starts; 410 Expired when `rv` is older than
        the history, as the watch cache answers."""
        with self.lock:
            if rv is None:
                return self._seq
            if rv < self._base_rv:
                raise expired(f"too old resource version: {rv} ({self._base_rv})")
            seen = [e.seq for e in self._events if e.rv <= rv]
            return seen[-1] if seen else (self._events[0].seq - 1 if self._events else self._seq)

    def events_after(self, seq: int) -> list[WatchEvent]:
        """Events after position `seq`; 410 Expired when the history no longer holds them all
        (a watcher that fell that far behind is cut off)."""
        with self.lock:
            if self._events and seq < self._events[0].seq - 1:
                raise expired(
                    f"too old resource version: {self._events[0].rv - 1} ({self._base_rv})"
                )
            return [e for e in self._events if e.seq > seq]

    def events_since(self, rv: int) -> list[WatchEvent]:
        """Events newer than resourceVersion `rv`."""
        with self.lock:
            return self.events_after(self.position(rv))

    def wait(self, after_seq: int, timeout: float, stop: Callable[[], bool]) -> None:
        """Block until an event after position `after_seq`, `stop()` or `timeout` seconds."""
        with self.lock:
            self.changed.wait_for(lambda: self._seq > after_seq or stop(), timeout=timeout)

    def wake(self) -> None:
        """Wake every waiting watch (used when the server stops)."""
        with self.lock:
            self.changed.notify_all()

    def locked(self, action: Callable[[], T]) -> T:
        """Run `action` holding the lock (a consistent read or a read-modify-write)."""
        with self.lock:
            return action()

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """The object as served, or None."""
        with self.lock:
            obj = self.cluster.get(kind, namespace or None, name)
            return None if obj is None else to_api_dict(obj)

    def list(self, kind: str, namespace: str | None) -> tuple[list[Obj], int]:
        """Objects of a kind (one namespace or all) in key order, and the version they are at."""
        with self.lock:
            return [to_api_dict(o) for o in self.cluster.list(kind, namespace)], self._last_rv

    def apply(self, obj: Obj, source: str = "<api>") -> Obj:
        """Create or update through the cluster (defaulting, validation, controllers)."""
        with self.lock:
            return to_api_dict(self.cluster.apply(obj, source))

    def delete(self, kind: str, namespace: str, name: str) -> Obj:
        """Delete through the cluster; returns the object as it is now (a Pod terminating for
        its grace period) or as it was last stored."""
        with self.lock:
            before = self.cluster.get(kind, namespace or None, name)
            self.cluster.delete(kind, namespace or None, name)
            after = self.cluster.get(kind, namespace or None, name)
            return to_api_dict(after if after is not None else before)

    def now(self) -> float:
        """The cluster's virtual wall-clock time, in seconds since the Unix epoch."""
        with self.lock:
            return self.cluster.timestamp().timestamp()

    def advance(self, seconds: float) -> None:
        """Move the cluster's virtual clock (controllers and kubelets act on it)."""
        with self.lock:
            self.cluster.advance(seconds)
