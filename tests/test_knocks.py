"""The waiting room (docs/protocol.md, "The waiting room"): a room that asks people to wait holds
newcomers at its door until its owner answers; one process and two on Redis
(conftest.BOTH_BACKENDS: with two processes, the clients alternate between them)."""

from __future__ import annotations

import asyncio

from support import Recorder


async def owned_room(connect, room: str) -> Recorder:
    """A room whose owner turned on "ask to join"."""
    owner = await connect()
    assert (await owner.call("nickname", "Owner"))["ok"]
    assert (await owner.call("enter_room", room))["ok"]
    reply = await owner.call("room_settings", room, {"knock": True})
    assert reply["ok"] and reply["settings"]["knock"] is True, reply
    return owner


async def newcomer(connect, name: str, **options) -> Recorder:
    client = await connect(**options)
    assert (await client.call("nickname", name))["ok"]
    return client


def code(reply: dict) -> str | None:
    return None if reply["ok"] else reply["error"]["code"]


async def test_a_newcomer_waits_until_the_owner_admits_them_and_then_stays_admitted(connect, room):
    owner = await owned_room(connect, room)
    ana = await newcomer(connect, "Ana")
    assert code(await ana.call("enter_room", room)) == "waiting"
    (knock,) = await owner.wait_for("knock", lambda info: info["waiting"])
    assert knock["room"] == room
    assert [(w["id"], w["nickname"]) for w in knock["waiting"]] == [(ana.sid, "Ana")]
    # asking again keeps one place; the seed's join_room is held at the same door
    assert code(await ana.call("enter_room", room)) == "waiting"
    assert code(await ana.call("join_room", room)) == "waiting"
    member_count = len((await owner.call("enter_room", room))["members"])
    assert member_count == 1  # not in yet

    reply = await owner.call("knock_answer", room, ana.sid, True)
    assert reply == {"ok": True, "room": room, "admit": True, "members": [ana.sid]}
    (admitted,) = await ana.wait_for("admitted")
    assert admitted == {"room": room, "by": {"id": owner.sid, "nickname": "Owner"}}
    await owner.wait_for("knock", lambda info: info["waiting"] == [])
    entered = await ana.call("enter_room", room)
    assert entered["ok"], entered
    assert entered["settings"]["knock"] is True
    # back on a new connection from the same browser (a reload): no waiting again
    browser_id = (await ana.call("browser_id"))["browserId"]
    await ana.disconnect()
    again = await newcomer(connect, "Ana", auth={"browserId": browser_id})
    assert (await again.call("enter_room", room))["ok"]


async def test_declined_admit_all_giving_up_and_turning_the_door_off(connect, room):
    owner = await owned_room(connect, room)
    ana, ben, cho, dev = [await newcomer(connect, name) for name in ("Ana", "Ben", "Cho", "Dev")]
    for client in (ana, ben, cho, dev):
        assert code(await client.call("enter_room", room)) == "waiting"
    await owner.wait_for("knock", lambda info: len(info["waiting"]) == 4)

    assert (await owner.call("knock_answer", room, ana.sid, False))["members"] == [ana.sid]
    (declined,) = await ana.wait_for("declined")
    assert declined["room"] == room
    assert code(await ana.call("enter_room", room)) == "waiting"  # asks again: back in the list, last
    # Ben gives up (leave_room of the room he waits at); Cho disconnects
    assert (await ben.call("leave_room", room)) == {"ok": True, "room": room}
    await cho.disconnect()
    await owner.wait_for("knock", lambda info: [w["nickname"] for w in info["waiting"]] == ["Dev", "Ana"])

    reply = await owner.call("knock_answer", room, "*", True)
    assert sorted(reply["members"]) == sorted([dev.sid, ana.sid])
    for client in (ana, dev):
        await client.wait_for("admitted")
        assert (await client.call("enter_room", room))["ok"]
    assert not ben.received("admitted")

    # the door off: whoever waits is let in
    eve = await newcomer(connect, "Eve")
    assert code(await eve.call("enter_room", room)) == "waiting"
    await owner.wait_for("knock", lambda info: [w["nickname"] for w in info["waiting"]] == ["Eve"])
    assert (await owner.call("room_settings", room, {"knock": False}))["settings"]["knock"] is False
    await eve.wait_for("admitted")
    assert (await eve.call("enter_room", room))["ok"]
    assert (await (await newcomer(connect, "Fay")).call("enter_room", room))["ok"]


async def test_only_the_owner_answers_and_only_for_someone_waiting(connect, room):
    owner = await owned_room(connect, room)
    ana = await newcomer(connect, "Ana")
    assert code(await ana.call("enter_room", room)) == "waiting"
    await owner.wait_for("knock", lambda info: info["waiting"])
    member = await newcomer(connect, "Member")
    assert (await owner.call("knock_answer", room, ana.sid, True))["ok"]
    await ana.wait_for("admitted")
    assert (await ana.call("enter_room", room))["ok"]
    assert code(await member.call("enter_room", room)) == "waiting"
    await owner.wait_for("knock", lambda info: [w["id"] for w in info["waiting"]] == [member.sid])
    outsider = await connect()
    for client, args, expected in (
        (ana, (room, member.sid, True), "not_owner"),  # a member, not the owner
        (ana, (room, "*", True), "not_owner"),
        (outsider, (room, member.sid, True), "not_in_room"),
        (member, (room, member.sid, True), "not_in_room"),  # letting oneself in
        (owner, (room, ana.sid, True), "unknown_member"),  # in already, not waiting
        (owner, (room, "nobody", True), "unknown_member"),
        (owner, (room, ["x"], True), "unknown_member"),
        (owner, (room, member.sid, "yes"), "invalid_settings"),
        (owner, (room, member.sid, None), "invalid_settings"),
        (owner, (None, member.sid, True), "invalid_room"),
        (owner, (f"{room}-other", member.sid, True), "not_in_room"),
    ):
        reply = await client.call("knock_answer", *args)
        assert code(reply) == expected, (args, reply)
    for args in (({"knock": "yes"},), ({"knock": None},), ({"knock": 1},)):
        assert code(await owner.call("room_settings", room, *args)) == "invalid_settings"
    assert code(await ana.call("room_settings", room, {"knock": False})) == "not_owner"
    # nothing of that let the member in
    assert not member.received("admitted") and not member.received("declined")
    assert code(await member.call("enter_room", room)) == "waiting"


async def test_the_owner_back_on_a_new_connection_does_not_wait_and_sees_who_does(connect, room):
    first = await owned_room(connect, room)
    browser_id = (await first.call("browser_id"))["browserId"]
    keeper = await newcomer(connect, "Keeper")  # someone stays, so that the room lives on
    assert code(await keeper.call("enter_room", room)) == "waiting"
    await first.wait_for("knock", lambda info: info["waiting"])  # (on Redis, from the other process)
    assert (await first.call("knock_answer", room, keeper.sid, True))["ok"]
    await keeper.wait_for("admitted")
    assert (await keeper.call("enter_room", room))["ok"]
    ana = await newcomer(connect, "Ana")
    assert code(await ana.call("enter_room", room)) == "waiting"
    await first.disconnect()

    back = await newcomer(connect, "Owner", auth={"browserId": browser_id})
    entered = await back.call("enter_room", room)
    assert entered["ok"] and entered["settings"]["owner"] == back.sid, entered
    (knock,) = await back.wait_for("knock", lambda info: info["waiting"])
    assert [w["id"] for w in knock["waiting"]] == [ana.sid]


async def test_knocks_from_several_addresses_are_bounded(server_factory, backend, room):
    """Sixty connections from six addresses knock at once: the first 50 wait, the rest are refused
    (`too_many_waiting`), the owner's list holds those waiting; nobody is disconnected and the owner
    answers. (Each process holds the bound with what it knows: knocks that cross on two processes
    may pass it, never twice over.)"""
    processes = 2 if backend == "redis" else 1
    server = server_factory("--max-connections-per-ip", "20", "--join-rate", "20", "--join-burst", "20")
    owner = await Recorder(server.url).connect()
    attackers = [await Recorder(server.url, source=f"127.0.0.{2 + i % 6}").connect() for i in range(60)]
    clients = (owner, *attackers)
    try:
        assert (await owner.call("enter_room", room))["ok"]
        assert (await owner.call("room_settings", room, {"knock": True}))["ok"]
        replies = await asyncio.gather(*(client.call("enter_room", room) for client in attackers))
        codes = [code(reply) for reply in replies]
        waiting = codes.count("waiting")
        assert 50 <= waiting <= 50 * processes and codes.count("too_many_waiting") == 60 - waiting, codes
        await owner.wait_for("knock", lambda info: len(info["waiting"]) == waiting, timeout=20)
        assert all(client.sio.connected for client in clients)
        assert len((await owner.call("knock_answer", room, "*", False))["members"]) == waiting
        await owner.wait_for("knock", lambda info: info["waiting"] == [], timeout=20)
    finally:
        for client in clients:
            await client.disconnect()
