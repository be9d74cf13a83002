"""Attacks on connections and transports (issue 16, items 6-8; docs/security.md, "Connections and
transports"): requests the server never answers, connections that never finish, and long-polling
clients that never read. Several attackers at once, each from its own loopback address; what the
server holds is read from /proc of its process (tests/support.py ProcessProbe)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx

from support import ProcessProbe, Recorder, attacker_addresses, eventually, scrape

ENGINE_IO = "/socket.io/"
POLLING = {"EIO": "4", "transport": "polling"}


def from_address(server, source: str, **options) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from the loopback address `source`."""
    return httpx.AsyncClient(base_url=server.url, transport=httpx.AsyncHTTPTransport(local_address=source),
                             **options)


async def polling_session(http: httpx.AsyncClient) -> str:
    """A new Engine.IO long-polling session (no Socket.IO namespace connected); its id."""
    reply = await http.get(ENGINE_IO, params=POLLING)
    assert reply.status_code == 200, reply.text
    assert reply.text.startswith("0{"), reply.text
    return json.loads(reply.text[1:])["sid"]


def close_wait(probe: ProcessProbe) -> int:
    return probe.tcp_states().get("CLOSE_WAIT", 0)


# item 6: a long-polling POST over the size limit used to be left unanswered for good


async def test_oversized_polling_posts_are_answered_and_leak_no_descriptor(server_factory):
    server = server_factory("--max-packet-bytes", "8192", "--max-sdp-bytes", "2048")
    probe = ProcessProbe(server.process.pid)
    fds_before, close_wait_before = probe.open_fds(), close_wait(probe)
    addresses = attacker_addresses(6)
    requests_per_address = 50  # 300 in all
    body = "4" + "x" * 20_000  # one Engine.IO message, over --max-packet-bytes
    statuses: list[int | str] = []

    async def attacker(source: str) -> None:
        # a client that gives up after a few seconds, as the script did: an unanswered
        # request then leaves the server's side of the connection in CLOSE-WAIT
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=0)
        async with from_address(server, source, timeout=5, limits=limits) as http:
            async def one() -> None:
                try:
                    sid = await polling_session(http)
                    reply = await http.post(ENGINE_IO, params={**POLLING, "sid": sid}, content=body,
                                            headers={"Content-Type": "text/plain;charset=UTF-8"})
                    statuses.append(reply.status_code)
                except httpx.TimeoutException:
                    statuses.append("no answer")
            await asyncio.gather(*(one() for _ in range(requests_per_address)))

    await asyncio.gather(*(attacker(source) for source in addresses))
    unanswered = statuses.count("no answer")
    assert unanswered == 0, f"{unanswered} of {len(statuses)} over-size POSTs were never answered"
    assert len(statuses) == 300 and all(400 <= status < 500 for status in statuses), sorted(set(statuses))
    # what the server held for them is gone: no socket left half-closed, descriptors back to the start
    await eventually(lambda: close_wait(probe) <= close_wait_before, timeout=15, what="no CLOSE-WAIT left")
    await eventually(lambda: probe.open_fds() <= fds_before + 10, timeout=15,
                     what=f"descriptors back near {fds_before}")
    # and the server stops within its graceful timeout (5 s; stop() raises if it has to kill it)
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 5, server.log[-2000:]


# item 8: what waits for a long-polling client that never fetches it used to grow without bound


async def polling_member(http: httpx.AsyncClient, room: str) -> str:
    """A Socket.IO member over long-polling, in `room`, that will never fetch again; its session id."""
    sid = await polling_session(http)
    session = {**POLLING, "sid": sid}
    assert (await http.post(ENGINE_IO, params=session, content="40")).status_code == 200
    assert (await http.get(ENGINE_IO, params=session)).text.startswith("40{")  # the namespace is connected
    entered = await http.post(ENGINE_IO, params=session, content=f'421["enter_room",{json.dumps(room)}]')
    assert entered.status_code == 200
    return sid


async def slow_clients_dropped(http: httpx.AsyncClient) -> float:
    samples = scrape((await http.get("/metrics")).text)
    return samples.get(("videochat_slow_clients_dropped_total", frozenset()), 0.0)


async def test_a_polling_client_that_never_fetches_is_dropped_and_memory_stays_bounded(server_factory, room):
    # --max-outgoing-bytes is left at its default (1 MiB)
    server = server_factory("--max-message", "5000", "--message-rate", "2000", "--message-burst", "2000")
    probe = ProcessProbe(server.process.pid)
    sender, receiver = Recorder(server.url), Recorder(server.url)
    attackers = [from_address(server, source, timeout=5) for source in attacker_addresses(3)]
    try:
        for client in (sender, receiver):
            await client.connect()
            assert (await client.call("enter_room", room))["ok"]
        sessions = [await polling_member(http, room) for http in attackers]
        rss_before = probe.rss_bytes()
        # the room is busy: 5,000 messages of 5,000 characters (25 MB), each one queued for every
        # member over long-polling that does not fetch it; the well-behaved members keep up
        count, batch, text = 5000, 100, "m" * 4995

        def received() -> int:
            return len(receiver.received("new_message"))

        for start in range(0, count, batch):
            await asyncio.gather(*(sender.emit("new_message", f"{i:05d}{text}", room)
                                   for i in range(start, start + batch)))
            await eventually(lambda: received() >= start + batch, timeout=30, what=f"{start + batch} messages")
        grown = probe.rss_bytes() - rss_before
        # the well-behaved member heard everything, in order
        got = [args[1]["text"][:5] for args in receiver.received("new_message")]
        assert got == [f"{i:05d}" for i in range(count)]
        # each attacker was dropped once 1 MiB waited for it (its next GET finds no session)
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert await slow_clients_dropped(http) >= len(attackers)
        for http, sid in zip(attackers, sessions):
            assert (await http.get(ENGINE_IO, params={**POLLING, "sid": sid})).status_code == 400
        assert "too slow to read" in server.log
        # (57 MiB before the bound, 9 after: what is left is the allocator's, not queues)
        assert grown < 24 << 20, f"the server grew by {grown / 2**20:.1f} MiB, less than one non-reader's 25 MB"
    finally:
        await sender.disconnect()
        await receiver.disconnect()
        for http in attackers:
            await http.aclose()
