"""The plain WebSocket lobby at ws://HOST/ (the seed's first step)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from support import ServerProcess


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http", "ws", 1) + "/"


async def receive(ws, timeout: float = 5.0) -> str:
    return await asyncio.wait_for(ws.recv(), timeout)


async def test_everyone_including_the_sender_receives_nickname_and_message(live_server):
    async with websockets.connect(ws_url(live_server)) as alice, websockets.connect(ws_url(live_server)) as bob:
        await alice.send(json.dumps({"type": "nickname", "payload": "Alice"}))
        await alice.send(json.dumps({"type": "new_message", "payload": " hello lobby "}))
        assert await receive(alice) == "Alice: hello lobby"
        assert await receive(bob) == "Alice: hello lobby"
        await bob.send(json.dumps({"type": "new_message", "payload": "hi"}))
        assert await receive(alice) == "Anon: hi"
        assert await receive(bob) == "Anon: hi"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ("not json at all", "not JSON"),
        ("[1, 2, 3]", "expected a JSON object"),
        ('{"type": "shout", "payload": "x"}', "unknown type"),
        ('{"type": "new_message"}', "missing payload"),
        ('{"type": "new_message", "payload": 5}', "must be text"),
        ('{"type": "new_message", "payload": "   "}', "empty"),
        (json.dumps({"type": "new_message", "payload": "x" * 2001}), "too long"),
        ('{"type": "nickname", "payload": "bell\\u0007"}', "control characters"),
        (b"\x00\x01binary", "binary frames"),
    ],
)
async def test_malformed_frames_get_an_error_text_and_close_nothing(live_server, frame, expected):
    async with websockets.connect(ws_url(live_server)) as sender, websockets.connect(ws_url(live_server)) as other:
        await sender.send(frame)
        reply = await receive(sender)
        assert reply.startswith("error: ")
        assert expected in reply
        # both connections still work, and the other client saw nothing but this
        await sender.send(json.dumps({"type": "new_message", "payload": "after the error"}))
        assert await receive(sender) == "Anon: after the error"
        assert await receive(other) == "Anon: after the error"


async def test_lobby_and_socket_io_rooms_do_not_mix(live_server, connect, room):
    sio_client = await connect()
    await sio_client.call("enter_room", room)
    async with websockets.connect(ws_url(live_server)) as ws:
        await ws.send(json.dumps({"type": "new_message", "payload": "lobby only"}))
        assert await receive(ws) == "Anon: lobby only"
    await sio_client.barrier()
    assert sio_client.received("new_message") == []


async def test_home_page_still_served_at_the_same_path(live_server):
    import httpx

    async with httpx.AsyncClient() as http:
        response = await http.get(live_server.url + "/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
