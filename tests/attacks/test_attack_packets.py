"""Attacks with Socket.IO packets no client library sends (docs/security.md, "Binary
attachments" and "JSON nested too deeply"): headers
announcing binary attachments by the billion, and JSON nested thousands of levels deep, on both
transports, several namespaces and the plain WebSocket lobby, from several addresses at once while a
well-behaved pair chats.

Hand-written Engine.IO clients (`EngineSocket`, `EnginePolling`) send exactly the frames wanted.
"""

from __future__ import annotations

import asyncio
import json
import re

import httpx
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from support import ProcessProbe, Recorder, attacker_addresses, eventually, scrape

MB = 1 << 20
# a BINARY_EVENT on / announcing 9,999,999,999 attachments (the most python-socketio parses), and a
# BINARY_ACK doing the same
BINARY_EVENT = '459999999999-["upload",{"_placeholder":true,"num":0}]'
BINARY_ACK = '469999999999-0[{"_placeholder":true,"num":0}]'
DEEP = 5000  # levels: far past the interpreter's recursion limit (1000)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


class EngineSocket:
    """An Engine.IO WebSocket client from a loopback address of its own, connected to `/`."""

    def __init__(self, url: str, source: str) -> None:
        self.url = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        self.source = source

    async def __aenter__(self) -> EngineSocket:
        self.ws = await ws_connect(
            self.url, local_addr=(self.source, 0), ping_interval=None, max_size=None, open_timeout=10
        )
        assert (await self.ws.recv()).startswith("0{")  # Engine.IO OPEN
        await self.ws.send("40")
        assert (await self.ws.recv()).startswith("40{")  # connected to /
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def closed_by_server(self, timeout: float = 10) -> bool:
        """Whether the server closes the connection within `timeout` (what it sent meanwhile is read
        and dropped: pings included, which are not answered)."""
        try:
            async with asyncio.timeout(timeout):
                async for _ in self.ws:
                    pass
        except TimeoutError:
            return False
        except ConnectionClosed:
            pass
        return True


class EnginePolling:
    """An Engine.IO long-polling client from a loopback address of its own, connected to `/`. Like
    every long-polling client it keeps a GET waiting while it posts (the server's replies, a CLOSE
    included, go out through it)."""

    def __init__(self, url: str, source: str) -> None:
        self.url = url + "/socket.io/?EIO=4&transport=polling"
        self.http = httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(local_address=source), timeout=5)
        self.replies: list[str] = []

    async def __aenter__(self) -> EnginePolling:
        opened = await self.http.get(self.url)
        self.session = f"{self.url}&sid={json.loads(opened.text[1:])['sid']}"
        await self.http.post(self.session, content="40", headers={"Content-Type": "text/plain"})
        assert (await self.http.get(self.session)).text.startswith("40{")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.http.aclose()

    async def _poll(self) -> None:
        try:
            reply = await self.http.get(self.session)
        except httpx.TimeoutException:
            return  # nothing for us within the timeout
        self.replies.append(f"{reply.status_code} {reply.text}")

    async def post(self, body: str) -> int:
        """POST `body` while a GET waits; the POST's status."""
        poll = asyncio.create_task(self._poll())
        try:
            posted = await self.http.post(self.session, content=body, headers={"Content-Type": "text/plain"})
        except httpx.TimeoutException:
            return 0
        finally:
            await poll
        return posted.status_code

    def closed_by_server(self) -> bool:
        """Whether the server ended the session: a reply held its CLOSE packet ("1"), or said 400."""
        return any(reply.startswith("400") or "1" in reply[4:].split("\x1e") for reply in self.replies)


async def chatting_pair(url: str, room: str) -> tuple[Recorder, Recorder]:
    alice, bob = Recorder(url), Recorder(url)
    await alice.connect()
    await bob.connect()
    for client in (alice, bob):
        assert (await client.call("enter_room", room))["ok"]
    return alice, bob


async def chat(alice: Recorder, bob: Recorder, room: str, texts: list[str]) -> None:
    """Alice says each text; Bob hears every one of them, in order."""
    for text in texts:
        assert (await alice.call("new_message", text, room))["ok"]
    await bob.wait_for("new_message", lambda line, message: message["text"] == texts[-1])
    heard = [m["text"] for _, m in bob.received("new_message")]
    assert heard[-len(texts) :] == texts


async def test_binary_attachments_are_refused_before_anything_is_buffered(server_factory, room):
    server = server_factory("--max-packet-bytes", "131072", "--message-rate", "100", "--message-burst", "1000")
    probe = ProcessProbe(server.process.pid)
    alice, bob = await chatting_pair(server.url, room)
    try:
        await chat(alice, bob, room, [f"before {i}" for i in range(20)])
        start = probe.rss_bytes()
        chunk = bytes(100_000)
        frames = 100  # per connection: ~10 MB each, ~100 MB for the nine WebSocket attackers

        async def over_websocket(address: str, header: str) -> bool:
            async with EngineSocket(server.url, address) as attacker:
                await attacker.ws.send(header)
                try:
                    for _ in range(frames):
                        await attacker.ws.send(chunk)
                except ConnectionClosed:
                    pass  # closed by the server before all were sent
                return await attacker.closed_by_server()

        async def over_polling(address: str) -> bool:
            async with EnginePolling(server.url, address) as attacker:
                await attacker.post(BINARY_EVENT)
                for _ in range(10):
                    if await attacker.post("b" + "A" * 100_000) != 200:
                        break
                return attacker.closed_by_server()

        addresses = attacker_addresses(5)
        attacks = [over_websocket(addresses[i % 5], BINARY_EVENT if i % 2 else BINARY_ACK) for i in range(9)]
        attack = asyncio.gather(*attacks, over_polling(addresses[0]))
        during = asyncio.create_task(chat(alice, bob, room, [f"during {i}" for i in range(50)]))
        closed = await attack
        await during
        grown = probe.rss_bytes() - start
        print(f"RSS grew by {grown / MB:.1f} MB")  # ~90 MB when attachments were buffered
        assert grown < 40 * MB, f"the server grew by {grown / MB:.0f} MB"
        assert closed == [True] * 10
        await chat(alice, bob, room, [f"after {i}" for i in range(20)])
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = scrape((await http.get("/metrics")).text)
        assert metrics[("videochat_rejected_inputs_total", frozenset({("reason", "malformed_packet")}))] >= 10
        assert "Traceback" not in server.log
        await eventually(
            lambda: len(re.findall(r"malformed Socket.IO packet.*binary data", server.log)) >= 10, what="the warnings"
        )
        assert len(re.findall(r"malformed Socket.IO packet.*binary data", server.log)) == 10
    finally:
        await alice.disconnect()
        await bob.disconnect()


async def test_deeply_nested_json_closes_the_connection_with_one_warning(server_factory, room):
    server = server_factory()
    alice, bob = await chatting_pair(server.url, room)
    deep = nested(DEEP)
    try:

        async def over_websocket(address: str, message: str) -> bool:
            async with EngineSocket(server.url, address) as attacker:
                await attacker.ws.send(message)
                return await attacker.closed_by_server()

        async def over_polling(address: str) -> bool:
            async with EnginePolling(server.url, address) as attacker:
                await attacker.post(f'42["new_message",{deep},{json.dumps(room)}]')
                return attacker.closed_by_server()

        async def in_the_lobby(address: str) -> int | None:
            url = server.url.replace("http", "ws", 1) + "/"
            async with ws_connect(url, local_addr=(address, 0), ping_interval=None) as lobby:
                await lobby.send(json.dumps({"type": "nickname", "payload": "x"})[:-1] + f', "extra": {deep}}}')
                try:
                    async with asyncio.timeout(10):
                        async for _ in lobby:
                            pass
                except TimeoutError:
                    return None
                except ConnectionClosed:
                    pass
                return lobby.close_code

        addresses = attacker_addresses(5)
        results = await asyncio.gather(
            # an event on / (videochat's own decoding), on another namespace and an ack (the
            # library's), and an Engine.IO message that is no Socket.IO packet (Engine.IO's decoding)
            over_websocket(addresses[0], f'42["new_message",{deep},{json.dumps(room)}]'),
            over_websocket(addresses[1], f"42/elsewhere,{deep}"),
            over_websocket(addresses[2], f"431{deep}"),
            over_websocket(addresses[3], f"4{deep}"),
            over_polling(addresses[4]),
            in_the_lobby(addresses[0]),
        )
        assert results == [True, True, True, True, True, 1008], results
        await chat(alice, bob, room, [f"after {i}" for i in range(5)])
        assert "Traceback" not in server.log and "RecursionError" not in server.log
        # one warning for each connection, and nothing else about them (the log is read from the
        # server's output as it comes: on a loaded machine, after the closes were seen)
        await eventually(
            lambda: len(re.findall("malformed Socket.IO packet", server.log)) >= 5, what="the five warnings"
        )
        assert len(re.findall("malformed Socket.IO packet", server.log)) == 5, server.log
        await eventually(lambda: "nested too deeply" in server.log, what="the lobby's warning")
        assert len(re.findall("nested too deeply", server.log)) == 1
    finally:
        await alice.disconnect()
        await bob.disconnect()
