"""Attacks on rooms, owners and passwords (docs/security.md, "Rooms, owners and passwords")."""

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


async def issued_id(url: str) -> str:
    """A browser id the server signed (identity.py), as a page keeps it: what an owner comes back with."""
    client = await connected(url)
    try:
        reply = await client.call("browser_id")
        assert reply["ok"], reply
        return reply["browserId"]
    finally:
        await client.disconnect()


@BOTH
async def test_a_room_named_after_a_sid_reaches_nobody_else(server_factory):
    """python-socketio gives every socket a room named after its sid: a chat room of that name
    must not be that room (docs/security.md, "A room named after a socket")."""
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
            name = f"{prefix}{n:03d}".ljust(64, "\U0001f608")
            replies.append(await client.call("enter_room", name))
    except (
        socketio.exceptions.TimeoutError,
        socketio.exceptions.BadNamespaceError,
        socketio.exceptions.DisconnectedError,
    ):
        pass  # dropped (before the fix: every WebSocket client was, the attackers too)
    return replies


@BOTH
async def test_many_long_named_rooms_do_not_disconnect_everyone(server_factory):
    """How many rooms, and the room list (docs/security.md): attackers from several addresses enter as
    many rooms with long names as they can; the room list every connection receives stays bounded,
    and a pair keeps chatting."""
    server = server_factory("--max-outgoing-bytes", "262144", "--join-rate", "1000", "--join-burst", "1000")
    processes = len(getattr(server, "processes", [server]))  # each counts its own connections
    alice, bob = await connected(server.url), await connected(server.url)
    gang: list[Recorder] = []
    try:
        for client in (alice, bob):
            assert (await client.call("enter_room", "safe"))["ok"]
        gang = [
            await connected(server.url, source=address)
            for address in attacker_addresses(4)
            for _ in range(12 * processes)
        ]
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


async def enter_when(client: Recorder, room, *waiting: str) -> dict:
    """Enter `room` as soon as the server lets `client` in (refused meanwhile with `waiting` codes,
    or for rate); the ack."""

    async def attempt() -> dict | None:
        reply = await client.call("enter_room", room)
        if reply["ok"]:
            return reply
        assert reply["error"]["code"] in (*waiting, "rate_limited"), reply
        return None

    return await eventually(attempt, timeout=20, what=f"entering {room!r}")


@BOTH
async def test_a_locked_room_stays_locked_while_its_history_lasts_and_its_owner_comes_back(server_factory):
    """A room's protection (docs/security.md): when the last member left, the lock and the ownership
    went and the history stayed; whoever entered the name next got the conversation and the room."""
    server = server_factory("--history-retention", "2")
    owner_auth = {"clientId": "owner-tab-0001", "browserId": await issued_id(server.url)}
    owner = await connected(server.url, auth=owner_auth)
    (address,) = attacker_addresses(1)
    stranger = await connected(server.url, source=address)
    friend = await connected(server.url)
    clients = [owner, stranger, friend]
    try:
        assert (await owner.call("enter_room", "vault"))["ok"]
        assert (await owner.call("room_settings", "vault", {"password": "s3cret"}))["ok"]
        assert (await owner.call("new_message", "the plan", "vault"))["ok"]
        await owner.disconnect()  # the page is closed: the room is empty, its history kept

        refused = await stranger.call("enter_room", "vault")
        assert not refused["ok"], "the empty room's history went to a stranger"
        assert refused["error"]["code"] == "password_required" and "history" not in refused
        wrong = await stranger.call("enter_room", {"payload": "vault", "password": "guess"})
        assert wrong["error"]["code"] == "wrong_password" and "history" not in wrong

        # the owner comes back (a new connection of the same browser): no password, owner again
        owner = await connected(server.url, auth={**owner_auth, "clientId": "owner-tab-0002"})
        clients.append(owner)
        back = await owner.call("enter_room", "vault")
        assert back["ok"] and back["settings"] == {
            "owner": owner.sid,
            "locked": True,
            "private": False,
            "maxMembers": None,
            "knock": False,
        }
        assert [m["text"] for m in back["history"]] == ["the plan"]

        # while the owner is away a friend holds the room; the owner back owns it again
        joined = await friend.call("enter_room", {"payload": "vault", "password": "s3cret"})
        assert joined["ok"] and joined["settings"]["owner"] == owner.sid
        await owner.disconnect()
        await friend.wait_for("room_update", lambda update: update["owner"] == friend.sid)
        owner = await connected(server.url, auth={**owner_auth, "clientId": "owner-tab-0003"})
        clients.append(owner)
        assert (await owner.call("enter_room", "vault"))["settings"]["owner"] == owner.sid
        await friend.wait_for("room_update", lambda update: update["owner"] == owner.sid)
        assert (await friend.call("room_settings", "vault", {"password": None}))["error"]["code"] == "not_owner"

        # once everyone left and the history expired (--history-retention 2), the name is free
        for client in (owner, friend):
            assert (await client.call("leave_room", "vault"))["ok"]
        fresh = await enter_when(stranger, "vault", "password_required")
        assert fresh["history"] == [] and fresh["settings"] == {
            "owner": stranger.sid,
            "locked": False,
            "private": False,
            "maxMembers": None,
            "knock": False,
        }
    finally:
        for client in clients:
            await client.disconnect()


async def test_password_guesses_in_parallel_are_bounded_per_room_and_per_address(server_factory):
    """Guessing a password (docs/security.md): the wrong-password delay did not serialise guesses (200
    in 10 s from one address). Now at most so many are checked per room and per address in a window; the rest are
    refused before any hashing, with the time to wait."""
    server = server_factory(
        "--password-attempts-per-room",
        "8",
        "--password-attempts-per-ip",
        "3",
        "--password-attempt-window",
        "8",
        "--wrong-password-delay",
        "0.2",
    )
    owner_auth = {"browserId": await issued_id(server.url)}
    owner = await connected(server.url, auth=owner_auth)
    gang = [
        (address, await connected(server.url, source=address)) for address in attacker_addresses(4) for _ in range(5)
    ]
    friend = await connected(server.url)
    try:
        assert (await owner.call("enter_room", "vault"))["ok"]
        assert (await owner.call("room_settings", "vault", {"password": "correct horse"}))["ok"]

        async def guess(client: Recorder, n: int) -> dict:
            return await client.call("enter_room", {"payload": "vault", "password": f"guess {n}"})

        # 20 connections from 4 addresses, 5 guesses each, all at once
        answers = await asyncio.gather(*[guess(client, n) for _, client in gang for n in range(5)])
        by_address = collections.defaultdict(collections.Counter)
        for (address, _), answer in zip([pair for pair in gang for _ in range(5)], answers, strict=True):
            by_address[address][answer["error"]["code"]] += 1
        checked = sum(codes["wrong_password"] for codes in by_address.values())
        assert 0 < checked <= 8, by_address  # the room's bound
        assert all(codes["wrong_password"] <= 3 for codes in by_address.values()), by_address  # each address's
        refusals = [a["error"] for a in answers if a["error"]["code"] != "wrong_password"]
        assert len(refusals) == 100 - checked and {e["code"] for e in refusals} == {"too_many_attempts"}
        assert all(0 < e["retryAfter"] <= 8 for e in refusals if "connection" not in e["message"])

        # the owner's own browser is never locked out (a second tab: no password needed)
        tab = await connected(server.url, auth=owner_auth)
        gang.append(("owner", tab))
        assert (await tab.call("enter_room", "vault"))["ok"]
        # a friend with the password waits until the room's bucket gives an attempt back
        right = {"payload": "vault", "password": "correct horse"}
        first = await friend.call("enter_room", right)
        if not first["ok"]:
            assert first["error"]["code"] == "too_many_attempts" and first["error"]["retryAfter"] <= 8
            assert (await enter_when(friend, right, "too_many_attempts"))["ok"]
    finally:
        for client in (owner, friend, *(client for _, client in gang)):
            await client.disconnect()


async def test_a_locked_room_stays_locked_across_a_restart_while_its_history_lasts(server_factory):
    """A room's protection (docs/security.md), one process: the history is on disk, so the lock must be too."""
    server = server_factory()
    owner_auth = {"browserId": await issued_id(server.url)}
    owner = await connected(server.url, auth=owner_auth)
    assert (await owner.call("enter_room", "vault"))["ok"]
    assert (await owner.call("room_settings", "vault", {"password": "s3cret", "maxMembers": 3}))["ok"]
    assert (await owner.call("new_message", "the plan", "vault"))["ok"]
    await owner.disconnect()
    server.restart()
    (address,) = attacker_addresses(1)
    stranger = await connected(server.url, source=address)
    owner = await connected(server.url, auth=owner_auth)
    try:
        refused = await stranger.call("enter_room", "vault")
        assert not refused["ok"] and refused["error"]["code"] == "password_required"
        back = await owner.call("enter_room", "vault")
        assert back["ok"] and [m["text"] for m in back["history"]] == ["the plan"]
        assert back["settings"] == {
            "owner": owner.sid,
            "locked": True,
            "private": False,
            "maxMembers": 3,
            "knock": False,
        }
    finally:
        for client in (stranger, owner):
            await client.disconnect()


def test_settings_refuse_a_room_list_that_could_outgrow_a_client_buffer():
    """The largest room list possible stays under an eighth of --max-outgoing-bytes (docs/security.md,
    "How many rooms, and the room list")."""
    from videochat.model.rooms import largest_list_bytes
    from videochat.settings import Settings, SettingsError

    assert largest_list_bytes(50, 64) * 8 <= Settings().validate().max_outgoing_bytes
    with pytest.raises(SettingsError, match="room-list-size"):
        Settings(max_room_name=1000).validate()
    Settings(max_room_name=1000, room_list_size=3).validate()
    with pytest.raises(SettingsError, match="max-rooms-per-connection"):
        Settings(max_rooms_per_connection=0).validate()
    with pytest.raises(SettingsError, match="password-attempts"):
        Settings(password_attempt_window=0).validate()
