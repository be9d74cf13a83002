"""Several processes on one Redis act as one server (docs/deploy.md): real redis-server, real processes.

The chat, room, moderation and signaling suites also run against two processes (tests/conftest.py,
BOTH_BACKENDS); here: what only a group of processes can show — one room list, moderation and calls
across processes, a process killed without warning, Redis going away and coming back.
"""

from __future__ import annotations

import signal

import httpx
import pytest

from redis_server import ProcessGroup, RedisServer
from support import SHARED_ADDRESS, Recorder, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def redis(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()


@pytest.fixture
def group(tmp_path, redis):
    """Two processes of our own: the tests here kill processes and stop Redis."""
    processes = ProcessGroup(tmp_path / "group", redis, *SHARED_ADDRESS, "--redis-heartbeat", "1").start()
    yield processes
    processes.stop(signal.SIGKILL)


async def rooms_at(url: str) -> list[dict]:
    async with httpx.AsyncClient() as http:
        return (await http.get(url + "/api/rooms")).json()["rooms"]


async def ready(url: str) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(url + "/readyz")).status_code


async def test_clients_on_two_processes_share_rooms_counts_history_and_nicknames(group):
    one, two = group.urls
    alice, bob, watcher = Recorder(one), Recorder(two), Recorder(two)
    for client in (alice, bob, watcher):
        await client.connect()
    try:
        await alice.call("nickname", "Alice")
        await alice.call("enter_room", "plaza")
        await alice.call("new_message", "before Bob", "plaza")
        await bob.call("nickname", "Bob")
        entered = await bob.call("enter_room", "plaza")
        # Bob, on the other process, sees Alice, the count, and the history written on her process
        assert entered["count"] == 2
        assert [m["nickname"] for m in entered["members"]] == ["Alice", "Bob"]
        assert [m["text"] for m in entered["history"]] == ["before Bob"]
        assert entered["settings"]["owner"] == alice.sid
        assert await alice.wait_for("welcome", lambda nick, count, info: nick == "Bob" and count == 2)
        # chat both ways, in the seed's form
        await bob.call("new_message", "hi Alice", "plaza")
        assert (await alice.wait_for("new_message"))[0] == "Bob: hi Alice"
        await alice.call("new_message", "hi Bob", "plaza")
        assert (await bob.wait_for("new_message"))[0] == "Alice: hi Bob"
        # a nickname change reaches the room on the other process
        await alice.call("nickname", "Alicia")
        assert await bob.wait_for("nickname_change", lambda change: change["old"] == "Alice")
        # one room list, the same on both processes, for clients of both
        expected = [{"name": "plaza", "count": 2, "locked": False}]
        assert await watcher.wait_for("room_change", lambda names, rooms: rooms == expected)
        assert await alice.wait_for("room_change", lambda names, rooms: rooms == expected)
        assert await rooms_at(one) == await rooms_at(two) == expected
        # Alice leaves: Bob hears it with the exact count; the lists follow
        await alice.call("leave_room", "plaza")
        assert (await bob.wait_for("bye"))[:2] == ("Alicia", 1)
        assert await eventually(
            lambda: _same(rooms_at(one), rooms_at(two), [{"name": "plaza", "count": 1, "locked": False}]),
            what="one list after leaving",
        )
    finally:
        for client in (alice, bob, watcher):
            await client.disconnect()


async def _same(first, second, expected) -> bool:
    return await first == expected and await second == expected


async def test_owner_powers_across_processes(group):
    one, two = group.urls
    owner = await Recorder(one).connect()
    guest = Recorder(two)
    await guest.sio.connect(two, transports=["websocket"], auth={"browserId": "guest-browser-1"}, wait_timeout=5)
    newcomer = await Recorder(two).connect()
    try:
        await owner.call("enter_room", {"payload": "vault", "private": True})
        await guest.call("enter_room", "vault")
        # private: on no list, on either process
        assert await rooms_at(two) == []
        # a lock set on one process holds on the other
        assert (await owner.call("room_settings", "vault", {"password": "sesame"}))["ok"]
        refused = await newcomer.call("enter_room", "vault")
        assert refused["error"]["code"] == "password_required"
        assert (await newcomer.call("enter_room", {"payload": "vault", "password": "sesame"}))["ok"]
        # removing a member held by the other process: told, gone everywhere, kept out
        assert (await owner.call("remove_member", "vault", guest.sid))["ok"]
        assert await guest.wait_for("removed")
        assert await newcomer.wait_for("bye", lambda nick, count, info: info["member"]["id"] == guest.sid)
        members = (await newcomer.call("enter_room", "vault"))["members"]
        assert guest.sid not in [m["id"] for m in members]
        again = await guest.call("enter_room", {"payload": "vault", "password": "sesame"})
        assert again["error"]["code"] == "banned"
        # handing the room over to a member of the other process
        assert (await owner.call("transfer_owner", "vault", newcomer.sid))["ok"]
        (update,) = await newcomer.wait_for("room_update", lambda u: u["owner"] == newcomer.sid)
        assert update["locked"] is True
    finally:
        for client in (owner, guest, newcomer):
            await client.disconnect()


async def test_call_signaling_and_takeover_across_processes(group):
    one, two = group.urls
    alice = await Recorder(one).connect()
    bob = Recorder(two)
    await bob.sio.connect(two, transports=["websocket"], auth={"clientId": "bob-tab-0001"}, wait_timeout=5)
    try:
        await alice.call("join_room", "studio")
        joined = await bob.call("join_room", "studio")
        assert [p["id"] for p in joined["peers"]] == [alice.sid]
        assert joined["inCall"] == [alice.sid, bob.sid]  # who is in the call, whichever process they are on
        offer = {"type": "offer", "sdp": "v=0\r\n"}
        assert (await bob.call("offer", offer, "studio", alice.sid))["ok"]
        description, sender, info = await alice.wait_for("offer")
        assert (description, sender) == (offer, bob.sid)
        answer = {"type": "answer", "sdp": "v=0\r\n"}
        assert (await alice.call("answer", answer, "studio", bob.sid))["ok"]
        assert (await bob.wait_for("answer"))[:2] == (answer, alice.sid)
        assert (await alice.call("media_state", "studio", {"audio": False}))["ok"]
        assert await bob.wait_for("media_state", lambda state: state["media"]["audio"] is False)
        # Bob's tab comes back on the other process: the old socket is dropped, Alice sees it leave
        old_sid = bob.sid
        again = Recorder(one)
        await again.sio.connect(one, transports=["websocket"], auth={"clientId": "bob-tab-0001"}, wait_timeout=5)
        assert await alice.wait_for("peer_left", lambda left: left["id"] == old_sid)
        await eventually(lambda: not bob.sio.connected, what="the old socket dropped")
        assert [p["id"] for p in (await again.call("join_room", "studio"))["peers"]] == [alice.sid]
        await again.disconnect()
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_a_killed_process_is_cleaned_up_within_30_seconds(group):
    one, two = group.urls
    stayer, doomed = await Recorder(one).connect(), await Recorder(two).connect()
    await stayer.call("nickname", "Stayer")
    await doomed.call("nickname", "Doomed")
    await stayer.call("join_room", "wake")
    await doomed.call("join_room", "wake")
    await doomed.call("enter_room", "doomed-only")
    assert await stayer.wait_for("room_change", lambda names, rooms: "doomed-only" in names)
    doomed_sid = doomed.sid
    try:
        group.processes[1].stop(signal.SIGKILL)
        # the default heartbeat (2 s) would take up to 12 s; this group beats every second
        bye = await stayer.wait_for("bye", lambda nick, count, info: nick == "Doomed", timeout=30)
        assert bye[1] == 1
        assert await stayer.wait_for("peer_left", lambda left: left["id"] == doomed_sid, timeout=5)
        assert await stayer.wait_for("room_change", lambda names, rooms: names == ["wake"], timeout=5)
        assert await rooms_at(one) == [{"name": "wake", "count": 1, "locked": False}]
    finally:
        await stayer.disconnect()
        await doomed.disconnect()


async def test_redis_outage_is_survived_locally_and_recovered_without_restart(group, redis):
    one, two = group.urls
    alice, carol, bob = Recorder(one), Recorder(one), Recorder(two)
    for client in (alice, carol, bob):
        await client.connect()
    try:
        for client, name in ((alice, "Alice"), (carol, "Carol"), (bob, "Bob")):
            await client.call("nickname", name)
            await client.call("enter_room", "hall")
        assert await ready(one) == await ready(two) == 200
        redis.stop()
        assert await eventually(lambda: _both_status(one, two, 503), what="not ready without Redis")
        # people on the same process still talk
        await alice.call("new_message", "still here?", "hall")
        assert await carol.wait_for("new_message", lambda text, message: "still here" in text)
        redis.start()  # the same port, empty
        assert await eventually(lambda: _both_status(one, two, 200), timeout=20, what="ready again")
        # across processes again, and the state is back in Redis: one list, exact counts
        await bob.call("new_message", "back", "hall")
        assert await alice.wait_for("new_message", lambda text, message: text == "Bob: back")
        expected = [{"name": "hall", "count": 3, "locked": False}]
        assert await eventually(lambda: _same(rooms_at(one), rooms_at(two), expected), what="one list again")
        late = await Recorder(two).connect()
        entered = await late.call("enter_room", "hall")
        assert [m["nickname"] for m in entered["members"]] == ["Alice", "Carol", "Bob", "Anon"]
        await late.disconnect()
    finally:
        for client in (alice, carol, bob):
            await client.disconnect()


async def _both_status(one: str, two: str, status: int) -> bool:
    return await ready(one) == status and await ready(two) == status


async def test_a_stopped_process_says_goodbye_at_once(group, redis):
    from redis.asyncio import Redis

    one, two = group.urls
    stayer, leaver = await Recorder(one).connect(), await Recorder(two).connect()
    await leaver.call("nickname", "Leaver")
    for client in (stayer, leaver):
        await client.call("enter_room", "porch")
    store = Redis.from_url(redis.url)
    try:
        assert await store.zcard("videochat:procs") == 2
        assert group.processes[1].stop() == 0  # SIGTERM
        # gone from Redis by the time it exited: nobody waits for missed heartbeats
        assert await store.zcard("videochat:procs") == 1
        assert len(await store.keys("videochat:members:*")) == 1
        assert (await stayer.wait_for("bye", lambda nick, count, info: nick == "Leaver"))[1] == 1
        assert "Traceback" not in group.processes[1].log
    finally:
        await store.aclose()
        await stayer.disconnect()
        await leaver.disconnect()


async def test_history_lives_in_redis_and_expires_after_the_room_empties(tmp_path, redis):
    from redis.asyncio import Redis

    group = ProcessGroup(tmp_path / "short", redis, *SHARED_ADDRESS, "--history-retention", "1").start()
    store = Redis.from_url(redis.url)
    try:
        one, two = group.urls
        writer = await Recorder(one).connect()
        await writer.call("enter_room", "echo")
        await writer.call("new_message", "remember me", "echo")
        reader = await Recorder(two).connect()
        assert [m["text"] for m in (await reader.call("enter_room", "echo"))["history"]] == ["remember me"]
        assert await store.ttl("videochat:history:echo") == -1  # occupied: kept
        await writer.disconnect()
        await reader.disconnect()
        assert await eventually(lambda: _expired(store, "videochat:history:echo"), what="history expired")
    finally:
        await store.aclose()
        group.stop()


async def _expired(store, key: str) -> bool:
    return not await store.exists(key)


async def test_processes_started_before_redis_serve_alone_then_join_up(tmp_path):
    from redis_server import free_tcp_port

    redis = RedisServer(tmp_path / "late-redis")
    redis.port = free_tcp_port()  # not running yet
    group = ProcessGroup(tmp_path / "early", redis, *SHARED_ADDRESS).start()
    try:
        one, two = group.urls
        assert await ready(one) == await ready(two) == 503
        alice, bob = await Recorder(one).connect(), await Recorder(two).connect()
        assert (await alice.call("enter_room", "early"))["count"] == 1
        redis.start()
        assert await eventually(lambda: _both_status(one, two, 200), timeout=20, what="ready once Redis answers")
        assert (await bob.call("enter_room", "early"))["count"] == 2  # Alice's room, from the other process
        await alice.disconnect()
        await bob.disconnect()
    finally:
        group.stop()
        redis.stop()


async def test_bans_are_shared_and_leave_redis_once_over(tmp_path, redis):
    from redis.asyncio import Redis

    group = ProcessGroup(
        tmp_path / "bans", redis, *SHARED_ADDRESS, "--ban-seconds", "1", "--redis-heartbeat", "0.2"
    ).start()
    store = Redis.from_url(redis.url)
    try:
        one, two = group.urls
        owner, guest = await Recorder(one).connect(), await Recorder(two).connect()
        await owner.call("enter_room", "club")
        await guest.call("enter_room", "club")
        assert (await owner.call("remove_member", "club", guest.sid))["ok"]
        assert await store.hlen("videochat:bans") == 2  # the browser id and the address
        assert (await guest.call("enter_room", "club"))["error"]["code"] == "banned"
        assert await eventually(lambda: _no_bans(store), what="the ban swept from Redis")
        assert (await guest.call("enter_room", "club"))["ok"]
        await owner.disconnect()
        await guest.disconnect()
    finally:
        await store.aclose()
        group.stop()


async def _no_bans(store) -> bool:
    return await store.hlen("videochat:bans") == 0
