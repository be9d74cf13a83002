"""Attacks on rooms, owners and passwords (issue 16, items 3, 4, 12 and 14; docs/security.md)."""

from __future__ import annotations

import pytest

from support import Recorder, attacker_addresses

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
