"""The signaling fast path (broadcast.py, directio.py, fastws.py; docs/internals.md) with the
official clients: python-socketio's AsyncClient and the Node socket.io-client, on WebSocket,
long-polling and a long-polling connection that upgrades, all in the same rooms."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import urllib.request
from pathlib import Path

from support import Recorder, eventually, scrape

NODE_DIR = Path(__file__).parent / "node"
APP = Path(__file__).parent / "fastpath_app.py"


def run_node(script: str, *args: str) -> dict:
    node = shutil.which("node")
    assert node, "Node.js is installed by scripts/setup"
    result = subprocess.run([node, str(NODE_DIR / script), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout)


def test_fastpath_official_node_client_on_every_transport(fresh_server):
    count = 15  # within the rate limit's burst (20)
    log = run_node("fastpath.mjs", fresh_server.url, "fast-room", str(count))
    assert {name: log[name]["transport"] for name in ("alice", "bob", "carol")} == {
        "alice": "websocket",
        "bob": "polling",
        "carol": "websocket",
    }
    ids = {name: log[name]["id"] for name in ("alice", "bob", "carol")}
    for name in ("alice", "bob", "carol"):
        events = log[name]["events"]
        # the ack of enter_room comes before the room_change it causes (ack first, then broadcasts)
        entered = next(i for i, e in enumerate(events) if e[:2] == ["(ack)", "enter_room"])
        assert events[entered + 1][0] == "room_change", events[entered : entered + 2]
        # alice's rename reaches everyone in the room, her included before her ack (broadcast first)
        renamed = [
            i for i, e in enumerate(events) if e[0] == "nickname_change" and e[1]["member"]["nickname"] == "alice2"
        ]
        assert len(renamed) == 1
        if name == "alice":
            assert events[renamed[0] + 1][:2] == ["(ack)", "nickname"]
        # every message of the others, none of one's own (skip_sid), each sender's in order
        messages = [e for e in events if e[0] == "new_message"]
        authors = {m[2]["author"]["id"] for m in messages}
        assert authors == {ids[other] for other in ids if other != name}
        for other in ids:
            if other != name:
                texts = [m[2]["text"] for m in messages if m[2]["author"]["id"] == ids[other]]
                assert texts == [f"{other} {i}" for i in range(count)]
        acks = [e[2] for e in events if e[:2] == ["(ack)", "new_message"]]
        assert sorted(a["message"]["text"] for a in acks) == sorted(f"{name} {i}" for i in range(count))
        assert all(a["ok"] for a in acks)
    # to=sid: only bob hears the owner's mute request
    assert [e[0] for e in log["bob"]["events"]].count("mute_request") == 1
    assert not any(e[0] == "mute_request" for name in ("alice", "carol") for e in log[name]["events"])


async def test_fastpath_python_clients_mixed_transports(fresh_server, room, path):
    # each of the two runs serves through the path it names (--fast-path on, off)
    wanted = "the fast path" if path == "fast" else "the libraries' stock code"
    assert f"Socket.IO served through {wanted}" in fresh_server.log
    sender = await Recorder(fresh_server.url, transports=["websocket"]).connect()
    listeners = [
        await Recorder(fresh_server.url, transports=transports).connect()
        for transports in (["websocket"], ["polling"], ["polling", "websocket"])
    ]
    everyone = [sender, *listeners]
    try:
        await _mixed_transports(sender, listeners, room)
    except AssertionError:
        print(fresh_server.log)
        raise
    finally:
        for client in everyone:
            await client.disconnect()


async def _mixed_transports(sender, listeners, room):
    everyone = [sender, *listeners]
    for client in everyone:
        assert (await client.call("enter_room", room))["ok"]
    # python-engineio's client refuses a long-polling reply of more than 16 packets: stay below
    count = 10
    replies = await asyncio.gather(*(sender.call("new_message", f"m{i}", room) for i in range(count)))
    assert all(reply["ok"] for reply in replies)
    for listener in listeners:
        await listener.wait_for("new_message", lambda text, message: message["text"] == f"m{count - 1}")
        await listener.barrier()
        texts = [message["text"] for _, message in listener.received("new_message")]
        assert texts == [f"m{i}" for i in range(count)]  # one sender's broadcasts stay in order
    await sender.barrier()
    assert sender.received("new_message") == []  # skip_sid: not to the sender
    # a private message (to=sid) on each transport
    for listener in listeners:
        assert (await sender.call("ask_mute", room, listener.sid))["ok"]
        await listener.wait_for("mute_request", lambda request: request["room"] == room)
    await sender.barrier()
    assert sender.received("mute_request") == []


async def test_fastpath_binary_payloads_and_pings(tmp_path):
    process = subprocess.Popen(
        [sys.executable, str(APP)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 30)
        assert line.startswith("listening on "), line + (process.stdout.read() if process.poll() is not None else "")
        url = line.split()[-1]
        log = await asyncio.to_thread(run_node, "fastpath_binary.mjs", url)
        assert log["ws"]["ack"] == {"ok": True, "bytes": 4} and log["polling"]["ack"] == {"ok": True, "bytes": 2}
        assert log["polling"]["blobs"] == [{"bytes": [1, 2, 3, 255], "from": log["ws"]["id"]}]
        assert log["ws"]["blobs"] == [{"bytes": [0, 9], "from": log["polling"]["id"]}]
        assert log["ws"]["after"] == {"ok": True} and log["polling"]["after"] == {"ok": True}
        # binary from a client is a protocol error (attachments filled memory: docs/security.md): closed
        assert log["refused"] == {"ws": "transport close", "polling": "transport close"}, log["refused"]
        # and python-socketio's client (WebSocket; long-polling is covered by the Node client above)
        sender = await Recorder(url, transports=["websocket"]).connect()
        receiver = await Recorder(url, transports=["websocket"]).connect()
        try:
            for client in (sender, receiver):
                await client.call("join", "py-room")
            assert (await sender.call("blob", "py-room", list(b"\x00\xffbinary")))["bytes"] == 8
            data, meta = await receiver.wait_for("blob")
            assert data == b"\x00\xffbinary" and meta == {"from": sender.sid}
        finally:
            await sender.disconnect()
            await receiver.disconnect()
        # a client that stops answering pings is closed by the ping timeout (2 s here): the server
        # closes the WebSocket (1000), long before uvicorn's own keepalive would (1011, after 20 s)
        silent = await RawClient(int(url.rsplit(":", 1)[1])).open()
        try:
            frames = []
            while not frames or frames[-1][0] != 8:  # until the WebSocket close frame
                frames.append(await silent.read_frame())
            assert (1, b"2") in frames  # an Engine.IO ping it did not answer
            assert not [f for f in frames if f[0] == 9], frames  # and no WebSocket ping besides
            assert struct.unpack("!H", frames[-1][1][:2])[0] == 1000, frames
        finally:
            silent.close()
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()


class RawClient:
    """A WebSocket Engine.IO client written by hand, to send frames no library sends (fragments,
    pings, invalid ones) and to stop reading at will. Its receive buffer is small, so the server
    cannot park much in the kernel for it once it stops."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sid = ""

    async def open(self) -> RawClient:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", self.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            (
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        await self.reader.readuntil(b"\r\n\r\n")
        opcode, data = await self.read_frame()
        assert data.startswith(b"0"), data  # Engine.IO open
        self.send("40")
        connected = await self.read_text()
        assert connected.startswith("40"), connected
        self.sid = json.loads(connected[2:])["sid"]
        return self

    async def read_frame(self) -> tuple[int, bytes]:
        head = await self.reader.readexactly(2)
        length = head[1] & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return head[0] & 0x0F, await self.reader.readexactly(length)

    async def read_text(self) -> str:
        """The next text frame (answering Engine.IO pings on the way)."""
        while True:
            opcode, data = await self.read_frame()
            if opcode == 1:
                return data.decode()

    @staticmethod
    def frame(data: bytes, opcode: int = 1, fin: bool = True) -> bytes:
        mask = os.urandom(4)
        length = len(data)
        head = bytes(((0x80 if fin else 0) | opcode,))
        if length < 126:
            head += bytes((0x80 | length,))
        elif length < 65536:
            head += bytes((0x80 | 126,)) + struct.pack("!H", length)
        else:
            head += bytes((0x80 | 127,)) + struct.pack("!Q", length)
        return head + mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))

    def send(self, text: str) -> None:
        self.writer.write(self.frame(text.encode()))

    async def call(self, ack_id: int, *args: object) -> object:
        self.send(f"42{ack_id}" + json.dumps(list(args)))
        while True:
            text = await self.read_text()
            if text.startswith(f"43{ack_id}["):
                return json.loads(text[len(f"43{ack_id}") :])[0]

    def close(self) -> None:
        self.writer.transport.abort()


async def test_fastpath_reads_every_kind_of_client_frame(fresh_server, room):
    client = await RawClient(fresh_server.port).open()
    try:
        assert (await client.call(1, "enter_room", room))["ok"]
        # several frames in one write, and one frame in pieces
        client.writer.write(client.frame(b'421["list_rooms"]') + client.frame(b'422["list_rooms"]'))
        assert (await client.call(3, "list_rooms"))["ok"]
        whole = client.frame(b'424["new_message","in pieces",' + json.dumps(room).encode() + b"]")
        for i in range(0, len(whole), 3):
            client.writer.write(whole[i : i + 3])
            await client.writer.drain()
        while not (text := await client.read_text()).startswith("434"):
            pass
        assert json.loads(text[3:])[0]["message"]["text"] == "in pieces"
        # a ping from the client gets its pong (websockets takes over the connection from here)
        client.writer.write(client.frame(b"hello", opcode=9))
        while (frame := await client.read_frame()) != (10, b"hello"):
            pass
        # a message in two fragments
        client.writer.write(
            client.frame(b'425["new_message","frag', fin=False)
            + client.frame(b'mented",' + json.dumps(room).encode() + b"]", opcode=0)
        )
        while not (text := await client.read_text()).startswith("435"):
            pass
        assert json.loads(text[3:])[0]["message"]["text"] == "fragmented"
    finally:
        client.close()
    # a frame over the size limit closes that connection (1009), before and after the hand-over
    for hand_over in (False, True):
        client = await RawClient(fresh_server.port).open()
        try:
            if hand_over:
                client.writer.write(client.frame(b"", opcode=9))
                while await client.read_frame() != (10, b""):
                    pass
            client.writer.write(client.frame(b"4" + b"x" * 131073))
            while (frame := await client.read_frame())[0] != 8:
                pass
            assert struct.unpack("!H", frame[1][:2])[0] == 1009
        finally:
            client.close()
    # the server carries on
    other = await Recorder(fresh_server.url).connect()
    assert (await other.call("list_rooms"))["ok"]
    await other.disconnect()


async def test_fastpath_slow_reader_is_dropped_at_the_bound(server_factory, room):
    limit = 262144
    server = server_factory("--max-outgoing-bytes", str(limit), "--message-rate", "100000", "--message-burst", "100000")
    slow = await RawClient(server.port).open()
    assert (await slow.call(1, "enter_room", room))["ok"]  # and from now on, never reads
    talker = await Recorder(server.url).connect()
    try:
        assert (await talker.call("enter_room", room))["ok"]
        text = "x" * 2000
        sent = 0
        # talk until the server gives up on the reader: the others hear it leave (`bye`)
        while not any(args[2]["member"]["id"] == slow.sid for args in talker.received("bye")):
            replies = await asyncio.gather(*(talker.call("new_message", text, room) for _ in range(50)))
            assert all(reply["ok"] for reply in replies)  # the talker is never slowed down
            sent += 50
            assert sent < 20000, "the slow reader was never dropped"
        # the log reaches the test through a pipe and a thread: it may come after the `bye`
        await eventually(lambda: "too slow to read" in server.log, what="the drop in the log")
        metrics = await asyncio.to_thread(lambda: urllib.request.urlopen(f"{server.url}/metrics").read().decode())
        assert scrape(metrics)[("videochat_slow_clients_dropped_total", frozenset())] == 1
        # the server held at most the bound for it (plus what the kernel buffers): far less than was sent
        assert sent * 2000 > 4 * limit
    finally:
        slow.close()
        await talker.disconnect()


async def test_fastpath_closed_connections_are_freed_without_the_cycle_collector(tmp_path):
    """A closed connection's objects are freed by reference counting (docs/internals.md, "Memory
    per idle connection"): nothing of it waits for a ping timer or for the cycle collector."""
    import gc
    import weakref

    import uvicorn

    from videochat.app import create_app
    from videochat.fastpath.fastws import DirectWebSocketProtocol
    from videochat.settings import Settings

    app = create_app(Settings(data_dir=tmp_path).validate())
    # python-engineio's service task walks a copy of the socket list, one round per ping timeout
    # (20 s), and holds the sockets it copied until the round ends: not the holders looked for here
    app.sio.eio.start_service_task = False
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, ws=DirectWebSocketProtocol, lifespan="on", log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + 20
        while not server.started:
            assert loop.time() < deadline and not serving.done(), "the server did not start"
            await asyncio.sleep(0.02)
        raw = await RawClient(port).open()
        official = await Recorder(f"http://127.0.0.1:{port}", transports=["websocket"]).connect()
        assert (await official.call("list_rooms"))["ok"]
        protocols = [weakref.ref(p) for p in server.server_state.connections]
        assert len(protocols) == 2 and all(isinstance(ref(), DirectWebSocketProtocol) for ref in protocols)
        gc.disable()
        try:
            raw.close()
            await official.disconnect()
            # well within a ping interval (25 s), which a ping timer per socket used to hold it for
            deadline = loop.time() + 15
            while any(ref() is not None for ref in protocols):
                assert loop.time() < deadline, "a closed connection is still in memory"
                await asyncio.sleep(0.05)
        finally:
            gc.enable()
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
