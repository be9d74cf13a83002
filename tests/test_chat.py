"""The Socket.IO chat protocol (docs/protocol.md) against a real server, with python-socketio's client."""

from __future__ import annotations

import asyncio

import pytest

from support import Recorder


async def test_enter_room_acks_members_and_history_then_welcomes_others(connect, room):
    alice, bob = await connect(), await connect()
    await alice.call("nickname", "Alice")
    first = await alice.call("enter_room", room)
    assert first["ok"] is True
    assert first["room"] == room
    assert first["count"] == 1
    assert first["you"] == {"id": alice.sid, "nickname": "Alice"}
    assert first["members"] == [{"id": alice.sid, "nickname": "Alice"}]
    assert first["history"] == []

    await bob.call("nickname", "Bob")
    second = await bob.call("enter_room", {"payload": room})  # the seed's form
    assert second["count"] == 2
    assert second["members"] == [{"id": alice.sid, "nickname": "Alice"}, {"id": bob.sid, "nickname": "Bob"}]

    nickname, count, info = await alice.wait_for("welcome")
    assert (nickname, count) == ("Bob", 2)
    assert info == {"room": room, "member": {"id": bob.sid, "nickname": "Bob"}}
    await bob.barrier()
    assert bob.received("welcome") == []  # not to the newcomer


async def test_default_nickname_is_anon(connect, room):
    alice, bob = await connect(), await connect()
    await alice.call("enter_room", room)
    await bob.call("enter_room", room)
    assert (await alice.wait_for("welcome"))[:2] == ("Anon", 2)


async def test_entering_twice_is_harmless(connect, room):
    alice, bob = await connect(), await connect()
    await alice.call("enter_room", room)
    await bob.call("enter_room", room)
    await alice.wait_for("welcome")
    again = await bob.call("enter_room", room)
    assert again["ok"] and again["count"] == 2
    await alice.barrier()
    assert len(alice.received("welcome")) == 1


async def test_new_message_goes_to_the_others_as_seed_string_and_structured(connect, room):
    alice, bob, carol = await connect(), await connect(), await connect()
    await alice.call("nickname", "Alice")
    for client in (alice, bob, carol):
        await client.call("enter_room", room)
    reply = await alice.call("new_message", "  hello there  ", room)
    assert reply["ok"] is True
    message = reply["message"]
    assert message["text"] == "hello there"
    assert message["room"] == room
    assert message["author"] == {"id": alice.sid, "nickname": "Alice"}
    assert isinstance(message["id"], str) and message["id"]
    assert isinstance(message["time"], int) and message["time"] > 1_600_000_000_000

    for other in (bob, carol):
        line, structured = await other.wait_for("new_message")
        assert line == "Alice: hello there"
        assert structured == message
    await alice.barrier()
    assert alice.received("new_message") == []  # the sender has the ack instead


async def test_any_text_comes_back_as_sent_korean_emoji_and_lone_surrogates(connect, room):
    # codec.py: orjson sends non-ASCII as it is; what it refuses (a lone surrogate, which JSON's
    # \uXXXX escapes can carry) takes the standard library's encoder, for the ack and the broadcast
    alice, bob = await connect(), await connect()
    for client in (alice, bob):
        await client.call("enter_room", room)
    for text in ("안녕하세요 👋 — ü", "half a pair: \ud83d!"):
        reply = await alice.call("new_message", text, room)
        assert reply["ok"] is True and reply["message"]["text"] == text
        await bob.wait_for("new_message", lambda line, structured, text=text: structured["text"] == text)


async def test_seed_client_without_ack_still_delivers(connect, room):
    alice, bob = await connect(), await connect()
    await alice.call("enter_room", room)
    await bob.call("enter_room", room)
    await alice.emit("new_message", "no callback", room)
    line, _ = await bob.wait_for("new_message")
    assert line == "Anon: no callback"


async def test_messages_only_reach_their_room(connect, room):
    alice, bob, outsider = await connect(), await connect(), await connect()
    await alice.call("enter_room", room)
    await bob.call("enter_room", room)
    await outsider.call("enter_room", room + "-other")
    await alice.call("new_message", "for this room", room)
    await bob.wait_for("new_message")
    await outsider.barrier()
    assert outsider.received("new_message") == []


async def test_cannot_send_to_a_room_one_is_not_in(connect, room):
    member, intruder = await connect(), await connect()
    await member.call("enter_room", room)
    reply = await intruder.call("new_message", "sneaky", room)
    assert reply == {"ok": False, "error": {"code": "not_in_room", "message": reply["error"]["message"]}}
    assert room in reply["error"]["message"]
    await member.barrier()
    assert member.received("new_message") == []


async def test_error_event_when_there_is_no_ack(connect, room):
    intruder = await connect()
    await intruder.emit("new_message", "sneaky", room)
    error = (await intruder.wait_for("error"))[0]
    assert error["code"] == "not_in_room"
    assert error["event"] == "new_message"
    assert intruder.sio.connected


@pytest.mark.parametrize(
    ("event", "args", "code"),
    [
        ("enter_room", ("",), "invalid_room"),
        ("enter_room", ("   ",), "invalid_room"),
        ("enter_room", ("x" * 65,), "invalid_room"),
        ("enter_room", ("bad\x00name",), "invalid_room"),
        ("enter_room", (42,), "invalid_room"),
        ("enter_room", ({"payload": None},), "invalid_room"),
        ("enter_room", ({"nope": "x"},), "invalid_room"),
        ("enter_room", (), "invalid_room"),
        ("nickname", ("",), "invalid_nickname"),
        ("nickname", ("n" * 33,), "invalid_nickname"),
        ("nickname", (["list"],), "invalid_nickname"),
        ("nickname", ("tab\there",), "invalid_nickname"),
        ("new_message", ("",), "invalid_message"),
        ("new_message", ("m" * 2001,), "invalid_message"),
        ("new_message", ("line\nbreak",), "invalid_message"),
        ("new_message", ({"text": "x"},), "invalid_message"),
        ("leave_room", (None,), "invalid_room"),
        ("no_such_event", ("x",), "unknown_event"),
    ],
)
async def test_bad_input_gets_a_clear_error_and_harms_nobody(connect, room, event, args, code):
    bystander, client = await connect(), await connect()
    await bystander.call("enter_room", room)
    await client.call("enter_room", room)
    if event == "new_message" and len(args) == 1:
        args = (*args, room)
    reply = await client.call(event, *args)
    assert reply["ok"] is False
    assert reply["error"]["code"] == code
    assert reply["error"]["message"]
    # the connection and everyone else carry on
    assert (await client.call("new_message", "still here", room))["ok"]
    line, _ = await bystander.wait_for("new_message")
    assert line == "Anon: still here"


async def test_an_event_named_like_the_catch_all_is_refused(connect, room):
    # "*" is python-socketio's catch-all handler name: such an event once reached it with its
    # arguments shifted (the payload taken for the sender's sid) and failed with a traceback
    client = await connect()
    await client.emit("*", {"payload": room})
    (error,) = await client.wait_for("error", lambda error: error.get("event") == "*")
    assert error["code"] == "invalid_event"
    assert (await client.call("enter_room", room))["ok"]


async def test_limits_are_exact(connect, room):
    client = await connect()
    assert (await client.call("enter_room", "r" * 64))["ok"]
    assert (await client.call("nickname", "n" * 32))["ok"]
    assert (await client.call("new_message", "m" * 2000, "r" * 64))["ok"]


async def test_nickname_change_is_shown_to_the_room(connect, room):
    alice, bob = await connect(), await connect()
    await alice.call("enter_room", room)
    await bob.call("enter_room", room)
    reply = await alice.call("nickname", "  Alice  ")
    assert reply == {"ok": True, "nickname": "Alice"}
    for client in (alice, bob):
        (info,) = await client.wait_for("nickname_change")
        assert info == {"room": room, "member": {"id": alice.sid, "nickname": "Alice"}, "old": "Anon"}
    await alice.call("new_message", "renamed", room)
    assert (await bob.wait_for("new_message"))[0] == "Alice: renamed"


async def test_leave_room_without_disconnecting(fresh_server, room):
    alice, bob = Recorder(fresh_server.url), Recorder(fresh_server.url)
    await alice.connect()
    await bob.connect()
    try:
        await alice.call("nickname", "Alice")
        await alice.call("enter_room", room)
        await bob.call("enter_room", room)
        reply = await alice.call("leave_room", room)
        assert reply == {"ok": True, "room": room}
        nickname, count, info = await bob.wait_for("bye")
        assert (nickname, count) == ("Alice", 1)
        assert info == {"room": room, "member": {"id": alice.sid, "nickname": "Alice"}}
        assert (await alice.call("new_message", "gone?", room))["error"]["code"] == "not_in_room"
        assert (await alice.call("leave_room", room))["error"]["code"] == "not_in_room"
        # bob leaves too: the room disappears from the list
        await bob.call("leave_room", room)
        await alice.wait_for("room_change", lambda names, rooms: names == [])
        assert alice.sio.connected
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_disconnect_says_bye_to_every_room_then_one_room_change(fresh_server):
    url = fresh_server.url
    leaver, first, second, watcher = (Recorder(url) for _ in range(4))
    for client in (leaver, first, second, watcher):
        await client.connect()
    try:
        await leaver.call("nickname", "Leaver")
        await first.call("enter_room", "one")
        await second.call("enter_room", "two")
        await leaver.call("enter_room", "one")
        await leaver.call("enter_room", "two")
        await watcher.wait_for(
            "room_change",
            lambda names, rooms: (
                rooms == [{"name": "one", "count": 2, "locked": False}, {"name": "two", "count": 2, "locked": False}]
            ),
        )
        before = len(watcher.received("room_change"))
        await leaver.disconnect()
        assert (await first.wait_for("bye"))[:2] == ("Leaver", 1)
        assert (await second.wait_for("bye"))[:2] == ("Leaver", 1)
        names, rooms = await watcher.wait_for(
            "room_change",
            lambda names, rooms: (
                rooms == [{"name": "one", "count": 1, "locked": False}, {"name": "two", "count": 1, "locked": False}]
            ),
        )
        assert names == ["one", "two"]
        await watcher.barrier()
        assert len(watcher.received("room_change")) == before + 1  # one for the whole disconnect
    finally:
        for client in (first, second, watcher):
            await client.disconnect()


async def test_room_change_lists_rooms_with_members_never_private_rooms(fresh_server):
    url = fresh_server.url
    alice, bob, watcher = Recorder(url), Recorder(url), Recorder(url)
    for client in (alice, bob, watcher):
        await client.connect()
    try:
        await alice.call("enter_room", "kitchen")
        names, rooms = await watcher.wait_for("room_change")
        assert names == ["kitchen"]  # no socket ids, no private rooms
        assert rooms == [{"name": "kitchen", "count": 1, "locked": False}]
        await bob.call("enter_room", "garden")
        await bob.call("enter_room", "kitchen")
        names, rooms = await watcher.wait_for("room_change", lambda n, r: len(r) == 2 and r[0]["count"] == 2)
        assert names == ["kitchen", "garden"]
        assert rooms == [
            {"name": "kitchen", "count": 2, "locked": False},
            {"name": "garden", "count": 1, "locked": False},
        ]
        assert await watcher.call("list_rooms") == {"ok": True, "rooms": rooms}
        for name in names:
            assert alice.sid not in name and bob.sid not in name
    finally:
        for client in (alice, bob, watcher):
            await client.disconnect()


async def test_counts_in_welcome_and_bye_are_exact(connect, room):
    clients = [await connect() for _ in range(4)]
    for index, client in enumerate(clients):
        await client.call("nickname", f"user{index}")
        await client.call("enter_room", room)
    first = clients[0]
    counts = [(await first.wait_for("welcome", lambda n, c, i, name=f"user{k}": n == name))[1] for k in (1, 2, 3)]
    assert counts == [2, 3, 4]
    await clients[3].disconnect()
    assert (await first.wait_for("bye", lambda n, c, i: n == "user3"))[1] == 3
    await clients[2].call("leave_room", room)
    assert (await first.wait_for("bye", lambda n, c, i: n == "user2"))[1] == 2


async def test_long_polling_transport_works_too(connect, room):
    polling = await connect(transports=["polling"])
    websocket = await connect()
    await polling.call("nickname", "Poller")
    await polling.call("enter_room", room)
    await websocket.call("enter_room", room)
    assert (await polling.wait_for("welcome"))[1] == 2
    await websocket.call("new_message", "to the poller", room)
    assert (await polling.wait_for("new_message"))[0] == "Anon: to the poller"
    await polling.call("new_message", "from the poller", room)
    assert (await websocket.wait_for("new_message"))[0] == "Poller: from the poller"


async def test_room_lists_follow_many_changes_at_a_bounded_rate(server_factory):
    """The seed sends the whole list to everyone on every change; here fast changes are merged
    (--room-list-rate), and the last list is always the current one."""
    server = server_factory(
        "--room-list-rate",
        "2",
        "--join-rate",
        "1000",
        "--join-burst",
        "1000",
        "--request-rate",
        "1000",
        "--request-burst",
        "1000",
    )
    watcher, busy = Recorder(server.url), Recorder(server.url)
    await watcher.connect()
    await busy.connect()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        for n in range(40):
            await busy.call("enter_room", f"busy-{n}")
            await busy.call("leave_room", f"busy-{n}")
        await busy.call("enter_room", "busy-final")  # 81 changes
        await watcher.wait_for("room_change", lambda names, rooms: names == ["busy-final"])
        elapsed = loop.time() - start
        changes = len(watcher.received("room_change"))
        # a burst of 4 at once, then 2 a second, and the last list
        assert changes <= 4 + 2 * elapsed + 1, (changes, elapsed)
        assert changes < 81
    finally:
        await watcher.disconnect()
        await busy.disconnect()
