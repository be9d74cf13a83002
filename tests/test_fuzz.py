"""Property-based fuzzing of a live server: random events, argument shapes, types, sizes and raw frames
from several clients at once. Whatever they send, the well-behaved clients keep being served, no
unhandled exception is logged, and nothing reaches a room its sender is not in."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from typing import Any

import pytest
import socketio
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support import ServerProcess

GUARDED_ROOM = "guarded"  # the well-behaved clients' room: fuzzers are never let into it
KNOWN_EVENTS = ["nickname", "enter_room", "new_message", "leave_room", "list_rooms", "join_room",
                "offer", "answer", "ice", "media_state", "leave_call", "error", "connect", "disconnect",
                "welcome", "bye", "room_change"]

texts = st.text(max_size=80) | st.text(min_size=2000, max_size=2100) | st.sampled_from(
    ["", " ", "\x00", "\u202e", "\ud800", "<script>", "a" * 70, "guarded-not", "lobby"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**63, max_value=2**63) | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["payload", "type", "sdp", "candidate", "x"]) | st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
rooms = st.sampled_from(["fuzz-a", "fuzz-b", {"payload": "fuzz-a"}, {"payload": None}, None, 7, ["fuzz-a"]])
event_names = st.sampled_from(KNOWN_EVENTS) | st.text(max_size=20)
actions = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # which fuzzer
        event_names,
        st.lists(json_values | rooms, max_size=4),
        st.booleans(),  # with an ack
    ),
    min_size=5,
    max_size=25,
)
raw_frames = st.lists(
    st.sampled_from(["42", "4", "42[", '42["new_message"', "43", "41", "40/nope,", "2", "6", "451-[\"x\",{\"_placeholder\":true,\"num\":0}]",
                     '42["enter_room",{"payload":"guarded"}]'])
    | st.text(max_size=60).map(lambda t: "42" + t)
    | st.builds(lambda v: "42" + json.dumps(v), json_values),
    min_size=1,
    max_size=10,
)


def guarded(value: Any) -> bool:
    """Whether an argument names the guarded room (then the action is dropped: not a fuzz target)."""
    return GUARDED_ROOM in json.dumps(value, default=str)


class Guard:
    """Two well-behaved clients in the guarded room; everything else they receive is a leak."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.alice = socketio.AsyncClient(reconnection=False)
        self.bob = socketio.AsyncClient(reconnection=False)
        self.leaks: list[tuple] = []
        self.delivered: list[str] = []

    async def start(self) -> None:
        for client in (self.alice, self.bob):
            await client.connect(self.url, transports=["websocket"], wait_timeout=5)
            assert (await client.call("enter_room", GUARDED_ROOM, timeout=5))["ok"]

        @self.bob.on("new_message")
        async def message(line, *rest):
            if not line.startswith("Anon: check "):
                self.leaks.append(("new_message", line))
            self.delivered.append(line)

        @self.bob.on("welcome")
        async def welcome(*args):
            self.leaks.append(("welcome", args))

        for event in ("offer", "answer", "ice", "media_state"):
            self.bob.on(event, lambda *args, event=event: self.leaks.append((event, args)))

    async def check(self, n: int) -> None:
        """Alice's message reaches Bob: the server still serves the well-behaved."""
        reply = await self.alice.call("new_message", (f"check {n}", GUARDED_ROOM), timeout=10)
        assert reply["ok"], reply
        deadline = asyncio.get_running_loop().time() + 10
        while f"Anon: check {n}" not in self.delivered:
            assert asyncio.get_running_loop().time() < deadline, "the well-behaved client was not served"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        for client in (self.alice, self.bob):
            await client.disconnect()


def run(coroutine) -> None:
    """Run a coroutine on a loop of its own in a thread (hypothesis drives plain functions)."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as error:  # reported in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "fuzz round did not finish"
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    # generous rates, so that the fuzzers reach the handlers instead of the rate limiter
    server = ServerProcess(tmp_path_factory.mktemp("fuzz"), "--ip-rate-factor", "1000", "--max-connections-per-ip", "0",
                           "--max-tcp-connections-per-ip", "0",
                           "--message-burst", "100000", "--join-burst", "100000", "--nickname-burst", "100000",
                           "--request-burst", "100000", "--signal-burst", "100000").start()
    yield server
    server.stop()
    assert "Traceback" not in server.log, server.log
    assert "Task exception was never retrieved" not in server.log, server.log
    # (uvicorn's own "timeout graceful shutdown exceeded" is about connections the fuzzers' threads
    # may still hold open when the server stops; it is not an error of the server's)
    errors = [line for line in server.log.splitlines()
              if re.search(r" (ERROR|CRITICAL)\s", line) and "timeout graceful shutdown exceeded" not in line]
    assert errors == [], "\n".join(errors)


counter = iter(range(10**9))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(actions=actions)
def test_random_events_from_several_clients_harm_nobody(fuzz_server, actions):
    async def round_() -> None:
        guard = Guard(fuzz_server.url)
        await guard.start()
        fuzzers = [socketio.AsyncClient(reconnection=False) for _ in range(3)]
        for fuzzer in fuzzers:
            await fuzzer.connect(fuzz_server.url, transports=["websocket"], wait_timeout=5)

        async def act(index: int, event: str, args: list, with_ack: bool) -> None:
            client = fuzzers[index]
            if guarded(args) or guarded(event) or not client.connected:
                return
            data = tuple(args) if len(args) != 1 else args[0]
            try:
                if with_ack:
                    await client.call(event, data if args else None, timeout=5)
                else:
                    await client.emit(event, data if args else None)
            except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError, ValueError, TypeError):
                pass  # reserved names and unencodable values are refused by the client library itself

        await asyncio.gather(*(act(*action) for action in actions))
        await guard.check(next(counter))
        for fuzzer in fuzzers:
            await fuzzer.disconnect()
        await guard.stop()
        assert guard.leaks == [], guard.leaks

    run(round_())


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(frames=raw_frames)
def test_malformed_socket_io_packets_harm_nobody(fuzz_server, frames):
    async def round_() -> None:
        guard = Guard(fuzz_server.url)
        await guard.start()
        url = fuzz_server.url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(url) as raw:
            await raw.recv()  # the Engine.IO open packet
            await raw.send("40")
            for frame in frames:
                if guarded(frame):
                    continue
                try:
                    await raw.send(frame)
                except websockets.exceptions.ConnectionClosed:
                    break  # the server may drop a client that breaks the protocol; that is fine
        await guard.check(next(counter))
        await guard.stop()
        assert guard.leaks == [], guard.leaks

    run(round_())
