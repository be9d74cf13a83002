"""Property-based fuzzing of a live server: random events, argument shapes, types, sizes and raw frames
from several clients at once. Whatever they send, the well-behaved clients keep being served, no
unhandled exception is logged, nothing reaches a room its sender is not in, and every event sent
with an acknowledgement is answered (an ack, or the `error` event of a reserved name) unless the
server closed that connection for a protocol error.

The events are every event the server registers a handler for (`handled_events()`), so an event
added later is fuzzed without a change here; the fuzzers own a room of their own each round (and
two of them are in its call), so the owner events and the relays reach their real paths.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
import socketio
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videochat.transport.socketio_server import RESERVED_EVENTS

from support import ServerProcess

GUARDED_ROOM = "guarded"  # the well-behaved clients' room: fuzzers are never let into it
OWN_ROOM = "@own"  # stands for the room the round's first fuzzer owns (its two others are members)
MEMBERS = ["@member0", "@member1", "@member2"]  # stand for the fuzzers' ids (owner events' targets)
ACK_TIMEOUT = 10.0  # the longest answer: a wrong password waits 1 s, behind other events


def handled_events() -> list[str]:
    """Every event the server registers a handler for, read from an app built in this process (it
    opens nothing until it serves): new events join the fuzzing by themselves. tests/test_docs.py
    checks that each is in docs/protocol.md."""
    from videochat.app import VideochatApp
    from videochat.settings import Settings

    app = VideochatApp(Settings(data_dir=Path(tempfile.mkdtemp(prefix="fuzz-handlers-"))).validate())
    return sorted(set(app.sio.handlers["/"]) - {"connect", "disconnect", "*"})


HANDLED_EVENTS = handled_events()
OWNER_EVENTS = {"room_settings", "remove_member", "ask_mute", "transfer_owner"}
# names the server does not handle but a client may send anyway: its own events, the libraries'
OTHER_EVENTS = [
    "error",
    "connect",
    "disconnect",
    "connect_error",
    "newListener",
    "*",
    "welcome",
    "bye",
    "room_change",
    "room_update",
    "removed",
]

texts = (
    st.text(max_size=80)
    | st.text(min_size=2000, max_size=2100)
    | st.sampled_from(["", " ", "\x00", "\u202e", "\ud800", "<script>", "a" * 70, "guarded-not", "lobby"])
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63) | st.floats(allow_nan=False) | texts,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["payload", "type", "sdp", "candidate", "x"]) | st.text(max_size=5), inner, max_size=4
        )
    ),
    max_leaves=12,
)
rooms = st.sampled_from(
    [
        "fuzz-a",
        "fuzz-b",
        {"payload": "fuzz-a"},
        {"payload": None},
        None,
        7,
        ["fuzz-a"],
        OWN_ROOM,
        OWN_ROOM,
        {"payload": OWN_ROOM, "password": "pw"},
        *MEMBERS,
    ]
)
owner_changes = st.fixed_dictionaries(
    {},
    optional={
        "password": st.none() | st.sampled_from(["pw", "", "x" * 300]),
        "maxMembers": st.none() | st.integers(-2, 1002) | st.booleans(),
        "private": st.booleans() | st.none(),
    },
)
event_names = st.sampled_from(HANDLED_EVENTS) | st.sampled_from(OTHER_EVENTS) | st.text(max_size=20)
actions = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # which fuzzer
        event_names,
        st.lists(json_values | rooms | owner_changes, max_size=4),
        st.booleans(),  # with an ack
    ),
    min_size=5,
    max_size=25,
)
raw_frames = st.lists(
    st.sampled_from(
        [
            "42",
            "4",
            "42[",
            '42["new_message"',
            "43",
            "41",
            "40/nope,",
            "2",
            "6",
            '451-["x",{"_placeholder":true,"num":0}]',
            '42["enter_room",{"payload":"guarded"}]',
        ]
    )
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


class Fuzzers:
    """Three fuzzing clients; the first owns a room of its own, all three are in it, the first two in
    its call. Every event sent with an ack must be answered."""

    def __init__(self, url: str, room: str) -> None:
        self.url = url
        self.room = room
        self.clients = [socketio.AsyncClient(reconnection=False) for _ in range(3)]
        # acks awaited, per fuzzer: (event, future); a reserved name is answered by an `error` event
        self.waiting: list[list[tuple[str, asyncio.Future]]] = [[], [], []]
        self.unanswered: list[tuple] = []
        self.dropped: list[tuple] = []  # closed by the server (a protocol error): visible, allowed

    async def start(self) -> None:
        for index, client in enumerate(self.clients):
            client.on("error", lambda data=None, index=index: self._error_event(index, data))
            await client.connect(self.url, transports=["websocket"], wait_timeout=5)
        for client, event in zip(self.clients, ("join_room", "join_room", "enter_room"), strict=True):
            reply = await client.call(event, self.room, timeout=ACK_TIMEOUT)
            assert reply["ok"], reply

    def _error_event(self, index: int, data: Any) -> None:
        event = data.get("event") if isinstance(data, dict) else None
        for name, answered in self.waiting[index]:
            if name == event and name in RESERVED_EVENTS and not answered.done():
                answered.set_result({"error_event": data})
                return

    def resolve(self, value: Any) -> Any:
        """The placeholders (OWN_ROOM, MEMBERS) replaced by this round's room and fuzzers' ids."""
        if value == OWN_ROOM:
            return self.room
        if isinstance(value, str) and value in MEMBERS:
            client = self.clients[MEMBERS.index(value)]
            return client.get_sid() if client.connected else value
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    async def send(self, index: int, event: str, args: list, with_ack: bool) -> Any:
        """Send `event` from fuzzer `index`; the ack (None without one, or when not sent). An ack that
        does not come is recorded as unanswered, unless the server closed the connection."""
        client = self.clients[index]
        if not client.connected:
            return None
        args = self.resolve(args)
        data = tuple(args) if len(args) != 1 else args[0]
        answered = asyncio.get_running_loop().create_future()

        def ack(*reply: Any) -> None:
            if not answered.done():
                answered.set_result(reply[0] if len(reply) == 1 else reply)

        waiter = (event, answered)
        self.waiting[index].append(waiter)
        try:
            await client.emit(event, data if args else None, callback=ack if with_ack else None)
            if with_ack:
                return await asyncio.wait_for(answered, ACK_TIMEOUT)
        except (ValueError, TypeError):
            pass  # reserved names and unencodable values are refused by the client library itself
        except socketio.exceptions.BadNamespaceError:
            self.dropped.append((event, args))  # the server had closed it already
        except TimeoutError:
            if client.connected:
                self.unanswered.append((index, event, json.dumps(args, default=str)[:200]))
            else:
                self.dropped.append((event, args))  # closed for a protocol error: visible, allowed
        finally:
            self.waiting[index].remove(waiter)
        return None

    async def stop(self) -> None:
        for client in self.clients:
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
    server = ServerProcess(
        tmp_path_factory.mktemp("fuzz"),
        "--ip-rate-factor",
        "1000",
        "--max-connections-per-ip",
        "0",
        "--max-tcp-connections-per-ip",
        "0",
        "--message-burst",
        "100000",
        "--join-burst",
        "100000",
        "--nickname-burst",
        "100000",
        "--request-burst",
        "100000",
        "--signal-burst",
        "100000",
    ).start()
    yield server
    server.stop()
    if "Traceback" in server.log:
        at = server.log.index("Traceback")
        raise AssertionError(f"a traceback in the server's log:\n{server.log[max(0, at - 2000) : at + 4000]}")
    assert "Task exception was never retrieved" not in server.log, server.log
    # (uvicorn's own "timeout graceful shutdown exceeded" is about connections the fuzzers' threads
    # may still hold open when the server stops; it is not an error of the server's)
    errors = [
        line
        for line in server.log.splitlines()
        if re.search(r" (ERROR|CRITICAL)\s", line) and "timeout graceful shutdown exceeded" not in line
    ]
    assert errors == [], "\n".join(errors)


counter = iter(range(10**9))


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(actions=actions)
def test_random_events_from_several_clients_harm_nobody(fuzz_server, actions):
    async def round_() -> None:
        n = next(counter)
        guard = Guard(fuzz_server.url)
        await guard.start()
        fuzzers = Fuzzers(fuzz_server.url, f"fuzz-own-{n}")
        await fuzzers.start()

        async def act(index: int, event: str, args: list, with_ack: bool) -> None:
            if not (guarded(args) or guarded(event)):
                await fuzzers.send(index, event, args, with_ack)

        await asyncio.gather(*(act(*action) for action in actions))
        await guard.check(n)
        await fuzzers.stop()
        await guard.stop()
        assert guard.leaks == [], guard.leaks
        assert fuzzers.unanswered == [], f"events sent with an ack that got no answer: {fuzzers.unanswered}"

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


# One valid call of each event the fuzzers know, from the owner of the round's room (the first
# fuzzer; the second is in the room and its call): every event is reached on its successful path
# at least once. An event added later and missing here is still sent every shape of SHAPES (one of
# which names a room after another member's id: docs/security.md, "A room named after a socket").
VALID = {
    "nickname": ["Fuzz"],
    "enter_room": [OWN_ROOM],
    "new_message": ["hello", OWN_ROOM],
    "leave_room": [OWN_ROOM],
    "list_rooms": [],
    "join_room": [OWN_ROOM],
    "offer": [{"type": "offer", "sdp": "v=0"}, OWN_ROOM, "@member1"],
    "answer": [{"type": "answer", "sdp": "v=0"}, OWN_ROOM, "@member1"],
    "ice": [{"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}, OWN_ROOM],
    "media_state": [OWN_ROOM, {"audio": False, "video": True, "screen": False}],
    "leave_call": [OWN_ROOM],
    "room_settings": [OWN_ROOM, {"maxMembers": 10, "private": True}],
    "remove_member": [OWN_ROOM, "@member1"],
    "ask_mute": [OWN_ROOM, "@member1"],
    "transfer_owner": [OWN_ROOM, "@member1"],
}
SHAPES = [
    [],
    [None],
    [7],
    [OWN_ROOM],
    ["@member1"],
    [OWN_ROOM, "@member0"],
    [OWN_ROOM, "@member2", "extra"],
    [OWN_ROOM, {"password": None, "x": 1}],
    [{"payload": OWN_ROOM, "password": "pw"}],
    [["x"]],
    ["\u202e", OWN_ROOM],
    [{"type": "offer", "sdp": ""}, OWN_ROOM, "nobody"],
    ["a" * 3000, OWN_ROOM],
]


def test_every_handled_event_is_answered_on_its_paths(fuzz_server):
    """Each handled event, from a room's owner, with its valid arguments and a dozen wrong shapes:
    every call is acked with {ok, ...}, and the valid one with ok: true."""
    assert OWNER_EVENTS <= set(HANDLED_EVENTS) and set(VALID) <= set(HANDLED_EVENTS), HANDLED_EVENTS

    async def round_() -> None:
        failures: list[str] = []
        for event in HANDLED_EVENTS:
            fuzzers = Fuzzers(fuzz_server.url, f"fuzz-paths-{event}-{next(counter)}")
            await fuzzers.start()
            for shape in ([VALID[event]] if event in VALID else []) + SHAPES:
                reply = await fuzzers.send(0, event, shape, True)
                if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
                    failures.append(f"{event}{tuple(shape)!r}: answered {reply!r}")
                elif shape is VALID.get(event) and not reply["ok"]:
                    failures.append(f"{event}{tuple(shape)!r}: the valid call was refused: {reply}")
            await fuzzers.stop()
            failures += [f"no answer: {u}" for u in fuzzers.unanswered]
            failures += [f"the server closed the connection on {d}" for d in fuzzers.dropped]
        assert failures == [], "\n".join(failures)

    run(round_())
