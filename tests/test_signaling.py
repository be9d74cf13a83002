"""Call signaling (docs/protocol.md, "Video calls") against a real server, with python-socketio clients."""

from __future__ import annotations

import asyncio
import uuid

import socketio

from support import Recorder

OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}
ANSWER = {"type": "answer", "sdp": "v=0\r\no=- 2 2 IN IP4 0.0.0.0\r\n"}
CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "abcd",
}
SIGNALS = ("offer", "answer", "ice", "media_state", "peer_left")


async def in_call(connect, room: str, *names: str) -> list[Recorder]:
    clients = []
    for name in names:
        client = await connect()
        await client.call("nickname", name)
        reply = await client.call("join_room", room)
        assert reply["ok"], reply
        clients.append(client)
    return clients


def signals(client: Recorder) -> list[tuple[str, tuple]]:
    return [(name, args) for name, args in client.events if name in SIGNALS]


async def test_join_room_acks_the_call_and_welcomes_the_others_as_a_call_peer(connect, room):
    alice, bob, carol = await connect(), await connect(), await connect()
    await alice.call("nickname", "Alice")
    await bob.call("nickname", "Bob")
    await alice.call("enter_room", room)  # a chat member: shares the room and its count
    first = await bob.call("join_room", room, {"media": {"video": False}})
    assert first["ok"] is True and first["room"] == room
    assert first["count"] == 2
    assert first["you"] == {"id": bob.sid, "nickname": "Bob"}
    assert [m["id"] for m in first["members"]] == [alice.sid, bob.sid]
    assert first["history"] == []
    assert first["peers"] == []  # alice only chats
    assert first["iceServers"] == [] and first["iceTransportPolicy"] == "all"
    assert first["uploadBudgetKbps"] == 2500 and first["maxCallSize"] == 6

    nickname, count, info = await alice.wait_for("welcome")
    assert (nickname, count) == ("Bob", 2)
    assert info == {
        "room": room,
        "member": {"id": bob.sid, "nickname": "Bob"},
        "call": True,
        "peer": {
            "id": bob.sid,
            "nickname": "Bob",
            "media": {"audio": True, "video": False, "screen": False},
            "hand": None,
        },
    }
    await alice.wait_for("room_change", lambda names, rooms: {"name": room, "count": 2, "locked": False} in rooms)

    second = await carol.call("join_room", {"payload": room})  # the seed's form
    assert second["count"] == 3
    assert second["peers"] == [info["peer"]]
    await bob.wait_for("welcome", lambda nick, count, info: info["member"]["id"] == carol.sid)

    # a chat member who joins the call later is welcomed as a call peer; the count does not change
    joined = await alice.call("join_room", room)
    assert joined["count"] == 3 and [p["id"] for p in joined["peers"]] == [bob.sid, carol.sid]
    _, count, info = await bob.wait_for("welcome", lambda nick, count, info: info["member"]["id"] == alice.sid)
    assert count == 3 and info["call"] is True

    # joining again: the ack again, nothing broadcast
    again = await bob.call("join_room", room)
    assert again["ok"] and again["count"] == 3
    await carol.barrier()
    assert len([w for w in carol.received("welcome") if w[2]["member"]["id"] == bob.sid]) == 0
    assert len(carol.received("welcome")) == 1  # alice's call join


async def test_classic_one_to_one_flow_is_unchanged(connect, room):
    """The zoom-clone client: join_room, then offer/answer/ice(x, room) without acks."""
    first, second = await connect(), await connect()
    await first.emit("join_room", room)
    await first.barrier()
    await second.emit("join_room", room)
    await first.wait_for("welcome")  # the classic client starts its offer here
    await first.emit("offer", OFFER, room)
    description, from_id, info = await second.wait_for("offer")
    assert description == OFFER and from_id == first.sid
    assert info == {"room": room, "from": {"id": first.sid, "nickname": "Anon"}}
    await second.emit("answer", ANSWER, room)
    assert (await first.wait_for("answer"))[:2] == (ANSWER, second.sid)
    await first.emit("ice", CANDIDATE, room)
    assert (await second.wait_for("ice"))[:2] == (CANDIDATE, first.sid)
    await second.emit("ice", None, room)  # end of candidates
    assert (await first.wait_for("ice"))[:2] == (None, second.sid)
    for client in (first, second):
        await client.barrier()
        assert client.received("error") == []
        assert [name for name, _ in signals(client)] in (["offer", "ice"], ["answer", "ice"])


async def test_relays_go_to_the_addressee_only_and_never_leave_the_call(connect, room):
    alice, bob, carol = await in_call(connect, room, "Alice", "Bob", "Carol")
    chatter = await connect()
    await chatter.call("enter_room", room)
    elsewhere = (await in_call(connect, f"{room}-other", "Eve"))[0]

    assert await alice.call("offer", OFFER, room, bob.sid) == {"ok": True}
    assert (await bob.wait_for("offer"))[:2] == (OFFER, alice.sid)
    assert await bob.call("answer", ANSWER, room, alice.sid) == {"ok": True}
    assert (await alice.wait_for("answer"))[:2] == (ANSWER, bob.sid)
    assert await alice.call("ice", CANDIDATE, room, bob.sid) == {"ok": True}
    assert (await bob.wait_for("ice"))[:2] == (CANDIDATE, alice.sid)
    # without toId: every other call participant, the sender not
    assert await carol.call("offer", OFFER, room) == {"ok": True}
    for other in (alice, bob):
        assert (await other.wait_for("offer", lambda d, from_id, info: from_id == carol.sid))[2]["room"] == room

    for client in (alice, bob, carol, chatter, elsewhere):
        await client.barrier()
    assert [name for name, _ in signals(carol)] == []
    assert [name for name, _ in signals(chatter)] == []
    assert [name for name, _ in signals(elsewhere)] == []
    assert [(name, args[1]) for name, args in signals(alice)] == [("answer", bob.sid), ("offer", carol.sid)]


async def test_only_call_participants_may_signal_and_only_to_participants(connect, room):
    alice, bob = await in_call(connect, room, "Alice", "Bob")
    chatter = await connect()
    await chatter.call("enter_room", room)
    stranger = (await in_call(connect, f"{room}-other", "Eve"))[0]

    for event, payload in (("offer", OFFER), ("answer", ANSWER), ("ice", CANDIDATE)):
        reply = await chatter.call(event, payload, room)
        assert reply["ok"] is False and reply["error"]["code"] == "not_in_call", reply
    assert (await chatter.call("media_state", room, {"audio": False}))["error"]["code"] == "not_in_call"
    assert (await chatter.call("leave_call", room))["error"]["code"] == "not_in_call"
    assert (await stranger.call("offer", OFFER, room))["error"]["code"] == "not_in_call"

    for to_id in (chatter.sid, stranger.sid, "nobody", alice.sid, 42):
        reply = await alice.call("offer", OFFER, room, to_id)
        assert reply["ok"] is False and reply["error"]["code"] == "unknown_peer", (to_id, reply)
    # without an ack: an `error` event naming the event
    await chatter.emit("offer", OFFER, room)
    error = (await chatter.wait_for("error"))[0]
    assert error["code"] == "not_in_call" and error["event"] == "offer" and room in error["message"]
    for client in (alice, bob, chatter, stranger):
        await client.barrier()
        assert signals(client) == []


async def test_bad_descriptions_candidates_and_media_are_refused_clearly(connect, room):
    alice, bob = await in_call(connect, room, "Alice", "Bob")
    bad_calls = [
        ("offer", ANSWER, "invalid_description"),  # type must match the event
        ("answer", OFFER, "invalid_description"),
        ("offer", {"type": "offer"}, "invalid_description"),
        ("offer", {"type": "offer", "sdp": 5}, "invalid_description"),
        ("offer", {"type": "offer", "sdp": "x" * (64 * 1024 + 1)}, "invalid_description"),
        ("offer", "v=0", "invalid_description"),
        ("ice", "candidate:1", "invalid_candidate"),
        ("ice", {"sdpMid": "0"}, "invalid_candidate"),
        ("ice", {"candidate": "c" * (2 * 1024 + 1), "sdpMid": "0"}, "invalid_candidate"),
        ("ice", {**CANDIDATE, "sdpMLineIndex": "zero"}, "invalid_candidate"),
    ]
    for event, payload, code in bad_calls:
        reply = await alice.call(event, payload, room, bob.sid)
        assert reply["ok"] is False and reply["error"]["code"] == code, (event, payload, reply)
        assert reply["error"]["message"]
    for media in ("muted", {"audio": "no"}, {"smell": True}, {"quality": "great"}, {"quality": 1}, {"quality": None}):
        reply = await alice.call("media_state", room, media)
        assert reply["error"]["code"] == "invalid_media", (media, reply)
    reply = await alice.call("join_room", f"{room}-2", {"media": {"video": 1}})
    assert reply["error"]["code"] == "invalid_media"
    assert (await alice.call("join_room", "\x07"))["error"]["code"] == "invalid_room"
    # the largest allowed still goes through, and nobody noticed the bad ones
    big = {"type": "offer", "sdp": "x" * (64 * 1024)}
    assert await alice.call("offer", big, room, bob.sid) == {"ok": True}
    assert (await bob.wait_for("offer"))[0] == big
    await bob.barrier()
    assert [name for name, _ in signals(bob)] == ["offer"]
    assert bob.received("error") == []
    # extra fields of a candidate are not relayed
    await alice.call("ice", {**CANDIDATE, "junk": "x" * 100}, room, bob.sid)
    assert (await bob.wait_for("ice"))[0] == CANDIDATE


async def test_media_state_is_relayed_and_stored_for_newcomers(connect, room):
    alice, bob = await in_call(connect, room, "Alice", "Bob")
    reply = await alice.call("media_state", room, {"audio": False, "screen": True})
    assert reply == {"ok": True, "media": {"audio": False, "video": True, "screen": True}}
    state = (await bob.wait_for("media_state"))[0]
    assert state == {"room": room, "id": alice.sid, "media": {"audio": False, "video": True, "screen": True}}
    carol = await connect()
    joined = await carol.call("join_room", room)
    assert {p["id"]: p["media"] for p in joined["peers"]}[alice.sid] == state["media"]
    await alice.barrier()
    assert alice.received("media_state") == []
    # the connection's quality as the page measured it: relayed, kept, and other keys keep theirs
    reply = await bob.call("media_state", room, {"quality": "poor"})
    assert reply == {"ok": True, "media": {"audio": True, "video": True, "screen": False, "quality": "poor"}}
    (info,) = await alice.wait_for("media_state", lambda info: info["id"] == bob.sid)
    assert info["media"]["quality"] == "poor"
    assert (await bob.call("media_state", room, {"audio": False}))["media"]["quality"] == "poor"
    late = await connect()
    joined = await late.call("join_room", room)
    assert {p["id"]: p["media"] for p in joined["peers"]}[bob.sid] == {
        "audio": False,
        "video": True,
        "screen": False,
        "quality": "poor",
    }


async def test_peer_left_on_leave_call_leave_room_and_disconnect(connect, room):
    alice, bob, carol, dave = await in_call(connect, room, "Alice", "Bob", "Carol", "Dave")

    assert await bob.call("leave_call", room) == {"ok": True, "room": room}
    for other in (alice, carol, dave):
        assert (await other.wait_for("peer_left"))[0] == {"room": room, "id": bob.sid, "nickname": "Bob"}
    # still in the room: chats, receives no more signals, may join the call again
    assert (await bob.call("new_message", "still here", room))["ok"]
    await alice.call("offer", OFFER, room)
    await carol.wait_for("offer", lambda d, from_id, info: from_id == alice.sid)
    await bob.barrier()
    assert bob.received("offer") == [] and alice.received("bye") == []
    assert (await bob.call("join_room", room))["peers"] != []

    await carol.call("leave_room", room)
    for other in (alice, dave):
        await other.wait_for("bye", lambda nick, count, info: info["member"]["id"] == carol.sid)
        await other.wait_for("peer_left", lambda info: info["id"] == carol.sid)

    dave_id = dave.sid
    await dave.disconnect()
    for other in (alice, bob):
        await other.wait_for("bye", lambda nick, count, info: info["member"]["id"] == dave_id)
        await other.wait_for("peer_left", lambda info: info["id"] == dave_id)
    assert len(alice.received("peer_left")) == 3


async def test_everyone_in_the_room_knows_who_is_in_the_call(connect, room):
    # The pre-join view shows who is in the call and sizes the camera for it: a member who is not
    # in the call learns who is from the enter_room ack, then from welcome, peer_left and bye.
    alice, bob = await in_call(connect, room, "Alice", "Bob")
    watcher = await connect()
    await watcher.call("nickname", "Watcher")
    entered = await watcher.call("enter_room", room)
    assert (entered["inCall"], entered["maxCallSize"]) == ([alice.sid, bob.sid], 6)
    assert {m["id"] for m in entered["members"]} >= set(entered["inCall"])
    carol = await connect()
    await carol.call("nickname", "Carol")
    joined = await carol.call("join_room", room)
    assert joined["inCall"] == [alice.sid, bob.sid, carol.sid] and joined["maxCallSize"] == 6
    welcome = await watcher.wait_for("welcome", lambda nick, count, info: info["member"]["id"] == carol.sid)
    assert welcome[2]["call"] is True
    assert await bob.call("leave_call", room) == {"ok": True, "room": room}
    assert (await watcher.wait_for("peer_left"))[0] == {"room": room, "id": bob.sid, "nickname": "Bob"}
    assert (await watcher.call("enter_room", room))["inCall"] == [alice.sid, carol.sid]
    # A chat member leaving the call's room: bye, and peer_left for the others of the room.
    carol_id = carol.sid
    await carol.disconnect()
    await watcher.wait_for("bye", lambda nick, count, info: info["member"]["id"] == carol_id)
    await watcher.wait_for("peer_left", lambda info: info["id"] == carol_id)
    assert (await bob.call("enter_room", room))["inCall"] == [alice.sid]
    # Only the room hears it: a member of another room receives nothing.
    elsewhere = await connect()
    await elsewhere.call("enter_room", f"{room}-other")
    assert await alice.call("leave_call", room) == {"ok": True, "room": room}
    await watcher.wait_for("peer_left", lambda info: info["id"] == alice.sid)
    await elsewhere.barrier()
    assert elsewhere.received("peer_left") == [] and (await watcher.call("enter_room", room))["inCall"] == []


async def test_seventh_participant_is_refused_and_can_still_chat(connect, room):
    six = await in_call(connect, room, *[f"P{i}" for i in range(6)])
    seventh = await connect()
    await seventh.call("enter_room", room)
    refused = await seventh.call("join_room", room)
    assert refused["ok"] is False and refused["error"]["code"] == "call_full"
    assert "full" in refused["error"]["message"] and "6" in refused["error"]["message"]
    assert (await seventh.call("new_message", "I can still chat", room))["ok"]
    assert (await seventh.call("offer", OFFER, room))["error"]["code"] == "not_in_call"
    # a client that only sent join_room is not put in the room either
    eighth = await connect()
    assert (await eighth.call("join_room", room))["error"]["code"] == "call_full"
    assert (await eighth.call("new_message", "hi", room))["error"]["code"] == "not_in_room"
    # one leaves: there is room again
    await six[0].call("leave_call", room)
    assert (await seventh.call("join_room", room))["count"] == 7


async def test_a_client_id_takes_over_its_old_socket_at_once(live_server, connect, room, backend):
    client_id = uuid.uuid4().hex
    old = Recorder(live_server.url, auth={"clientId": client_id})
    dropped = asyncio.Event()
    old.sio.on("disconnect", lambda *reason: dropped.set())
    await old.connect()
    await old.call("nickname", "Alice")
    await old.call("join_room", room)
    (bob,) = await in_call(connect, room, "Bob")
    old_sid = old.sid

    new = Recorder(live_server.url, auth={"clientId": client_id})
    try:
        await new.connect()
        # the old socket is dropped when the new one connects, not after a ping timeout (45 s):
        # with one process before the new one's connection completes; with Redis, when the old
        # one's process hears of it (a moment later)
        if backend == "redis":
            await bob.wait_for("peer_left", timeout=5)
        await bob.barrier()
        assert bob.received("peer_left") == [({"room": room, "id": old_sid, "nickname": "Alice"},)]
        assert [args[:2] for args in bob.received("bye")] == [("Alice", 1)]
        await asyncio.wait_for(dropped.wait(), 10)
        await new.call("nickname", "Alice")
        rejoined = await new.call("join_room", room)
        assert [p["id"] for p in rejoined["peers"]] == [bob.sid]
        assert client_id not in repr(rejoined)
        _, count, info = await bob.wait_for("welcome", lambda nick, count, info: info["member"]["id"] == new.sid)
        assert count == 2 and client_id not in repr(info)
    finally:
        await old.disconnect()
        await new.disconnect()


async def test_a_malformed_client_id_is_refused_with_a_reason(live_server):
    client = socketio.AsyncClient(reconnection=False)
    errors: list = []
    client.on("connect_error", lambda data: errors.append(data))
    try:
        await client.connect(live_server.url, transports=["websocket"], auth={"clientId": "x y"}, wait_timeout=5)
    except socketio.exceptions.ConnectionError:
        pass
    assert not client.connected
    assert errors and "clientId" in str(errors[0])


async def test_calls_and_relayed_signaling_are_counted_in_metrics(fresh_server):
    import httpx

    from support import scrape

    alice_url, bob_url = fresh_server.url, fresh_server.url  # two processes with Redis
    alice, bob = Recorder(alice_url), Recorder(bob_url)
    await alice.connect()
    await bob.connect()
    try:
        await alice.call("join_room", "metered")
        await bob.call("join_room", "metered")
        offer = {"type": "offer", "sdp": "v=0\r\n"}
        assert (await bob.call("offer", offer, "metered", alice.sid))["ok"]
        assert (await bob.call("ice", None, "metered", alice.sid))["ok"]
        async with httpx.AsyncClient() as http:
            # calls are counted by every process (the room model is shared), relays by the relaying one
            assert (
                scrape((await http.get(alice_url + "/metrics")).text)[("videochat_calls_in_progress", frozenset())] == 1
            )
            samples = scrape((await http.get(bob_url + "/metrics")).text)
        assert samples[("videochat_calls_in_progress", frozenset())] == 1
        assert samples[("videochat_signaling_messages_total", frozenset({("kind", "offer")}))] == 1
        assert samples[("videochat_signaling_messages_total", frozenset({("kind", "ice")}))] == 1
    finally:
        await alice.disconnect()
        await bob.disconnect()
