"""The siege harness: many attacks at once on one server while a well-behaved pair keeps chatting.

Each attack is a bounded coroutine (a count and the siege's deadline) registered with `@attack`; it
runs from loopback addresses of its own (127.0.0.2, ...) and records, in its `Outcome`, how much it
did and every way in which the server failed it ("which attack broke what"). The pair (`Pair`, from
127.0.0.1) sends numbered messages the whole time and checks every event it receives. The test
(tests/attacks/test_siege.py) then checks what is left: the pair's messages, the server's memory and
descriptors, its log, and each attack's outcome, and reports them together.

Thresholds are constants below; they are either the server's own defaults (docs/config.md) or
bounds far above what a sound server needs and far below what an unbounded one reaches in the
siege's time.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
import websockets

from videochat.settings import Settings

from support import ADMIN_PASSWORD, Recorder, attacker_addresses, source_session

# the server's defaults the siege relies on (src/videochat/settings.py; a setting another change
# adds is read where it exists, so the bounds follow the defaults)
DEFAULTS = Settings()
MAX_CONNECTIONS_PER_IP = DEFAULTS.max_connections_per_ip
MAX_OUTGOING_BYTES = DEFAULTS.max_outgoing_bytes
MAX_SDP_BYTES = DEFAULTS.max_sdp_bytes
ROOM_LIST_RATE = DEFAULTS.room_list_rate
# the cap per address on every kind of connection (docs/security.md, "Connections and
# transports"), else the Socket.IO one
TCP_CAP = getattr(DEFAULTS, "max_tcp_connections_per_ip", 0) or MAX_CONNECTIONS_PER_IP

# bounds an attack must not get past (see each attack)
ROOM_LIST_MOST_ENTRIES = 200  # rooms one room_change lists, with ~500 rooms entered by the flood
ROOM_LIST_MOST_BYTES = 64 * 1024
WRONG_PASSWORDS_MOST = 60  # wrong guesses at one locked room answered during the siege
# bytes the data folder may grow by while the history flood runs: the server's bound on history
# in total (--history-max-mb), else 4 MiB (far less than the flood writes when nothing bounds it)
HISTORY_DISK_MOST = int(getattr(DEFAULTS, "history_max_mb", 4) * 2**20)
ANSWER_TIMEOUT = 5.0  # an HTTP request, refused or not, is answered (or closed) within this
# a half-sent request or a namespace-less session is closed within this (the server's deadlines)
UNFINISHED_CLOSE_TIMEOUT = max(getattr(DEFAULTS, "request_timeout", 20.0), getattr(DEFAULTS, "handshake_timeout", 20.0))

ATTACK_MARK = "siege-atk"  # in every room name and message of the attackers


@dataclass
class Outcome:
    """What one attack did, and each way the server failed it."""

    name: str
    section: str  # the docs/security.md section whose fix it attacks, or "beyond" (found by the siege)
    checks: str  # what it checks, for the report
    actions: int = 0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        if what not in self.failures:
            self.failures.append(what)

    def note(self, what: str) -> None:
        self.notes.append(what)

    def line(self) -> str:
        status = "FAILED" if self.failures else "held"
        head = f"[{status}] {self.name} ({self.section}; {self.actions} actions): {self.checks}"
        details = [f"      - {failure}" for failure in self.failures] + [f"      . {n}" for n in self.notes]
        return "\n".join([head, *details])


@dataclass(frozen=True)
class Attack:
    name: str
    section: str
    checks: str
    run: Callable[[Siege, Outcome], Awaitable[None]]


ATTACKS: list[Attack] = []


def attack(name: str, section: str, checks: str):
    """Register `fn(siege, outcome)` as one of the siege's attacks."""

    def register(fn: Callable[[Siege, Outcome], Awaitable[None]]):
        ATTACKS.append(Attack(name, section, checks, fn))
        return fn

    return register


class Siege:
    """The shared state of one siege: the server, addresses, deadline, the pair, the clients to close."""

    def __init__(self, server, *, duration: float, pair: Pair) -> None:
        self.server = server
        self.url = server.url
        self.port = server.port
        self.duration = duration
        self.pair = pair
        self._addresses = iter(attacker_addresses(120))
        self._clients: list[Any] = []
        self.deadline = 0.0
        self.private_rooms: set[str] = set()  # must never be listed to anyone

    def address(self) -> str:
        return next(self._addresses)

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    async def client(self, source: str, **options: Any) -> Recorder:
        """A connected Recorder from `source`, closed when the siege ends."""
        client = Recorder(self.url, source=source, **options)
        self._clients.append(client)
        return await client.connect()

    def adopt(self, closer: Callable[[], Awaitable[Any]]) -> None:
        """Something to close when the siege ends (a raw connection, a session)."""
        self._clients.append(closer)

    def start_clock(self) -> None:
        self.deadline = time.monotonic() + self.duration

    async def run(self, attacks: list[Attack]) -> list[Outcome]:
        """Every attack at once (start_clock() first); their outcomes."""
        outcomes = [Outcome(a.name, a.section, a.checks) for a in attacks]

        async def one(spec: Attack, outcome: Outcome) -> None:
            try:
                await asyncio.wait_for(spec.run(self, outcome), self.duration + 30)
            except TimeoutError:
                outcome.fail("the attack did not finish within the siege's time: the server stopped answering it")
            except Exception as error:  # noqa: BLE001 - reported with the attack's name
                outcome.fail(f"the attack ended with {type(error).__name__}: {str(error)[:300]}")

        await asyncio.gather(*(one(a, o) for a, o in zip(attacks, outcomes, strict=True)))
        return outcomes

    async def close(self) -> None:
        for client in reversed(self._clients):
            try:
                if isinstance(client, Recorder):
                    await asyncio.wait_for(client.disconnect(), 5)
                else:
                    await asyncio.wait_for(client(), 5)
            except Exception:  # noqa: BLE001 - the server may have closed it already
                pass
        self._clients.clear()


# -- the well-behaved pair ----------------------------------------------------------------------


class Pair:
    """Alice and Bob from 127.0.0.1 in a room no attacker enters, sending numbered messages in turn.

    Every event either receives is checked: a message of the other in their room in order, or a
    room list (`room_change`) that names no private room; anything else is something of another
    room or another client that reached them."""

    INTERVAL = 0.25  # each sends 4 messages a second: under --message-rate (5)

    def __init__(self, url: str) -> None:
        self.url = url
        self.room = f"siege-pair-{uuid.uuid4().hex[:8]}"
        self.alice = Recorder(url)
        self.bob = Recorder(url)
        self.sent: dict[str, list[str]] = {"alice": [], "bob": []}
        self.problems: list[str] = []
        self.slowest_ack = 0.0
        self._before: dict[str, int] = {}  # events recorded before the siege (their own entries)

    async def start(self) -> None:
        for name, client in (("Alice", self.alice), ("Bob", self.bob)):
            await client.connect()
            assert (await client.call("nickname", name))["ok"]
            reply = await client.call("enter_room", self.room)
            assert reply["ok"], reply
        await self.bob.wait_for("room_change", lambda changed, *rest: self.room in changed)
        await self.alice.wait_for(
            "room_change", lambda changed, rooms, *_: any(r["name"] == self.room and r["count"] == 2 for r in rooms)
        )
        self._before = {"alice": len(self.alice.events), "bob": len(self.bob.events)}

    async def chat(self, until: Callable[[], bool]) -> None:
        n = 0
        while until():
            for name, client in (("alice", self.alice), ("bob", self.bob)):
                text = f"{name} {n}"
                started = time.monotonic()
                try:
                    reply = await client.call("new_message", text, self.room, timeout=20)  # a loaded, shared machine
                except Exception as error:  # noqa: BLE001 - reported
                    self.problems.append(f"{name}'s message {n} got no ack: {type(error).__name__} {error}")
                    return
                self.slowest_ack = max(self.slowest_ack, time.monotonic() - started)
                if not reply.get("ok"):
                    self.problems.append(f"{name}'s message {n} was refused: {reply}")
                    return
                self.sent[name].append(text)
            n += 1
            await asyncio.sleep(self.INTERVAL)  # pacing under the message rate

    async def settle(self) -> None:
        """Both have received everything sent to them (a round trip each)."""
        for client in (self.alice, self.bob):
            if client.sio.connected:
                await client.barrier()

    def check(self, private_rooms: set[str]) -> list[str]:
        problems = list(self.problems)
        for me, other, client in (("alice", "bob", self.alice), ("bob", "alice", self.bob)):
            if not client.sio.connected:
                problems.append(f"{me} was disconnected during the siege")
            got: list[str] = []
            for event, args in client.events[self._before[me] :]:
                problem = self._check_event(me, other, client, event, args, private_rooms)
                if problem:
                    problems.append(problem)
                elif event == "new_message":
                    got.append(args[1]["text"])
            if got != self.sent[other]:
                missing = [t for t in self.sent[other] if t not in got]
                problems.append(
                    f"{me} did not receive {other}'s messages in order: {len(got)} of "
                    f"{len(self.sent[other])}; missing {missing[:5]}, received {got[:3]}..."
                )
        return problems[:20]

    def _check_event(
        self, me: str, other: str, client: Recorder, event: str, args: tuple, private_rooms: set[str]
    ) -> str | None:
        shown = json.dumps(args, default=str)[:300]
        if event == "new_message":
            message = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
            partner = self.bob if me == "alice" else self.alice
            if message.get("room") != self.room or message.get("author", {}).get("id") != partner.sid:
                return f"{me} received a message not from {other} in their room: {shown}"
            return None
        if event == "room_change":
            listed = {
                str(r.get("name"))
                for r in (args[1] if len(args) > 1 and isinstance(args[1], list) else [])
                if isinstance(r, dict)
            }
            leaked = listed & private_rooms
            return f"{me} was shown private rooms in room_change: {sorted(leaked)[:3]}" if leaked else None
        return f"{me} received an event nobody of their room caused: {event} {shown}"


# -- raw connections from an address ------------------------------------------------------------


async def open_tcp(source: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))


async def http(
    source: str, port: int, request: bytes, *, timeout: float = ANSWER_TIMEOUT, limit: int = 4 << 20
) -> tuple[int | None, bytes]:
    """Send a raw HTTP/1.1 request (Connection: close) from `source`; (status, body) of the answer,
    status None when the server closed without one. TimeoutError when it neither answers nor closes."""
    reader, writer = await open_tcp(source, port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(_read_until_closed(reader, limit), timeout)
    finally:
        writer.close()
    if not data.startswith(b"HTTP/1."):
        return None, data
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunked(body)
    return int(head.split(b" ", 2)[1]), body


def _dechunked(body: bytes) -> bytes:
    chunks: list[bytes] = []
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break  # cut short: what arrived so far
        if size == 0:
            break
        chunks.append(rest[:size])
        body = rest[size + 2 :]
    return b"".join(chunks)


async def _read_until_closed(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        try:
            chunk = await reader.read(65536)
        except ConnectionError:
            break
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def request(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


POLLING = "/socket.io/?EIO=4&transport=polling"


async def polling_session(source: str, port: int) -> str:
    """A new Engine.IO long-polling session from `source`; its sid."""
    status, body = await http(source, port, request("GET", POLLING))
    assert status == 200 and body.startswith(b"0"), (status, body[:200])
    return json.loads(body[1:])["sid"]


async def raw_ws(siege: Siege, source: str, path: str = "/socket.io/?EIO=4&transport=websocket", **options: Any):
    """A raw WebSocket from `source` (closed when the siege ends)."""
    url = siege.url.replace("http", "ws", 1) + path
    connection = await websockets.connect(
        url, local_addr=(source, 0), open_timeout=ANSWER_TIMEOUT, max_size=None, **options
    )
    siege.adopt(connection.close)
    return connection


async def socket_io_ws(siege: Siege, source: str):
    """A raw Engine.IO WebSocket connected to the main namespace; (connection, its Socket.IO sid)."""
    connection = await raw_ws(siege, source)
    await connection.recv()  # the Engine.IO open packet
    await connection.send("40")
    connected = await asyncio.wait_for(connection.recv(), ANSWER_TIMEOUT)
    return connection, json.loads(connected[2:])["sid"]


async def answer_to(connection) -> str:
    """The next frame on a raw connection of the main namespace that is not a broadcast event: the
    connection hears `room_change` whenever rooms change (other attacks change them all the time)."""
    while True:
        frame = await connection.recv()
        if not (isinstance(frame, str) and frame.startswith("42[")):
            return frame


async def closed_within(connection, timeout: float) -> bool:
    """Whether the server closes `connection` within `timeout` (what arrives meanwhile is read)."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                await connection.recv()
    except websockets.exceptions.ConnectionClosed:
        return True
    except TimeoutError:
        return False


def admin_client(source: str) -> socketio.AsyncClient:
    return socketio.AsyncClient(reconnection=False, request_timeout=5, http_session=source_session(source))


ADMIN_AUTH_WRONG = {"username": "admin", "password": "not " + ADMIN_PASSWORD}
