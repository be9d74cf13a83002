"""Room owners, locks, caps, private rooms, removals and mute requests, against a real server."""

from __future__ import annotations

import asyncio

import httpx

from support import Recorder


async def connect_all(url: str, count: int, **options) -> list[Recorder]:
    return [await Recorder(url, **options).connect() for _ in range(count)]


async def disconnect_all(clients: list[Recorder]) -> None:
    for client in clients:
        await client.disconnect()


async def test_first_member_owns_and_ownership_passes_to_the_longest_present(fresh_server):
    alice, bob, carol = clients = await connect_all(fresh_server.url, 3)
    try:
        first = await alice.call("enter_room", "den")
        assert first["settings"] == {
            "owner": alice.sid,
            "locked": False,
            "private": False,
            "maxMembers": None,
            "knock": False,
        }
        await bob.call("enter_room", "den")
        assert (await carol.call("enter_room", "den"))["settings"]["owner"] == alice.sid
        await alice.call("leave_room", "den")
        for client in (bob, carol):
            (update,) = await client.wait_for("room_update")
            assert update["room"] == "den" and update["owner"] == bob.sid
        # handing over: carol owns until she leaves; then the longest present (bob) again
        assert (await bob.call("transfer_owner", "den", carol.sid))["settings"]["owner"] == carol.sid
        await bob.wait_for("room_update", lambda u: u["owner"] == carol.sid)
        assert (await bob.call("transfer_owner", "den", bob.sid))["error"]["code"] == "not_owner"
        await alice.call("enter_room", "den")
        await carol.disconnect()
        await alice.wait_for("room_update", lambda u: u["owner"] == bob.sid)
    finally:
        await disconnect_all(clients)


async def test_a_locked_room_needs_its_password_and_wrong_ones_are_answered_slowly(server_factory):
    server = server_factory("--wrong-password-delay", "0.5")
    owner, guest, watcher = clients = await connect_all(server.url, 3)
    try:
        await owner.call("enter_room", "vault")
        reply = await owner.call("room_settings", "vault", {"password": "s3cret"})
        assert reply["ok"] and reply["settings"]["locked"] is True
        await watcher.wait_for(
            "room_change", lambda names, rooms: {"name": "vault", "count": 1, "locked": True} in rooms
        )

        assert (await guest.call("enter_room", "vault"))["error"]["code"] == "password_required"
        started = asyncio.get_running_loop().time()
        wrong = await guest.call("enter_room", {"payload": "vault", "password": "guess"})
        assert wrong["error"]["code"] == "wrong_password"
        assert asyncio.get_running_loop().time() - started >= 0.5
        assert not (await guest.call("new_message", "in?", "vault"))["ok"]

        right = await guest.call("enter_room", {"payload": "vault", "password": "s3cret"})
        assert right["ok"] and right["count"] == 2
        assert (await guest.call("room_settings", "vault", {"password": None}))["error"]["code"] == "not_owner"
        await owner.call("room_settings", "vault", {"password": None})
        assert (await watcher.call("enter_room", "vault"))["ok"]
    finally:
        await disconnect_all(clients)


async def test_member_cap(fresh_server):
    owner, second, third = clients = await connect_all(fresh_server.url, 3)
    try:
        await owner.call("enter_room", "small")
        assert (await owner.call("room_settings", "small", {"maxMembers": 2}))["settings"]["maxMembers"] == 2
        assert (await second.call("enter_room", "small"))["ok"]
        full = await third.call("enter_room", "small")
        assert full["error"]["code"] == "room_full" and "2 members" in full["error"]["message"]
        await second.call("leave_room", "small")
        assert (await third.call("enter_room", "small"))["ok"]
        for bad in (0, -1, 1.5, "3", True, 10_000):
            assert (await owner.call("room_settings", "small", {"maxMembers": bad}))["error"][
                "code"
            ] == "invalid_settings"
        assert (await owner.call("room_settings", "small", {"colour": "red"}))["error"]["code"] == "invalid_settings"
    finally:
        await disconnect_all(clients)


async def test_removed_member_is_told_leaves_and_cannot_come_back_for_a_while(server_factory):
    server = server_factory("--ban-seconds", "1.5")
    auth = {"clientId": "bob-browser-0001"}
    owner = await Recorder(server.url).connect()
    bob = Recorder(server.url)
    await bob.sio.connect(server.url, transports=["websocket"], auth=auth, wait_timeout=5)
    carol = await Recorder(server.url).connect()
    try:
        for client in (owner, bob, carol):
            await client.call("nickname", {owner: "Owner", bob: "Bob", carol: "Carol"}[client])
            await client.call("enter_room", "club")
        assert (await carol.call("remove_member", "club", bob.sid))["error"]["code"] == "not_owner"
        assert (await owner.call("remove_member", "club", "nobody"))["error"]["code"] == "unknown_member"
        assert (await owner.call("remove_member", "club", owner.sid))["error"]["code"] == "unknown_member"

        assert (await owner.call("remove_member", "club", bob.sid))["ok"]
        (notice,) = await bob.wait_for("removed")
        assert notice["room"] == "club" and notice["by"]["nickname"] == "Owner" and notice["seconds"] == 1.5
        assert (await carol.wait_for("bye"))[:2] == ("Bob", 2)
        assert bob.sio.connected  # removed from the room, not disconnected

        refused = await bob.call("enter_room", "club")
        assert refused["error"]["code"] == "banned"
        # a new connection of the same browser is still the removed member
        await bob.disconnect()
        again = Recorder(server.url)
        await again.sio.connect(server.url, transports=["websocket"], auth=auth, wait_timeout=5)
        assert (await again.call("enter_room", "club"))["error"]["code"] == "banned"
        # others may come and go; and once the time is up, Bob may come back
        deadline = asyncio.get_running_loop().time() + 10
        while not (reply := await again.call("enter_room", "club"))["ok"]:
            assert reply["error"]["code"] == "banned"
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.6)  # (joins are rate-limited to 2 a second)
        await again.disconnect()
    finally:
        await disconnect_all([owner, bob, carol])


async def test_owner_asks_a_member_to_mute(fresh_server):
    owner, member = clients = await connect_all(fresh_server.url, 2)
    try:
        await owner.call("nickname", "Host")
        for client in clients:
            await client.call("enter_room", "talk")
        assert (await member.call("ask_mute", "talk", owner.sid))["error"]["code"] == "not_owner"
        assert (await owner.call("ask_mute", "talk", member.sid))["ok"]
        (request,) = await member.wait_for("mute_request")
        assert request == {"room": "talk", "by": {"id": owner.sid, "nickname": "Host"}}
        await owner.barrier()
        assert owner.received("mute_request") == []
    finally:
        await disconnect_all(clients)


async def test_private_rooms_are_never_listed_but_reachable_by_name(fresh_server):
    creator, visitor, watcher = clients = await connect_all(fresh_server.url, 3)
    try:
        await watcher.call("enter_room", "public")
        created = await creator.call("enter_room", {"payload": "hideout", "private": True})
        assert created["settings"]["private"] is True
        assert (await visitor.call("enter_room", "hideout"))["count"] == 2  # by link
        await creator.call("new_message", "psst", "hideout")
        await visitor.wait_for("new_message")
        await watcher.barrier()
        for names, rooms in watcher.received("room_change"):
            assert "hideout" not in names and all(room["name"] != "hideout" for room in rooms)
        assert [r["name"] for r in (await watcher.call("list_rooms"))["rooms"]] == ["public"]
        async with httpx.AsyncClient() as http:
            assert [r["name"] for r in (await http.get(fresh_server.url + "/api/rooms")).json()["rooms"]] == ["public"]
        # the owner may open it up
        await creator.call("room_settings", "hideout", {"private": False})
        await watcher.wait_for("room_change", lambda names, rooms: "hideout" in names)
    finally:
        await disconnect_all(clients)


async def test_joining_a_call_goes_through_the_same_door(fresh_server):
    owner, guest = clients = await connect_all(fresh_server.url, 2)
    try:
        await owner.call("join_room", "studio")
        await owner.call("room_settings", "studio", {"password": "s3cret", "maxMembers": 2})
        assert (await guest.call("join_room", "studio"))["error"]["code"] == "password_required"
        joined = await guest.call("join_room", {"payload": "studio", "password": "s3cret"})
        assert joined["ok"] and joined["settings"]["locked"] is True and len(joined["peers"]) == 1
    finally:
        await disconnect_all(clients)


async def test_a_ban_outlives_a_restart_until_it_ends(server_factory):
    """Bans are kept with the history (SQLite) until they end: a restart does not let a removed
    member back in, nor a newcomer from its address; the owner still gets in."""
    server = server_factory("--ban-seconds", "600")
    owner_auth, bob_auth = {"clientId": "owner-browser-0001"}, {"clientId": "bob-browser-0001"}

    async def connect(auth):
        client = Recorder(server.url)
        await client.sio.connect(server.url, transports=["websocket"], auth=auth, wait_timeout=5)
        return client

    owner, bob = await connect(owner_auth), await connect(bob_auth)
    try:
        # the owner's browser keeps its signed id (as the page does): issued before the ban, it is
        # not a newcomer from the banned address
        owner_auth["browserId"] = (await owner.call("browser_id"))["browserId"]
        for client in (owner, bob):
            assert (await client.call("enter_room", "club"))["ok"]
        assert (await owner.call("remove_member", "club", bob.sid))["ok"]
        assert (await bob.call("enter_room", "club"))["error"]["code"] == "banned"
    finally:
        await disconnect_all([owner, bob])
    server.restart()
    owner, bob, newcomer = await connect(owner_auth), await connect(bob_auth), await Recorder(server.url).connect()
    try:
        assert (await bob.call("enter_room", "club"))["error"]["code"] == "banned"
        assert (await newcomer.call("enter_room", "club"))["error"]["code"] == "banned"  # the address ban
        assert (await owner.call("enter_room", "club"))["ok"]
        assert (await bob.call("enter_room", "elsewhere"))["ok"]  # a ban is for one room
    finally:
        await disconnect_all([owner, bob, newcomer])
