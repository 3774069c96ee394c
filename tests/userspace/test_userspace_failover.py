"""Failover under concurrency (issue 18): one refusing backend and one healthy one.

Each dial used to ask the shared round-robin for its next backend, so with many clients at
once all four attempts of one connection could land on the refusing backend ((1/2)^4, about
6 % of clients dropped). A retry now never reuses a backend that already failed for this
connection while an untried one is left.
"""

from __future__ import annotations

import asyncio
import resource
import socket

from svclab.proxy.userspace import UserspaceProxy

CLIENTS = 1000
DIALS = (5.0,) * 4
"""Four attempts, as by default, each with time enough on a loaded machine: a refused dial
fails at once anyway, and this test is about which backend a retry picks, not timeouts."""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _echo_backend() -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readline()).upper())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0, backlog=CLIENTS * 2)


async def _ask(address: tuple[str, int]) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    writer.write(b"hello\n")
    try:
        return await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()


def test_every_concurrent_client_is_answered_with_one_backend_refusing() -> None:
    # Clients, proxy and backend share this process: about 4 descriptors per client.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 4 * CLIENTS + 256
    if soft < wanted and (hard == resource.RLIM_INFINITY or hard >= wanted):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    dead = ("127.0.0.1", _closed_port())

    async def run() -> tuple[list[bytes], UserspaceProxy]:
        backend = await _echo_backend()
        healthy = backend.sockets[0].getsockname()[:2]
        try:
            async with UserspaceProxy(
                [dead, healthy], vip="127.0.0.2", dial_timeouts=DIALS
            ) as proxy:
                replies = await asyncio.gather(*(_ask(proxy.address) for _ in range(CLIENTS)))
            return list(replies), proxy
        finally:
            backend.close()

    replies, proxy = asyncio.run(run())
    assert replies.count(b"HELLO\n") == CLIENTS
    assert proxy.failed == 0
    assert proxy.stats[dead].connections == 0
