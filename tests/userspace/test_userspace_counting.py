"""A backend connection is counted when it is made, before any byte can flow.

Issue 17: the ``UserspaceProxy`` doctest failed under load. It reads ``connections`` after the
reply came back, but the reply can flow as soon as ``connection_made`` pairs the two sides,
while the dialing coroutine that counted the connection had not yet resumed.
"""

from __future__ import annotations

import asyncio

from svclab.proxy.userspace import BackendStats, _BackendSide, _ClientSide


class Transport(asyncio.Transport):
    """Just enough of a transport to pair the two sides by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def resume_reading(self) -> None:
        pass


def test_the_connection_is_counted_by_the_time_data_can_flow() -> None:
    client = _ClientSide(proxy=None)  # type: ignore[arg-type]
    client.transport = Transport()
    client.held.append(b"hello\n")
    stats = BackendStats()
    backend = _BackendSide(client, stats)
    backend.connection_made(Transport())
    assert stats.connections == 1
    assert stats.bytes_sent == len(b"hello\n")
