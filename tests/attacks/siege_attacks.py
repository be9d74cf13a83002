"""The siege's attacks (tests/attacks/siege.py): each a bounded loop from addresses of its own.

Attacks on the weaknesses docs/security.md describes as fixed first (the section in `section`), then
attacks the siege found beyond them ("beyond"). Every attack
checks what a sound server does to it and records each failure in its Outcome; docs/security.md
("Attack suite") lists them.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import socketio
import websockets

from siege import (
    ADMIN_AUTH_WRONG,
    ANSWER_TIMEOUT,
    ATTACK_MARK,
    HISTORY_DISK_MOST,
    MAX_OUTGOING_BYTES,
    MAX_SDP_BYTES,
    POLLING,
    ROOM_LIST_MOST_BYTES,
    ROOM_LIST_MOST_ENTRIES,
    ROOM_LIST_RATE,
    TCP_CAP,
    UNFINISHED_CLOSE_TIMEOUT,
    WRONG_PASSWORDS_MOST,
    Outcome,
    Siege,
    admin_client,
    answer_to,
    attack,
    closed_within,
    http,
    open_tcp,
    polling_session,
    raw_ws,
    request,
    socket_io_ws,
)

STATIC_FILE = "/static/css/call.css"


def _code(reply: dict) -> str:
    return reply.get("error", {}).get("code", "") if isinstance(reply, dict) else ""


async def _paced(siege: Siege, call, *, limit: int):
    """Call `call()` up to `limit` times while the siege runs, backing off while rate-limited; the
    replies (stops at the first refusal that is not a rate limit: a bound of the server held)."""
    replies = []
    while siege.running() and len(replies) < limit:
        reply = await call()
        if _code(reply) == "rate_limited":
            await asyncio.sleep(0.3)  # the rate limit holds: wait for the bucket
            continue
        replies.append(reply)
        if not reply.get("ok"):
            break
    return replies


# -- the fixes of docs/security.md -----------------------------------------------------------------


@attack(
    "room flood",
    "How many rooms, and the room list",
    "4 addresses x 4 connections enter rooms with 64-character names (every 5th "
    f"private) as fast as allowed; a client's room_change lists at most {ROOM_LIST_MOST_ENTRIES} rooms "
    f"in {ROOM_LIST_MOST_BYTES // 1024} KiB, never a private room, and the watching client is not dropped",
)
async def room_flood(siege: Siege, outcome: Outcome) -> None:
    observer = await siege.client(siege.address())
    refusals: dict[str, list[int]] = {}  # code -> how many rooms each refused connection had entered

    async def flood(source: str, c: int) -> None:
        client = await siege.client(source)
        counter = iter(range(10**6))

        def enter():
            n = next(counter)
            name = f"{ATTACK_MARK}-flood-{source}-{c}-{n}-".ljust(64, "x")
            private = n % 5 == 4
            if private:
                siege.private_rooms.add(name)
            outcome.actions += 1
            return client.call("enter_room", {"payload": name, "private": private})

        replies = await _paced(siege, enter, limit=40)
        if replies and not replies[-1].get("ok"):
            refusals.setdefault(_code(replies[-1]), []).append(len(replies) - 1)

    await asyncio.gather(*(flood(source, c) for source in [siege.address() for _ in range(4)] for c in range(4)))
    for code, entered in refusals.items():
        outcome.note(f"{len(entered)} connections refused with {code} after {min(entered)}-{max(entered)} rooms")
    await observer.barrier()
    lists = [args for args in observer.received("room_change")]
    most = max((len(args[1]) for args in lists if len(args) > 1), default=0)
    biggest = max((len(json.dumps(args)) for args in lists), default=0)
    outcome.note(f"largest room_change: {most} rooms, {biggest} bytes")
    if most > ROOM_LIST_MOST_ENTRIES or biggest > ROOM_LIST_MOST_BYTES:
        outcome.fail(
            f"the room list a client receives grew to {most} rooms, {biggest} bytes: rooms per "
            "connection/address or the list are not bounded (every client is dropped once it passes "
            f"--max-outgoing-bytes)"
        )
    listed = {r["name"] for args in lists for r in args[1]}
    if listed & siege.private_rooms:
        outcome.fail(f"private rooms were listed in room_change: {sorted(listed & siege.private_rooms)[:3]}")
    if not observer.sio.connected:
        outcome.fail("the client watching room_change was disconnected")


@attack(
    "history flood",
    "History on disk (or in Redis)",
    "2 addresses x 10 connections send 2000-character messages (3 bytes a character) at "
    "the allowed rate, 10 per room over many rooms; the data folder grows by at most "
    f"{HISTORY_DISK_MOST >> 20} MiB",
)
async def history_flood(siege: Siege, outcome: Outcome) -> None:
    before = _folder_size(siege.server.data_dir)
    text = "€" * 2000

    async def flood(source: str, c: int) -> None:
        client = await siege.client(source)
        n = 0
        while siege.running() and n < 150:
            room = f"{ATTACK_MARK}-hist-{source}-{c}-{n // 10}"
            reply = await client.call("enter_room", room)
            if _code(reply) == "rate_limited":
                await asyncio.sleep(0.3)
                continue
            if not reply.get("ok"):
                outcome.note(f"{source}: enter_room refused: {_code(reply)}")
                return
            for _ in range(10):
                if not siege.running():
                    break
                reply = await client.call("new_message", text, room)
                outcome.actions += 1
                if reply.get("ok"):
                    n += 1
                elif _code(reply) == "rate_limited":
                    await asyncio.sleep(0.2)
                else:
                    outcome.note(f"{source}: new_message refused: {_code(reply)}")
                    return
            await client.call("leave_room", room)

    await asyncio.gather(*(flood(source, c) for source in [siege.address() for _ in range(2)] for c in range(10)))
    await asyncio.sleep(1.0)  # the history store's writer catches up (it batches)
    grown = _folder_size(siege.server.data_dir) - before
    outcome.note(f"the data folder grew by {grown / 2**20:.1f} MiB")
    if grown > HISTORY_DISK_MOST:
        outcome.fail(
            f"the data folder grew by {grown / 2**20:.1f} MiB from 2 addresses in {siege.duration:.0f} s: "
            "history is not bounded per address or in total"
        )


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


@attack(
    "parallel password guessing",
    "Guessing a room's password",
    "an owner locks a room; 3 addresses x 5 connections guess its "
    f"password 4 at a time each; at most {WRONG_PASSWORDS_MOST} guesses reach the password check",
)
async def password_guessing(siege: Siege, outcome: Outcome) -> None:
    owner = await siege.client(siege.address())
    room = f"{ATTACK_MARK}-locked"
    assert (await owner.call("enter_room", room))["ok"]
    reply = await owner.call("room_settings", room, {"password": "the real one"})
    assert reply["ok"], reply
    wrong = 0
    codes: dict[str, int] = {}

    async def guess(client, n: int) -> None:
        nonlocal wrong
        while siege.running() and n < 10_000:
            outcome.actions += 1
            try:
                reply = await client.call("enter_room", {"payload": room, "password": f"guess {n}"}, timeout=30)
            except socketio.exceptions.TimeoutError:
                outcome.fail("a password guess was not answered within 30 s (refuse extra guesses, do not queue them)")
                return
            if reply.get("ok"):
                outcome.fail(f"a wrong password entered the locked room: {n}")
                return
            code = _code(reply)
            codes[code] = codes.get(code, 0) + 1
            wrong += code == "wrong_password"
            if code != "wrong_password":
                await asyncio.sleep(0.2)  # refused before the check: wait a little
            n += 4

    clients = [await siege.client(source) for source in [siege.address() for _ in range(3)] for _ in range(5)]
    await asyncio.gather(*(guess(client, k) for client in clients for k in range(4)))
    outcome.note(f"answers: {codes}")
    if wrong > WRONG_PASSWORDS_MOST:
        outcome.fail(
            f"{wrong} wrong guesses at one locked room were checked in {siege.duration:.0f} s from 3 "
            "addresses: attempts are not bounded per room and per address"
        )


@attack(
    "binary attachments",
    "Binary attachments",
    "3 addresses x 2 raw connections announce 1,000,000 binary attachments and "
    "send 64 KiB frames; the server closes each connection instead of buffering the frames",
)
async def binary_attachments(siege: Siege, outcome: Outcome) -> None:
    frame = b"\0" * 65536

    async def one(source: str) -> None:
        connection, _ = await socket_io_ws(siege, source)
        await connection.send('451000000-["new_message",{"_placeholder":true,"num":0},"r"]')
        sent = 0
        try:
            for _ in range(40):
                await connection.send(frame)
                sent += 1
                outcome.actions += 1
        except websockets.exceptions.ConnectionClosed:
            return
        if not await closed_within(connection, ANSWER_TIMEOUT):
            outcome.fail(
                f"a connection that announced 1,000,000 binary attachments stayed open after {sent} "
                f"frames ({sent * 64} KiB buffered): binary attachments are not refused"
            )

    await asyncio.gather(*(one(source) for source in [siege.address() for _ in range(3)] for _ in range(2)))


@attack(
    "deeply nested JSON",
    "JSON nested too deeply",
    "2 addresses send events nested 40,000 deep, 5 times each; each is a "
    "protocol error: the connection is closed, and no RecursionError is logged",
)
async def nested_json(siege: Siege, outcome: Outcome) -> None:
    nested = '42["new_message",' + "[" * 40000 + "]" * 40000 + ',"r"]'

    async def one(source: str) -> None:
        for _ in range(5):
            if not siege.running():
                return
            connection, _ = await socket_io_ws(siege, source)
            await connection.send(nested)
            outcome.actions += 1
            if not await closed_within(connection, ANSWER_TIMEOUT):
                outcome.fail(
                    "a connection that sent JSON nested 40,000 deep stayed open: it is not treated as a protocol error"
                )
                await connection.close()

    await asyncio.gather(*(one(siege.address()) for _ in range(2)))
    if "RecursionError" in siege.server.log:
        outcome.fail("the server logged a RecursionError (a traceback per packet: a log flood)")


@attack(
    "long-polling client that never reads",
    "Connections and transports",
    "a long-polling client joins a call and never polls while "
    f"another participant sends it {MAX_SDP_BYTES // 1024} KiB offers (1.5 MiB); the server drops it rather "
    f"than queue more than --max-outgoing-bytes ({MAX_OUTGOING_BYTES >> 20} MiB) for it",
)
async def never_reading_poller(siege: Siege, outcome: Outcome) -> None:
    source = siege.address()
    sid = await polling_session(source, siege.port)
    room = f"{ATTACK_MARK}-poll"
    path = f"{POLLING}&sid={sid}"
    status, _ = await http(source, siege.port, request("POST", path, body=b"40"))
    assert status == 200, status
    # the namespace's sid comes with the first poll; the offers go to everyone in the call anyway
    status, body = await http(source, siege.port, request("GET", path))
    assert status == 200 and body.startswith(b"40"), (status, body[:100])
    status, _ = await http(source, siege.port, request("POST", path, body=b'42["join_room","%s"]' % room.encode()))
    assert status == 200, status
    sender = await siege.client(siege.address())
    reply = await sender.call("join_room", room)
    assert reply["ok"] and reply["peers"], reply
    description = {"type": "offer", "sdp": "v=0\r\n" + "a" * (MAX_SDP_BYTES - 100)}
    for _ in range(24):
        reply = await sender.call("offer", description, room)
        outcome.actions += 1
        if not reply.get("ok"):
            break  # the poller is gone: not in the call any more
    await asyncio.sleep(2.0)  # the server notices on its own clock (a queue size is not observable)
    try:
        status, body = await http(source, siege.port, request("GET", path), timeout=30)
    except TimeoutError:
        return  # an empty queue: the long poll waited
    if status == 200 and len(body) > MAX_OUTGOING_BYTES:
        outcome.fail(
            f"the server queued {len(body) / 2**20:.1f} MiB for a long-polling client that never read: "
            "--max-outgoing-bytes does not apply to long-polling"
        )


@attack(
    "half-sent requests and namespace-less sessions",
    "Connections and transports",
    f"one address opens {TCP_CAP + 20} "
    f"half-sent HTTP requests, another {TCP_CAP + 20} Engine.IO WebSockets that never connect a "
    f"namespace; each address is capped (some are refused or closed at once), and all are closed within "
    f"{UNFINISHED_CLOSE_TIMEOUT:.0f} s",
)
async def unfinished_connections(siege: Siege, outcome: Outcome) -> None:
    count = TCP_CAP + 20
    margin = 4.0  # the server's timers on a busy machine
    started = time.monotonic()

    async def half_sent(source: str) -> float | None:
        try:
            reader, writer = await open_tcp(source, siege.port)
        except OSError:
            return 0.0
        siege.adopt(_closer(writer))
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        outcome.actions += 1
        try:
            async with asyncio.timeout(UNFINISHED_CLOSE_TIMEOUT + margin):
                while await reader.read(4096):
                    pass
        except TimeoutError:
            return None
        except ConnectionError:
            pass
        return time.monotonic() - started

    async def no_namespace(source: str) -> float | None:
        try:
            connection = await raw_ws(siege, source)
            await connection.recv()  # the open packet; then nothing
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
            return 0.0
        outcome.actions += 1
        if await closed_within(connection, UNFINISHED_CLOSE_TIMEOUT + margin - (time.monotonic() - started)):
            return time.monotonic() - started
        return None

    async def kind(name: str, opener) -> None:
        source = siege.address()
        outcome.note(f"{name} from {source}")
        results = await asyncio.gather(*(opener(source) for _ in range(count)))
        held = [r for r in results if r is None]
        quick = [r for r in results if r is not None and r < 2.0]
        if not quick:
            outcome.fail(
                f"{count} {name} from one address were all held: no cap per address on them (the cap is {TCP_CAP})"
            )
        if held:
            outcome.fail(
                f"{len(held)} of {count} {name} were still open after {UNFINISHED_CLOSE_TIMEOUT:.0f} s: "
                "no handshake/header timeout"
            )

    await asyncio.gather(
        kind("half-sent HTTP requests", half_sent), kind("Engine.IO WebSockets without a namespace", no_namespace)
    )


def _closer(writer: asyncio.StreamWriter):
    async def close() -> None:
        writer.close()

    return close


@attack(
    "oversize long-polling POSTs",
    "Connections and transports",
    "one address sends 30 long-polling POSTs over --max-packet-bytes; "
    f"each is answered (or closed) within {ANSWER_TIMEOUT:.0f} s, so none stays in CLOSE-WAIT",
)
async def oversize_posts(siege: Siege, outcome: Outcome) -> None:
    source = siege.address()
    body = b"4" + b"x" * 200_000
    unanswered = 0

    async def one() -> None:
        nonlocal unanswered
        sid = await polling_session(source, siege.port)
        outcome.actions += 1
        try:
            await http(source, siege.port, request("POST", f"{POLLING}&sid={sid}", body=body))
        except TimeoutError:
            unanswered += 1

    for _ in range(3):
        if siege.running():
            await asyncio.gather(*(one() for _ in range(10)))
    if unanswered:
        outcome.fail(
            f"{unanswered} of {outcome.actions} oversize long-polling POSTs were never answered (each "
            "leaves a socket in CLOSE-WAIT)"
        )


@attack(
    "admin login loop",
    "While a login is checked",
    "2 addresses log in to /admin with a wrong password in a loop; a socket whose "
    "login is refused (or still being checked) receives nothing of /admin, and no Engine.IO session id",
)
async def admin_login_loop(siege: Siege, outcome: Outcome) -> None:
    captured: list[tuple] = []
    pair_ids = {siege.pair.alice.sio.eio.sid, siege.pair.bob.sio.eio.sid}

    async def loop(source: str) -> None:
        while siege.running() and outcome.actions < 400:
            client = admin_client(source)
            client.on("*", lambda event, *args: captured.append((event, args)), namespace="/admin")
            outcome.actions += 1
            try:
                await client.connect(
                    siege.url, namespaces=["/admin"], auth=ADMIN_AUTH_WRONG, transports=["websocket"], wait_timeout=5
                )
                outcome.fail("a wrong admin password was accepted")
            except socketio.exceptions.ConnectionError:
                pass
            finally:
                await client.shutdown()
                await client.eio.http.close()

    await asyncio.gather(*(loop(siege.address()) for _ in range(2)))
    if captured:
        events = sorted({event for event, _ in captured})
        outcome.fail(
            f"refused admin logins received {len(captured)} /admin events ({', '.join(events[:6])}): "
            "a socket being checked is already a participant of /admin"
        )
    shown = json.dumps(captured, default=str)
    if any(sid and sid in shown for sid in pair_ids):
        outcome.fail("the pair's Engine.IO session ids reached a refused admin login")


@attack(
    "TURN credential scraping",
    "TURN credentials",
    "3 addresses GET /api/ice-servers 50 times each without a session; no answer carries a TURN credential",
)
async def ice_scraping(siege: Siege, outcome: Outcome) -> None:
    statuses: dict[int | None, int] = {}
    credentials = 0

    async def scrape(source: str) -> None:
        nonlocal credentials
        for _ in range(50):
            if not siege.running():
                return
            status, body = await http(source, siege.port, request("GET", "/api/ice-servers"))
            outcome.actions += 1
            statuses[status] = statuses.get(status, 0) + 1
            credentials += b'"credential"' in body

    await asyncio.gather(*(scrape(siege.address()) for _ in range(3)))
    outcome.note(f"statuses: {statuses}")
    if credentials:
        outcome.fail(f"{credentials} of {outcome.actions} requests without a session got a TURN credential")


@attack(
    "room-list scraping",
    "`/metrics`",
    "2 addresses GET /metrics, /api/rooms and the home page in a loop while the "
    "room flood creates private rooms; no answer names a private room, each within "
    f"{ANSWER_TIMEOUT:.0f} s",
)
async def listing_scraping(siege: Siege, outcome: Outcome) -> None:
    leaks: dict[str, set[str]] = {}

    async def scrape(source: str) -> None:
        while siege.running() and outcome.actions < 300:
            for path in ("/metrics", "/api/rooms", "/"):
                try:
                    status, body = await http(source, siege.port, request("GET", path))
                except TimeoutError:
                    outcome.fail(f"GET {path} was not answered within {ANSWER_TIMEOUT:.0f} s")
                    continue
                outcome.actions += 1
                text = body.decode("utf-8", "replace")
                named = {room for room in list(siege.private_rooms) if room in text}
                if named:
                    leaks.setdefault(path, set()).update(named)
            await asyncio.sleep(0.5)  # a scraper's period

    await asyncio.gather(*(scrape(siege.address()) for _ in range(2)))
    for path, named in leaks.items():
        outcome.fail(f"GET {path} named {len(named)} private rooms (e.g. {sorted(named)[0]!r})")


# -- beyond them: found by the siege ---------------------------------------------------------------


@attack(
    "nickname amplification",
    "beyond",
    "a member of 10 rooms changes its nickname as fast as it may; "
    "a listener in one room sees no more nickname_change than --nickname-burst + --nickname-rate allow",
)
async def nickname_amplification(siege: Siege, outcome: Outcome) -> None:
    source = siege.address()
    member, listener = await siege.client(source), await siege.client(siege.address())
    rooms = [f"{ATTACK_MARK}-nick-{n}" for n in range(10)]
    for room in rooms:
        assert (await member.call("enter_room", room))["ok"]
    assert (await listener.call("enter_room", rooms[0]))["ok"]
    started = time.monotonic()
    n = 0
    while siege.running() and n < 500:
        n += 1
        outcome.actions += 1
        await member.emit("nickname", f"n{n}")
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - started
    await listener.barrier()
    seen = len(listener.received("nickname_change"))
    allowed = 5 + 1.0 * elapsed + 2
    outcome.note(f"{seen} nickname_change in {elapsed:.0f} s")
    if seen > allowed:
        outcome.fail(f"{seen} nickname_change reached one room in {elapsed:.0f} s (the rate allows {allowed:.0f})")


@attack(
    "join/leave churn",
    "beyond",
    "2 addresses x 3 connections enter and leave a room in a loop; the pair "
    f"receives at most --room-list-rate ({ROOM_LIST_RATE:g}) room_change a second (+ slack)",
)
async def join_leave_churn(siege: Siege, outcome: Outcome) -> None:
    started = time.monotonic()
    before = len(siege.pair.bob.received("room_change"))

    async def churn(client, room: str) -> None:
        while siege.running() and outcome.actions < 2000:
            for event in ("enter_room", "leave_room"):
                reply = await client.call(event, room)
                outcome.actions += 1
                if _code(reply) == "rate_limited":
                    await asyncio.sleep(0.3)

    clients = [await siege.client(source) for source in [siege.address() for _ in range(2)] for _ in range(3)]
    await asyncio.gather(*(churn(client, f"{ATTACK_MARK}-churn-{i}") for i, client in enumerate(clients)))
    elapsed = time.monotonic() - started
    seen = len(siege.pair.bob.received("room_change")) - before
    allowed = ROOM_LIST_RATE * 1.5 * elapsed + 10
    outcome.note(f"the pair's Bob received {seen} room_change in {elapsed:.0f} s")
    if seen > allowed:
        outcome.fail(f"the pair received {seen} room_change in {elapsed:.0f} s: --room-list-rate does not merge them")


@attack(
    "max-size SDP to a full call",
    "beyond",
    "6 participants from 2 addresses fill a call; one sends 64 KiB "
    "offers to all (60, paced); a 7th is refused with call_full; every offer is acked",
)
async def sdp_fanout(siege: Siege, outcome: Outcome) -> None:
    room = f"{ATTACK_MARK}-call"
    sources = [siege.address() for _ in range(2)]
    clients = [await siege.client(sources[i % 2]) for i in range(7)]
    for client in clients[:6]:
        reply = await client.call("join_room", room)
        assert reply["ok"], reply
    reply = await clients[6].call("join_room", room)
    if _code(reply) != "call_full":
        outcome.fail(f"a 7th participant was not refused with call_full: {str(reply)[:200]}")
    description = {"type": "offer", "sdp": "v=0\r\n" + "b" * (MAX_SDP_BYTES - 100)}
    for _ in range(60):
        if not siege.running():
            break
        reply = await clients[0].call("offer", description, room)
        outcome.actions += 1
        if not reply.get("ok") and _code(reply) != "rate_limited":
            outcome.fail(f"an offer to the full call was refused: {str(reply)[:200]}")
            break
        await asyncio.sleep(0.1)  # paced: the receivers are python clients of this same test
    dropped = sum(not client.sio.connected for client in clients[1:6])
    if dropped:
        outcome.note(f"{dropped} receivers were dropped (too slow to read)")


@attack(
    "lobby fan-out",
    "beyond",
    "3 addresses x 8 plain-WebSocket lobby clients, each sending messages and bad "
    "frames; readers receive every lobby message and an `error:` for each bad frame",
)
async def lobby_fanout(siege: Siege, outcome: Outcome) -> None:
    clients = []
    for source in [siege.address() for _ in range(3)]:
        for _ in range(8):
            clients.append(await raw_ws(siege, source, "/"))
    problems: list[str] = []

    async def speak(index: int, connection) -> None:
        errors = 0
        for n in range(10):
            if not siege.running():
                return
            await connection.send(json.dumps({"type": "new_message", "payload": f"{ATTACK_MARK} {index} {n}"}))
            await connection.send(b"\x00binary")
            await connection.send("{not json")
            outcome.actions += 3
            await asyncio.sleep(0.3)
        try:
            async with asyncio.timeout(10):
                while errors < 20:
                    frame = await connection.recv()
                    errors += isinstance(frame, str) and frame.startswith("error:")
        except (TimeoutError, websockets.exceptions.ConnectionClosed) as error:
            problems.append(f"lobby client {index} got {errors} of 20 `error:` answers ({type(error).__name__})")

    await asyncio.gather(*(speak(i, c) for i, c in enumerate(clients)))
    for problem in problems[:3]:
        outcome.fail(problem)


@attack(
    "protocol oddities",
    "beyond",
    "huge ack ids, unknown namespaces, 200 namespaces on one session, the main "
    "namespace connected 20 times on one session, EIO=3, "
    "bogus transports, concurrent long-polling GETs on one sid: each answered or closed, never held or crashed",
)
async def protocol_oddities(siege: Siege, outcome: Outcome) -> None:
    source = siege.address()
    # an ack id of 100 digits (the fast path's limit) and one of 2,000 (the library's parser)
    for digits in (100, 2000):
        connection, _ = await socket_io_ws(siege, source)
        await connection.send("42" + "9" * digits + '["list_rooms"]')
        outcome.actions += 1
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                answer = await answer_to(connection)
            if not answer.startswith(("43", "1")):  # the ack, or the Engine.IO close of a refusal
                outcome.fail(f"an event with an ack id of {digits} digits was answered with {answer[:60]!r}")
        except websockets.exceptions.ConnectionClosed:
            pass  # refused as a protocol error: fine
        except TimeoutError:
            outcome.fail(f"an event with an ack id of {digits} digits was neither answered nor refused")
        await connection.close()
    # unknown namespaces, many of them on one Engine.IO session
    connection, _ = await socket_io_ws(siege, source)
    for n in range(200):
        await connection.send(f"40/nope{n},")
        outcome.actions += 1
    refusals = 0
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT):
            while refusals < 200:
                refusals += (await connection.recv()).startswith("44/nope")
    except (TimeoutError, websockets.exceptions.ConnectionClosed):
        pass
    if refusals < 200:
        await connection.close()
        if refusals == 0:
            outcome.fail("connecting to an unknown namespace was not answered with a connect_error")
    else:
        await connection.send('420["list_rooms"]')
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT):
                answer = await answer_to(connection)
            if not answer.startswith("430"):
                outcome.fail(f"after 200 unknown namespaces the main one answered {answer[:60]!r}")
        except (TimeoutError, websockets.exceptions.ConnectionClosed) as error:
            outcome.fail(f"after 200 unknown namespaces the main one did not answer ({type(error).__name__})")
    # the main namespace connected again and again on one session: still one socket, one sid
    connection, _ = await socket_io_ws(siege, source)
    for _ in range(20):
        await connection.send("40")
        outcome.actions += 1
    answers: list[str] = []
    try:
        async with asyncio.timeout(2.0):  # 20 answers or a close, on an idle connection
            while len(answers) < 20:
                answers.append(await connection.recv())
    except (TimeoutError, websockets.exceptions.ConnectionClosed):
        pass
    if any(answer.startswith("40{") for answer in answers):
        outcome.fail(
            "connecting the main namespace again on one Engine.IO session made another socket "
            "(one connection counted as many)"
        )
    await connection.close()
    # old and bogus Engine.IO
    for path in (
        "/socket.io/?EIO=3&transport=polling",
        "/socket.io/?EIO=4&transport=flash",
        "/socket.io/?EIO=4&transport=polling&sid=" + "A" * 5000,
        "/socket.io/?EIO=99",
    ):
        status, _ = await http(source, siege.port, request("GET", path))
        outcome.actions += 1
        if status is None or not 400 <= status < 500:
            outcome.fail(f"GET {path[:60]} was answered {status}, not refused with 4xx")
    # concurrent long-polling GETs on one sid: all but the waiting one are answered at once
    sid = await polling_session(source, siege.port)
    path = f"{POLLING}&sid={sid}"
    await http(source, siege.port, request("POST", path, body=b"40"))
    await http(source, siege.port, request("GET", path))  # the CONNECT answer
    gets = [
        asyncio.ensure_future(http(source, siege.port, request("GET", path), timeout=ANSWER_TIMEOUT)) for _ in range(5)
    ]
    outcome.actions += 5
    results = await asyncio.gather(*gets, return_exceptions=True)
    hanging = sum(isinstance(r, TimeoutError) for r in results)
    if hanging > 1:
        outcome.fail(f"{hanging} of 5 concurrent long-polling GETs on one sid were held")
    errors = [r for r in results if isinstance(r, Exception) and not isinstance(r, TimeoutError)]
    if errors:
        outcome.fail(f"concurrent long-polling GETs failed: {errors[0]!r}")


@attack(
    "oversized HTTP",
    "beyond",
    "100 KB URLs, headers and query strings, 2,000 headers, /r/ with a 10,000-"
    "character room, 200 byte ranges of a static file: each answered or refused within "
    f"{ANSWER_TIMEOUT:.0f} s, with no amplification",
)
async def oversized_http(siege: Siege, outcome: Outcome) -> None:
    source = siege.address()
    size = (Path(__file__).parents[2] / "src" / "videochat" / "web" / STATIC_FILE.lstrip("/")).stat().st_size
    cases = {
        "a 100 KB query string": request("GET", "/?q=" + "a" * 100_000),
        "a 100 KB path": request("GET", "/static/" + "a" * 100_000),
        "a 100 KB header": request("GET", "/healthz", headers={"X-Big": "b" * 100_000}),
        "2,000 headers": request("GET", "/healthz", headers={f"X-H{n}": "v" for n in range(2000)}),
        "/r/ with a 10,000-character room": request("GET", "/r/" + "c" * 10_000),
        "a 100 KB room page query": request("GET", "/r/x?name=" + "d" * 100_000),
        "200 byte ranges": request("GET", STATIC_FILE, headers={"Range": "bytes=" + ",".join(["0-"] * 200)}),
        "an endless Content-Length": request("POST", "/api/rooms", headers={"Content-Length": "99999999999"}),
    }
    for name, raw in cases.items():
        if not siege.running():
            return
        outcome.actions += 1
        try:
            status, body = await http(source, siege.port, raw)
        except TimeoutError:
            if name != "an endless Content-Length":  # that one waits for its body like any upload
                outcome.fail(f"{name}: neither answered nor closed within {ANSWER_TIMEOUT:.0f} s")
            continue
        if status is not None and status >= 500:
            outcome.fail(f"{name}: answered {status}")
        if len(body) > max(3 * size, 64 * 1024):
            outcome.fail(f"{name}: answered with {len(body)} bytes (amplification)")


@attack(
    "liveness",
    "all",
    f"/healthz from one more address every 0.5 s during the siege: each answered 200 within {ANSWER_TIMEOUT:.0f} s",
)
async def liveness(siege: Siege, outcome: Outcome) -> None:
    source = siege.address()
    slowest = 0.0
    while siege.running():
        started = time.monotonic()
        try:
            status, _ = await http(source, siege.port, request("GET", "/healthz"))
        except (TimeoutError, OSError) as error:
            outcome.fail(f"/healthz did not answer ({type(error).__name__}) {time.monotonic() - started:.1f} s")
            status = None
        outcome.actions += 1
        slowest = max(slowest, time.monotonic() - started)
        if status is not None and status != 200:
            outcome.fail(f"/healthz answered {status}")
        await asyncio.sleep(0.5)  # a probe's period
    outcome.note(f"slowest /healthz: {slowest:.2f} s")
