"""Attacks on what the server exposes besides the chat: /metrics, TURN credentials, the disk
(docs/security.md, "Metrics, TURN credentials and disk")."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid

import httpx

from redis_server import ProcessGroup
from support import SHARED_ADDRESS, Recorder, attacker_addresses, scrape

# /metrics is open by default; it must name no room, private or public


async def test_metrics_name_no_room_private_or_public(fresh_server, connect):
    secret, public = f"secret-{uuid.uuid4().hex}", f"public-{uuid.uuid4().hex}"
    owner, guest, other = [await connect(fresh_server.url) for _ in range(3)]
    assert (await owner.call("enter_room", {"payload": secret, "private": True}))["ok"]
    assert (await guest.call("enter_room", secret))["ok"]
    assert (await other.call("enter_room", public))["ok"]
    async with httpx.AsyncClient() as http:
        rooms = (await http.get(f"{fresh_server.url}/api/rooms")).text
        reply = await http.get(f"{fresh_server.url}/metrics")  # no token: open, as by default
    assert reply.status_code == 200
    assert secret not in rooms and public in rooms  # the control: the room list shows the public one
    assert secret not in reply.text and public not in reply.text
    samples = scrape(reply.text)
    # what an operator still learns, without names: two rooms, by size
    assert samples[("videochat_rooms_by_size", frozenset({("members", "1")}))] == 1
    assert samples[("videochat_rooms_by_size", frozenset({("members", "2")}))] == 1
    assert samples[("videochat_room_memberships", frozenset())] == 3
    assert samples[("videochat_largest_room_members", frozenset())] == 2


# history filled the disk from rooms spread over many names; all rooms together are bounded

HISTORY_LIMITS = (
    "--history-size",
    "20",
    "--history-max-mb",
    "0.0625",  # 64 KiB for all rooms
    "--message-rate",
    "500",
    "--message-burst",
    "500",
    "--join-rate",
    "100",
    "--join-burst",
    "100",
)
BOUND = 65536
FILLER = "x" * 1000


async def flood_history(url_of, source: str, rooms: int = 20, messages: int = 20) -> None:
    """One attacker: many rooms, each filled with long messages; it stays in the last two."""
    attacker = await Recorder(url_of(), source=source).connect()
    try:
        for n in range(rooms):
            room = f"flood-{source}-{n}"
            assert (await attacker.call("enter_room", room))["ok"]
            replies = await asyncio.gather(
                *(attacker.call("new_message", f"{n}.{i} {FILLER}", room) for i in range(messages))
            )
            assert all(reply["ok"] for reply in replies), replies
            if n < rooms - 2:
                assert (await attacker.call("leave_room", room))["ok"]
    finally:
        await attacker.disconnect()


async def chat_while_flooded(url_of, attackers: int = 3) -> list[str]:
    """A pair chats in "good" (staying in it) while attackers flood other rooms; the texts they sent."""
    alice, bob = await Recorder(url_of()).connect(), await Recorder(url_of()).connect()
    sent: list[str] = []
    try:
        for client in (alice, bob):
            assert (await client.call("enter_room", "good"))["ok"]

        async def talk() -> None:
            for i in range(16):
                sender = (alice, bob)[i % 2]
                sent.append(f"good {i}")
                assert (await sender.call("new_message", sent[-1], "good"))["ok"]

        await asyncio.gather(talk(), *(flood_history(url_of, source) for source in attacker_addresses(attackers)))
        carol = await Recorder(url_of()).connect()
        try:
            history = (await carol.call("enter_room", "good"))["history"]
        finally:
            await carol.disconnect()
        # the well-behaved room keeps its recent history (all of it: it is small)
        assert [m["text"] for m in history] == sent
    finally:
        await alice.disconnect()
        await bob.disconnect()
    return sent


async def test_history_of_many_rooms_stays_within_its_bound_sqlite(server_factory):
    server = server_factory(*HISTORY_LIMITS)
    await chat_while_flooded(lambda: server.url)
    server.stop()  # everything written, the write-ahead log folded in
    database = server.data_dir / "videochat.sqlite3"
    with sqlite3.connect(database) as db:
        text_bytes, rooms = db.execute(
            "SELECT sum(length(CAST(text AS BLOB))), count(DISTINCT room) FROM messages"
        ).fetchone()
        good = db.execute("SELECT count(*) FROM messages WHERE room = 'good'").fetchone()[0]
    # about 1.2 MB were sent: the messages kept fit the bound, and so does the file, near enough
    # (pages freed by deletions are reused; an index and a batch of writes in flight come on top)
    assert text_bytes <= BOUND, (text_bytes, rooms)
    assert database.stat().st_size <= 4 * BOUND, database.stat().st_size
    assert good == 16


async def test_history_of_many_rooms_stays_within_its_bound_redis(tmp_path, redis_server):
    from redis.asyncio import Redis

    group = ProcessGroup(tmp_path / "group", redis_server, *SHARED_ADDRESS, *HISTORY_LIMITS).start()
    store = Redis.from_url(redis_server.url)
    try:
        for key in await store.keys("videochat:history*"):  # the session's Redis: start from nothing
            await store.delete(key)
        await chat_while_flooded(lambda: group.url)
        for process in group.processes:
            await asyncio.to_thread(process.stop)  # everything written
        stored = 0
        for key in await store.keys("videochat:history:*"):
            stored += sum(len(item) for item in await store.lrange(key, 0, -1))
        assert stored <= BOUND, stored
        assert await store.llen("videochat:history:good") == 16
    finally:
        await store.aclose()
        group.stop()


async def test_over_the_bound_an_empty_room_loses_its_history_before_a_room_in_use(server_factory):
    server = server_factory("--history-size", "20", "--history-max-mb", "0.03")  # about 31 KB in all
    idle, busy = await Recorder(server.url).connect(), await Recorder(server.url).connect()
    try:
        assert (await idle.call("enter_room", "idle"))["ok"]
        for i in range(10):  # about 10 KB, then the room empties
            assert (await idle.call("new_message", f"idle {i} {FILLER}", "idle"))["ok"]
        assert (await idle.call("leave_room", "idle"))["ok"]
        assert (await busy.call("enter_room", "busy"))["ok"]
        for i in range(20):  # about 21 KB more: over the bound on the way
            assert (await busy.call("new_message", f"busy {i} {FILLER}", "busy"))["ok"]
    finally:
        await idle.disconnect()
        await busy.disconnect()
    server.stop()
    with sqlite3.connect(server.data_dir / "videochat.sqlite3") as db:
        rows = dict(db.execute("SELECT room, count(*) FROM messages GROUP BY room").fetchall())
    assert rows == {"busy": 20}, rows


def test_fair_share_cuts_the_largest_rooms_first():
    from videochat.storage.history import fair_share

    assert fair_share({"a": 10, "b": 10}, 100) == 10  # everything fits: nobody loses anything
    assert fair_share({"small": 10, "big": 1000, "bigger": 5000}, 410) == 200  # small keeps its 10
    assert fair_share({}, 100) == 0


# TURN credentials went to anyone at GET /api/ice-servers: an open relay for a day


async def test_turn_credentials_only_for_call_participants_and_rate_limited(turn_videochat, room):
    attackers = attacker_addresses(3)

    async def attack(source: str) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=source)
        async with httpx.AsyncClient(transport=transport) as http:
            response = await http.get(f"{turn_videochat.url}/api/ice-servers")
        assert "credential" not in response.text and "username" not in response.text, response.text
        # a connection outside the call, or in the room's chat only, is refused too
        client = await Recorder(turn_videochat.url, source=source).connect()
        try:
            for entered in (False, True):
                refused = await client.call("ice_servers", room)
                assert refused["error"]["code"] == "not_in_call" and "iceServers" not in refused, refused
                if not entered:
                    assert (await client.call("enter_room", room))["ok"]
        finally:
            await client.disconnect()

    await asyncio.gather(*(attack(source) for source in attackers))

    # a participant gets credentials, at the pace of joins: a burst, then rate_limited
    caller = await Recorder(turn_videochat.url, source=attackers[0]).connect()
    try:
        joined = await caller.call("join_room", room)
        assert joined["iceServers"][0]["credential"] and joined["iceTtl"] == 600
        replies = [await caller.call("ice_servers", room) for _ in range(30)]
        granted = [reply for reply in replies if reply["ok"]]
        assert granted and all(reply["iceServers"][0]["credential"] for reply in granted)
        assert len(granted) <= 15, len(granted)  # --join-burst 10 (one went to join_room), 2 a second
        assert replies[-1]["error"]["code"] == "rate_limited"
    finally:
        await caller.disconnect()
