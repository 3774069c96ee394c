"""Cache timelines for the notebooks: clients polling a live DNS server while the cluster changes.

A `Scene` ties a `Cluster` to the `DnsServer` that serves it and gives clients a clock of the
cluster's virtual seconds; `Scene.poll` shows, second by second, what each client answers
next to what the server answers (a ``dig`` that caches nothing), keeping only the rows where
something changed.

>>> from svclab.cluster import Cluster
>>> from svclab.dns.resolver import CachingResolver
>>> from svclab.dns.server import DnsServer
>>> from svclab.report.tables import format_table
>>> cluster = Cluster(seed=0)
>>> web = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
...        "spec": {"clusterIP": "10.96.0.20", "ports": [{"port": 80}]}}
>>> with DnsServer(cluster.state()) as server:
...     scene = Scene(cluster, server)
...     clients = {"rfc-2308": CachingResolver(server.address, clock=scene.clock)}
...     cluster.schedule(2, lambda: cluster.apply(web))
...     rows = scene.poll("web.default.svc.cluster.local", clients, seconds=6)
>>> print(format_table(rows))
t (s)  dig         rfc-2308
0      NXDOMAIN    NXDOMAIN
2      10.96.0.20  NXDOMAIN
5      10.96.0.20  10.96.0.20
6      10.96.0.20  10.96.0.20
>>> changed_at(rows), lag(rows, "rfc-2308")
(2, 3)
>>> print(format_table(queries(clients)))
client    t (s)  answer
rfc-2308  0      NXDOMAIN
rfc-2308  5      10.96.0.20
"""

from __future__ import annotations

from collections.abc import Mapping

from svclab.cluster import Cluster
from svclab.dns.resolver import CachingResolver, StartupResolver
from svclab.dns.server import DnsServer

Client = CachingResolver | StartupResolver

TIME = "t (s)"
REFERENCE = "dig"
"""The column holding the server's own answer, asked afresh every time."""


class Scene:
    """A cluster and the DNS server serving it, on the cluster's virtual time.

    `clock` reads the seconds since the scene began: give it to clients as their clock.
    """

    def __init__(self, cluster: Cluster, server: DnsServer) -> None:
        self.cluster, self.server = cluster, server
        self.start = cluster.now
        self.dig = CachingResolver(server.address, cache_ttl=0, negative_ttl=0, clock=self.clock)

    def clock(self) -> float:
        """Virtual seconds since the scene began."""
        return self.cluster.now - self.start

    def step(self, seconds: float) -> None:
        """Move the cluster on, then serve its new records (CoreDNS watches the API likewise)."""
        self.cluster.advance(seconds)
        self.server.update(self.cluster.state())

    def poll(
        self, name: str, clients: Mapping[str, Client], *, seconds: float, every: float = 1
    ) -> list[dict]:
        """Ask ``dig`` and every client for `name` every `every` seconds, `seconds` long.

        Rows hold the time and each one's answer (addresses, or the rcode when there are
        none); only the first, the last and rows where an answer changed are kept.
        """
        rows: list[dict] = []
        last = round(seconds / every)
        for i in range(last + 1):
            if i:
                self.step(every)
            row = {TIME: _seconds(self.clock()), REFERENCE: _answer(self.dig, name)}
            row |= {label: _answer(client, name) for label, client in clients.items()}
            if not rows or i == last or _answers(row) != _answers(rows[-1]):
                rows.append(row)
        return rows


def _answer(client: Client, name: str) -> str:
    """What `client` returns for `name`: its addresses, or the rcode when it has none."""
    if isinstance(client, StartupResolver):
        return " ".join(client.resolve(name))
    result = client.resolve(name)
    return " ".join(result.addresses) or result.rcode


def changed_at(rows: list[dict], column: str = REFERENCE) -> float:
    """The first time `column` answers differently from its first row.

    >>> changed_at([{"t (s)": 0, "dig": "a"}, {"t (s)": 4, "dig": "b"}])
    4
    >>> changed_at([{"t (s)": 0, "dig": "a"}])
    Traceback (most recent call last):
    ...
    LookupError: 'dig' never changes
    """
    for row in rows:
        if row[column] != rows[0][column]:
            return row[TIME]
    raise LookupError(f"{column!r} never changes")


def lag(rows: list[dict], column: str, reference: str = REFERENCE) -> float | None:
    """Seconds from the reference's first change until `column` agrees with it again;
    None when it never does.

    >>> rows = [{"t (s)": 0, "dig": "a", "x": "a"}, {"t (s)": 4, "dig": "b", "x": "a"},
    ...         {"t (s)": 9, "dig": "b", "x": "b"}]
    >>> lag(rows, "x"), lag(rows[:2], "x")
    (5, None)
    """
    since = changed_at(rows, reference)
    caught = (r[TIME] for r in rows if r[TIME] >= since and r[column] == r[reference])
    when = next(caught, None)
    return None if when is None else when - since


def queries(clients: Mapping[str, Client]) -> list[dict]:
    """Every query each client sent to the server: when, and what came back."""
    return [
        {"client": label, TIME: _seconds(e.time), "answer": " ".join(e.addresses) or e.rcode}
        for label, client in clients.items()
        for e in client.log
        if e.event == "query"
    ]


def _answers(row: dict) -> dict:
    return {k: v for k, v in row.items() if k != TIME}


def _seconds(t: float) -> float:
    """Whole seconds as int, so tables read ``5`` rather than ``5.0``."""
    return int(t) if float(t).is_integer() else round(t, 3)
