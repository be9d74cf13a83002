"""Abuse resistance, end to end: rate limits, connection caps, packet size, origins, proxies, headers."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import socketio
import websockets
import websockets.exceptions  # websockets 17 loads its submodules lazily: a test run alone needs it named

from support import Recorder, ServerProcess


def ws_url(server: ServerProcess) -> str:
    return server.url.replace("http", "ws", 1) + "/"


async def until_accepted(attempt, timeout: float = 10.0):
    """Retry `attempt()` until it is not refused for rate (the bucket refills), within `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        reply = await attempt()
        if reply.get("ok") or reply["error"]["code"] != "rate_limited":
            return reply
        assert asyncio.get_running_loop().time() < deadline, f"still refused after {timeout}s: {reply}"
        await asyncio.sleep(0.1)


async def test_chat_messages_over_the_rate_are_refused_clearly_then_allowed_again(server_factory):
    server = server_factory("--message-rate", "2", "--message-burst", "3")
    sender, other, listener = [await Recorder(server.url).connect() for _ in range(3)]
    try:
        for client in (sender, other, listener):
            await client.call("enter_room", "limited")
        replies = [await sender.call("new_message", f"m{i}", "limited") for i in range(4)]
        assert [r["ok"] for r in replies] == [True, True, True, False]
        error = replies[3]["error"]
        assert error["code"] == "rate_limited"
        assert "chat messages" in error["message"] and "2 per second" in error["message"]
        # the sender is still connected, another connection has its own budget
        assert sender.sio.connected
        assert (await other.call("new_message", "mine", "limited"))["ok"]
        # and the sender may talk again once the bucket refills
        assert (await until_accepted(lambda: sender.call("new_message", "later", "limited")))["ok"]
        await listener.wait_for("new_message", lambda line, *_: line.endswith(": later"))
        assert [args[0].split(": ")[1] for args in listener.received("new_message")] == [
            "m0",
            "m1",
            "m2",
            "mine",
            "later",
        ]
    finally:
        for client in (sender, other, listener):
            await client.disconnect()


async def test_refusal_without_ack_is_an_error_event(server_factory):
    server = server_factory("--nickname-rate", "0.5", "--nickname-burst", "1")
    client = await Recorder(server.url).connect()
    try:
        await client.emit("nickname", "first")
        await client.emit("nickname", "second")
        (error,) = await client.wait_for("error")
        assert error["code"] == "rate_limited" and error["event"] == "nickname"
        assert "nickname changes" in error["message"]
    finally:
        await client.disconnect()


async def test_joins_and_other_requests_have_their_own_buckets(server_factory):
    server = server_factory("--join-rate", "0.5", "--join-burst", "2", "--request-rate", "0.5", "--request-burst", "2")
    client = await Recorder(server.url).connect()
    try:
        joins = [await client.call("enter_room", f"r{i}") for i in range(3)]
        assert [j["ok"] for j in joins] == [True, True, False]
        assert "room joins" in joins[2]["error"]["message"]
        assert (await client.call("new_message", "joins do not spend messages", "r0"))["ok"]
        requests = [await client.call("list_rooms") for _ in range(3)]
        assert [r["ok"] for r in requests] == [True, True, False]
        assert (await client.call("no_such_event"))["error"]["code"] == "rate_limited"
    finally:
        await client.disconnect()


async def test_connections_from_one_address_share_a_budget(server_factory):
    server = server_factory("--message-rate", "0.5", "--message-burst", "2", "--ip-rate-factor", "2")
    clients = [await Recorder(server.url).connect() for _ in range(3)]
    try:
        for client in clients:
            await client.call("enter_room", "shared")
        sent = [await clients[i // 2].call("new_message", f"m{i}", "shared") for i in range(4)]
        assert all(reply["ok"] for reply in sent)  # 2 each from two connections: the address's 4
        third = await clients[2].call("new_message", "one more", "shared")
        assert third["error"]["code"] == "rate_limited"
        assert "network address" in third["error"]["message"]
    finally:
        for client in clients:
            await client.disconnect()


async def test_lobby_messages_are_rate_limited_too(server_factory):
    server = server_factory("--message-rate", "0.5", "--message-burst", "2")
    async with websockets.connect(ws_url(server)) as ws:
        for i in range(3):
            await ws.send(json.dumps({"type": "new_message", "payload": f"m{i}"}))
        replies = [await asyncio.wait_for(ws.recv(), 5) for _ in range(3)]
        assert replies[:2] == ["Anon: m0", "Anon: m1"]
        assert replies[2].startswith("error: Too many chat messages")


async def test_connections_per_address_are_capped_for_socket_io_and_the_lobby(server_factory):
    server = server_factory("--max-connections-per-ip", "2")
    first, second = await Recorder(server.url).connect(), await Recorder(server.url).connect()
    refused = Recorder(server.url)
    reasons: list = []
    refused.sio.on("connect_error", lambda data: reasons.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await refused.connect()
    assert reasons and reasons[0]["data"] == {"code": "too_many_connections"}
    assert "Too many connections" in reasons[0]["message"]
    with pytest.raises(websockets.exceptions.InvalidStatus) as lobby_refusal:
        async with websockets.connect(ws_url(server)):
            pass
    assert lobby_refusal.value.response.status_code == 403
    await second.disconnect()
    # a freed slot is usable again (the server forgets closed connections)
    again = Recorder(server.url)
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            await again.connect()
            break
        except socketio.exceptions.ConnectionError:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
    assert (await again.call("list_rooms"))["ok"]
    await first.disconnect()
    await again.disconnect()


async def test_oversized_packets_close_only_that_connection(server_factory):
    server = server_factory("--max-packet-bytes", "6000", "--max-sdp-bytes", "1024", "--max-message", "100000")
    big, bystander = await Recorder(server.url).connect(), await Recorder(server.url).connect()
    try:
        await big.call("enter_room", "sizes")
        await bystander.call("enter_room", "sizes")
        await big.emit("new_message", "x" * 10_000, "sizes")
        deadline = asyncio.get_running_loop().time() + 10
        while big.sio.connected:
            assert asyncio.get_running_loop().time() < deadline, "oversized packet did not close the connection"
            await asyncio.sleep(0.05)
        assert (await bystander.call("list_rooms"))["ok"]
        async with websockets.connect(ws_url(server), max_size=None) as ws:
            await ws.send(json.dumps({"type": "new_message", "payload": "y" * 10_000}))
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    finally:
        await big.disconnect()
        await bystander.disconnect()


async def test_only_the_apps_own_origin_and_listed_ones_may_connect(server_factory):
    server = server_factory("--allowed-origins", "https://friend.example")
    own = f"http://127.0.0.1:{server.port}"
    engine_io = server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    async with httpx.AsyncClient(base_url=server.url) as http:
        for origin, allowed in (
            (own, True),
            ("https://friend.example", True),
            ("https://evil.example", False),
            (f"https://127.0.0.1:{server.port}", False),
            (None, True),
        ):
            headers = {"Origin": origin} if origin else {}
            polling = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"}, headers=headers)
            assert (polling.status_code == 200) is allowed, (origin, polling.text)
            for url in (engine_io, ws_url(server)):  # Socket.IO's websocket, and the plain lobby
                if allowed:
                    async with websockets.connect(url, origin=origin):
                        pass
                else:
                    with pytest.raises(websockets.exceptions.InvalidStatus):
                        async with websockets.connect(url, origin=origin):
                            pass


async def test_pages_served_over_https_may_connect_from_their_own_origin(server_factory):
    import ssl

    server = server_factory("--self-signed")
    context = ssl.create_default_context(cafile=str(server.data_dir / "tls" / "self-signed.crt"))
    own = f"https://127.0.0.1:{server.port}"
    url = f"wss://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, origin=own, ssl=context) as ws:
        assert (await asyncio.wait_for(ws.recv(), 5)).startswith("0{")
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(url, origin=f"http://127.0.0.1:{server.port}", ssl=context):
            pass


async def test_forwarded_addresses_are_believed_only_from_trusted_proxies(server_factory):
    async def connect_as(server: ServerProcess, address: str) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url, headers={"X-Forwarded-For": address}, transports=["websocket"], wait_timeout=5)
        return client

    untrusted = server_factory("--max-connections-per-ip", "1")
    first = await connect_as(untrusted, "203.0.113.1")
    with pytest.raises(socketio.exceptions.ConnectionError):  # both are 127.0.0.1 really
        await connect_as(untrusted, "203.0.113.2")
    await first.disconnect()

    trusted = server_factory("--max-connections-per-ip", "1", "--trusted-proxies", "127.0.0.1")
    clients = [await connect_as(trusted, "203.0.113.1"), await connect_as(trusted, "203.0.113.2")]
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect_as(trusted, "203.0.113.1")
    for client in clients:
        await client.disconnect()


async def test_security_headers_on_every_kind_of_response(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        for path, params in (
            ("/", None),
            ("/r/x", None),
            ("/api/rooms", None),
            ("/static/js/protocol.js", None),
            ("/socket.io/socket.io.js", None),
            ("/missing", None),
            ("/socket.io/", {"EIO": "4", "transport": "polling"}),
        ):
            headers = (await http.get(path, params=params)).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
            assert "frame-ancestors 'none'" in csp, path
            policy = headers["permissions-policy"]
            assert "camera=(self)" in policy and "microphone=(self)" in policy and "display-capture=(self)" in policy
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["referrer-policy"] == "no-referrer", path


async def test_sdp_and_candidate_sizes_are_capped_as_configured(server_factory):
    server = server_factory("--max-sdp-bytes", "2000", "--max-candidate-bytes", "300")
    alice, bob = Recorder(server.url), Recorder(server.url)
    await alice.connect()
    await bob.connect()
    try:
        for client in (alice, bob):
            await client.call("join_room", "sized")
        fits = {"type": "offer", "sdp": "v" * 2000}
        assert (await alice.call("offer", fits, "sized", bob.sid))["ok"]
        too_long = await alice.call("offer", {"type": "offer", "sdp": "v" * 2001}, "sized", bob.sid)
        assert too_long["error"]["code"] == "invalid_description" and "2000 bytes" in too_long["error"]["message"]
        candidate = {"candidate": "c" * 301, "sdpMid": "0", "sdpMLineIndex": 0}
        refused = await alice.call("ice", candidate, "sized", bob.sid)
        assert refused["error"]["code"] == "invalid_candidate" and "300 bytes" in refused["error"]["message"]
        (offer, from_id, _) = await bob.wait_for("offer")
        assert offer == fits and from_id == alice.sid
        await bob.barrier()
        assert len(bob.received("offer")) == 1 and bob.received("ice") == []
    finally:
        await alice.disconnect()
        await bob.disconnect()
