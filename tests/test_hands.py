"""Raised hands (docs/protocol.md, `raise_hand`, `lower_hand`, `hand`): the room sees them in the
order they went up, newcomers too; the owner lowers anyone's, across processes on Redis
(conftest.BOTH_BACKENDS: with two processes, the clients alternate between them)."""

from __future__ import annotations

import asyncio

from test_signaling import in_call

from support import Recorder


async def test_hands_go_up_in_order_reach_the_whole_room_and_newcomers_and_go_down(connect, room):
    ana, ben, cho = await in_call(connect, room, "Ana", "Ben", "Cho")
    chatter = await connect()  # in the room, not in the call: its people list shows hands too
    assert (await chatter.call("enter_room", room))["ok"]

    first = await ben.call("raise_hand", room, True)
    assert first["ok"] and isinstance(first["hand"], float), first
    for client in (ana, ben, cho, chatter):
        (info,) = await client.wait_for("hand", lambda info: info["id"] == ben.sid)
        assert info == {"room": room, "id": ben.sid, "hand": first["hand"]}
    second = await ana.call("raise_hand", room, True)
    assert second["hand"] >= first["hand"]
    # raising again keeps the place in the queue
    assert (await ben.call("raise_hand", room, True))["hand"] == first["hand"]
    await chatter.wait_for("hand", lambda info: info["id"] == ana.sid)

    newcomer = await connect()
    entered = await newcomer.call("enter_room", room)
    assert entered["hands"] == [{"id": ben.sid, "hand": first["hand"]}, {"id": ana.sid, "hand": second["hand"]}]
    joined = await newcomer.call("join_room", room)
    assert {p["id"]: p["hand"] for p in joined["peers"]} == {
        ana.sid: second["hand"],
        ben.sid: first["hand"],
        cho.sid: None,
    }

    # down by one's own hand, and by leaving the call
    assert (await ben.call("raise_hand", room, False)) == {"ok": True, "room": room, "hand": None}
    await cho.wait_for("hand", lambda info: info["id"] == ben.sid and info["hand"] is None)
    assert (await ana.call("leave_call", room))["ok"]
    await chatter.wait_for("peer_left", lambda info: info["id"] == ana.sid)
    late = await connect()
    assert (await late.call("enter_room", room))["hands"] == []


async def test_the_owner_lowers_anyones_hand_and_nobody_else_may(connect, room):
    ana, ben, cho = await in_call(connect, room, "Ana", "Ben", "Cho")  # Ana came first: the owner
    for client in (ben, cho):
        assert (await client.call("raise_hand", room, True))["ok"]
    await ana.wait_for("hand", lambda info: info["id"] == cho.sid)

    refused = await ben.call("lower_hand", room, cho.sid)
    assert refused["ok"] is False and refused["error"]["code"] == "not_owner", refused
    reply = await ana.call("lower_hand", room, ben.sid)  # Ben may be on the other process
    assert reply == {"ok": True, "room": room, "member": ben.sid}
    for client in (ben, cho):
        (info,) = await client.wait_for("hand", lambda info: info["id"] == ben.sid and info["hand"] is None)
        assert info["by"] == {"id": ana.sid, "nickname": "Ana"}
    # the process of Ben's connection took the change: a newcomer's entry says so
    newcomer = await connect()
    entered = await newcomer.call("enter_room", room)
    assert [hand["id"] for hand in entered["hands"]] == [cho.sid]
    # lowering a hand already down says nothing to anyone
    before = len(cho.received("hand"))
    assert (await ana.call("lower_hand", room, ben.sid))["ok"]
    assert (await ana.call("lower_hand", room, cho.sid))["ok"]
    await cho.wait_for("hand", lambda info: info["id"] == cho.sid and info["hand"] is None)
    assert len(cho.received("hand")) == before + 1


async def test_hands_that_are_not_allowed_are_refused_and_nothing_is_told(connect, room):
    ana, ben = await in_call(connect, room, "Ana", "Ben")
    chatter = await connect()
    assert (await chatter.call("enter_room", room))["ok"]
    outsider = await connect()
    for client, event, args, code in (
        (ben, "raise_hand", (room, "yes"), "invalid_hand"),
        (ben, "raise_hand", (room, 1), "invalid_hand"),
        (ben, "raise_hand", (room, None), "invalid_hand"),
        (ben, "raise_hand", (None, True), "invalid_room"),
        (chatter, "raise_hand", (room, True), "not_in_call"),
        (outsider, "raise_hand", (room, True), "not_in_call"),
        (outsider, "lower_hand", (room, ben.sid), "not_in_room"),
        (ana, "lower_hand", (room, chatter.sid), "unknown_member"),  # not in the call
        (ana, "lower_hand", (room, "nobody"), "unknown_member"),
        (ana, "lower_hand", (room, ["x"]), "unknown_member"),
        (chatter, "lower_hand", (room, ben.sid), "not_owner"),
    ):
        reply = await client.call(event, *args)
        assert reply["ok"] is False and reply["error"]["code"] == code, (event, args, reply)
    # a message after the refusals arrives; no `hand` ever did
    assert (await ana.call("new_message", "after the refusals", room))["ok"]
    await chatter.wait_for("new_message")
    assert not any(client.received("hand") for client in (ana, ben, chatter, outsider))


async def test_hands_flooded_from_several_addresses_are_cut_to_the_message_rate(server_factory, room):
    """Five attackers on five addresses each toggle their hand 100 times at once: past the budget
    every toggle is refused (`rate_limited`), nobody is disconnected, the room hears at most one
    `hand` per accepted toggle, and the state it ends with is the one the attackers' acks said."""
    server = server_factory("--message-rate", "2", "--message-burst", "5")
    attackers = [await Recorder(server.url, source=f"127.0.0.{2 + i}").connect() for i in range(5)]
    listener = await Recorder(server.url).connect()
    try:
        for client in (listener, *attackers):
            assert (await client.call("join_room", room))["ok"]

        async def flood(client: Recorder) -> list[dict]:
            return await asyncio.gather(*(client.call("raise_hand", room, i % 2 == 0) for i in range(100)))

        batches = await asyncio.gather(*map(flood, attackers))
        replies = [reply for batch in batches for reply in batch]
        accepted = [reply for reply in replies if reply["ok"]]
        assert {reply["error"]["code"] for reply in replies if not reply["ok"]} == {"rate_limited"}
        assert 25 <= len(accepted) <= 5 * (5 + 2 * 5), len(accepted)
        assert all(client.sio.connected for client in (*attackers, listener))
        # the room's final view is each attacker's last accepted state
        newcomer = await Recorder(server.url).connect()
        try:
            entered = await newcomer.call("enter_room", room)
        finally:
            await newcomer.disconnect()
        raised = {hand["id"] for hand in entered["hands"]}
        for client, batch in zip(attackers, batches, strict=True):
            last = [reply for reply in batch if reply["ok"]][-1]
            assert (client.sid in raised) == (last["hand"] is not None)
        assert len(listener.received("hand")) <= len(accepted)
    finally:
        for client in (*attackers, listener):
            await client.disconnect()
