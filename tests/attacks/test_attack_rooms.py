"""Attacks on rooms, owners and passwords (issue 16, items 3, 4, 12 and 14; docs/security.md)."""

from __future__ import annotations

import asyncio
import collections

import httpx
import pytest
import socketio

from support import Recorder, attacker_addresses, eventually

BOTH = pytest.mark.parametrize("backend", ["single", "redis"], indirect=True)


async def connected(url: str, **options) -> Recorder:
    return await Recorder(url, **options).connect()


@BOTH
async def test_a_room_named_after_a_sid_reaches_nobody_else(server_factory):
    """python-socketio gives every socket a room named after its sid: a chat room of that name
    must not be that room (issue 16, item 14)."""
    server = server_factory()
    victim = await connected(server.url)
    (address,) = attacker_addresses(1)
    attacker = await connected(server.url, source=address)
    try:
        entered = await attacker.call("enter_room", victim.sid)
        # harmless: a room of its own like any other, with the attacker alone in it
        assert entered["ok"], entered
        assert [m["id"] for m in entered["members"]] == [attacker.sid]
        assert (await attacker.call("new_message", "psst", victim.sid))["ok"]
        assert (await attacker.call("room_settings", victim.sid, {"password": "mine"}))["ok"]
        await victim.barrier()
        assert [name for name, _ in victim.events if name not in ("room_change",)] == []
        # the attacker's state is consistent: listed with one member, and it may leave
        rooms = (await attacker.call("list_rooms"))["rooms"]
        assert {"name": victim.sid, "count": 1, "locked": True} in rooms
        assert (await attacker.call("leave_room", victim.sid))["ok"]
        assert (await attacker.call("new_message", "again", victim.sid))["error"]["code"] == "not_in_room"
        await victim.barrier()
        assert victim.received("new_message") == []
        # and the victim still chats
        assert (await victim.call("enter_room", "own"))["ok"]
        assert (await victim.call("new_message", "fine", "own"))["ok"]
    finally:
        for client in (victim, attacker):
            await client.disconnect()


async def enter_rooms(client: Recorder, prefix: str, count: int) -> list[dict]:
    """An attacker entering `count` rooms with the longest names (4 bytes a character in UTF-8);
    the answers, or as many as it got before the server dropped it."""
    replies = []
    try:
        for n in range(count):
            name = f"{prefix}{n:03d}".ljust(64, "\U0001F608")
            replies.append(await client.call("enter_room", name))
    except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError,
            socketio.exceptions.DisconnectedError):
        pass  # dropped (before the fix: every WebSocket client was, the attackers too)
    return replies


@BOTH
async def test_many_long_named_rooms_do_not_disconnect_everyone(server_factory):
    """Issue 16, item 3: attackers from several addresses enter as many rooms with long names as
    they can; the room list every connection receives stays bounded, and a pair keeps chatting."""
    server = server_factory("--max-outgoing-bytes", "262144", "--join-rate", "1000", "--join-burst", "1000")
    processes = len(getattr(server, "processes", [server]))  # each counts its own connections
    alice, bob = await connected(server.url), await connected(server.url)
    gang: list[Recorder] = []
    try:
        for client in (alice, bob):
            assert (await client.call("enter_room", "safe"))["ok"]
        gang = [await connected(server.url, source=address) for address in attacker_addresses(4)
                for _ in range(12 * processes)]
        first = await enter_rooms(gang[0], "first-", 15)  # alone: it meets the bound per connection
        attackers = asyncio.gather(*[enter_rooms(client, f"{n}-", 15) for n, client in enumerate(gang[1:])])
        said = []
        while not attackers.done() or len(said) < 20:
            said.append(f"line {len(said)}")
            assert (await alice.call("new_message", said[-1], "safe"))["ok"]
            await asyncio.sleep(0.05)  # a person typing, while the attack goes on
        replies = first + [reply for replies in await attackers for reply in replies]
        assert len(replies) == len(gang) * 15  # every attempt answered, no attacker dropped
        codes = collections.Counter(reply["error"]["code"] if not reply["ok"] else "ok" for reply in replies)
        assert set(codes) == {"ok", "too_many_rooms"}, codes
        assert codes["ok"] <= 4 * 100 * processes  # per address, at most --max-rooms-per-ip (100)
        messages = {reply["error"]["message"] for reply in replies if not reply["ok"]}
        assert any("one connection" in m for m in messages) and any("network address" in m for m in messages)
        # the pair heard everything and is still connected
        await bob.wait_for("new_message", lambda line, *_: line.endswith(f": {said[-1]}"))
        assert [args[1]["text"] for args in bob.received("new_message")] == said
        assert alice.sio.connected and bob.sio.connected
        # the list: the busiest first, at most --room-list-size (50)
        rooms = (await bob.call("list_rooms"))["rooms"]
        assert len(rooms) == 50 and rooms[0] == {"name": "safe", "count": 2, "locked": False}
        async with httpx.AsyncClient() as http:  # the same list (with Redis: from either process)
            async def same_list() -> bool:
                return (await http.get(server.url + "/api/rooms")).json()["rooms"] == rooms
            await eventually(same_list, what="/api/rooms gives the same list")
        names, listed = bob.received("room_change")[-1]
        assert len(names) == len(listed) <= 50
    finally:
        for client in (alice, bob, *gang):
            await client.disconnect()
