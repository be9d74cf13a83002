"""Attacks on what the server exposes besides the chat: /metrics, TURN credentials, the disk
(issue 16, items 5, 9 and 10; docs/security.md, "Metrics, TURN credentials and disk")."""

from __future__ import annotations

import uuid

import httpx

from support import scrape


# item 5: /metrics is open by default; it must name no room, private or public


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
