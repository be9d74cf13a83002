"""Attacks on connections and transports (docs/security.md, "Connections and
transports"): requests the server never answers, connections that never finish, and long-polling
clients that never read. Several attackers at once, each from its own loopback address; what the
server holds is read from /proc of its process (tests/support.py ProcessProbe)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import socketio
import websockets

from support import ProcessProbe, Recorder, attacker_addresses, eventually, scrape

ENGINE_IO = "/socket.io/"
POLLING = {"EIO": "4", "transport": "polling"}


def from_address(server, source: str, **options) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from the loopback address `source`."""
    return httpx.AsyncClient(base_url=server.url, transport=httpx.AsyncHTTPTransport(local_address=source), **options)


async def polling_session(http: httpx.AsyncClient) -> str:
    """A new Engine.IO long-polling session (no Socket.IO namespace connected); its id."""
    reply = await http.get(ENGINE_IO, params=POLLING)
    assert reply.status_code == 200, reply.text
    assert reply.text.startswith("0{"), reply.text
    return json.loads(reply.text[1:])["sid"]


def close_wait(probe: ProcessProbe) -> int:
    return probe.tcp_states().get("CLOSE_WAIT", 0)


# a long-polling POST over the size limit used to be left unanswered for good


async def test_oversized_polling_posts_are_answered_and_leak_no_descriptor(server_factory):
    server = server_factory("--max-packet-bytes", "8192", "--max-sdp-bytes", "2048")
    probe = ProcessProbe(server.process.pid)
    fds_before, close_wait_before = probe.open_fds(), close_wait(probe)
    addresses = attacker_addresses(6)
    requests_per_address = 50  # 300 in all
    body = "4" + "x" * 20_000  # one Engine.IO message, over --max-packet-bytes
    statuses: list[int | str] = []

    async def attacker(source: str) -> None:
        # a client that gives up after a few seconds, as the first report's script did: an unanswered
        # request then leaves the server's side of the connection in CLOSE-WAIT
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=0)
        async with from_address(server, source, timeout=5, limits=limits) as http:

            async def one() -> None:
                try:
                    sid = await polling_session(http)
                    reply = await http.post(
                        ENGINE_IO,
                        params={**POLLING, "sid": sid},
                        content=body,
                        headers={"Content-Type": "text/plain;charset=UTF-8"},
                    )
                    statuses.append(reply.status_code)
                except httpx.TimeoutException:
                    statuses.append("no answer")

            await asyncio.gather(*(one() for _ in range(requests_per_address)))

    await asyncio.gather(*(attacker(source) for source in addresses))
    unanswered = statuses.count("no answer")
    assert unanswered == 0, f"{unanswered} of {len(statuses)} over-size POSTs were never answered"
    assert len(statuses) == 300 and all(400 <= status < 500 for status in statuses), sorted(set(statuses))
    # what the server held for them is gone: no socket left half-closed, descriptors back to the start
    await eventually(lambda: close_wait(probe) <= close_wait_before, timeout=15, what="no CLOSE-WAIT left")
    await eventually(
        lambda: probe.open_fds() <= fds_before + 10, timeout=15, what=f"descriptors back near {fds_before}"
    )
    # and the server stops within its graceful timeout (5 s; stop() raises if it has to kill it)
    started = time.monotonic()
    assert server.stop() == 0
    assert time.monotonic() - started < 5, server.log[-2000:]


# what waits for a long-polling client that never fetches it used to grow without bound


async def polling_member(http: httpx.AsyncClient, room: str) -> str:
    """A Socket.IO member over long-polling, in `room`, that will never fetch again; its session id."""
    sid = await polling_session(http)
    session = {**POLLING, "sid": sid}
    assert (await http.post(ENGINE_IO, params=session, content="40")).status_code == 200
    assert (await http.get(ENGINE_IO, params=session)).text.startswith("40{")  # the namespace is connected
    entered = await http.post(ENGINE_IO, params=session, content=f'421["enter_room",{json.dumps(room)}]')
    assert entered.status_code == 200
    return sid


async def slow_clients_dropped(http: httpx.AsyncClient) -> float:
    samples = scrape((await http.get("/metrics")).text)
    return samples.get(("videochat_slow_clients_dropped_total", frozenset()), 0.0)


async def test_a_polling_client_that_never_fetches_is_dropped_and_memory_stays_bounded(server_factory, room):
    # --max-outgoing-bytes is left at its default (1 MiB)
    server = server_factory("--max-message", "5000", "--message-rate", "2000", "--message-burst", "2000")
    probe = ProcessProbe(server.process.pid)
    sender, receiver = Recorder(server.url), Recorder(server.url)
    attackers = [from_address(server, source, timeout=5) for source in attacker_addresses(3)]
    try:
        for client in (sender, receiver):
            await client.connect()
            assert (await client.call("enter_room", room))["ok"]
        sessions = [await polling_member(http, room) for http in attackers]
        rss_before = probe.rss_bytes()
        # the room is busy: 5,000 messages of 5,000 characters (25 MB), each one queued for every
        # member over long-polling that does not fetch it; the well-behaved members keep up
        count, batch, text = 5000, 100, "m" * 4995

        def received() -> int:
            return len(receiver.received("new_message"))

        for start in range(0, count, batch):
            await asyncio.gather(
                *(sender.emit("new_message", f"{i:05d}{text}", room) for i in range(start, start + batch))
            )
            await eventually(
                lambda start=start: received() >= start + batch, timeout=30, what=f"{start + batch} messages"
            )
        grown = probe.rss_bytes() - rss_before
        # the well-behaved member heard everything, in order
        got = [args[1]["text"][:5] for args in receiver.received("new_message")]
        assert got == [f"{i:05d}" for i in range(count)]
        # each attacker was dropped once 1 MiB waited for it (its next GET finds no session)
        async with httpx.AsyncClient(base_url=server.url) as http:
            assert await slow_clients_dropped(http) >= len(attackers)
        for http, sid in zip(attackers, sessions, strict=True):
            assert (await http.get(ENGINE_IO, params={**POLLING, "sid": sid})).status_code == 400
        await server.wait_log("too slow to read")
        # (57 MiB before the bound, 9 after: what is left is the allocator's, not queues)
        assert grown < 24 << 20, f"the server grew by {grown / 2**20:.1f} MiB, less than one non-reader's 25 MB"
    finally:
        await sender.disconnect()
        await receiver.disconnect()
        for http in attackers:
            await http.aclose()


# connections that never finish used to be held without limit


async def half_open_request(server, source: str) -> tuple[bytes, float]:
    """Open a connection from `source`, send half a request head and nothing more; what the server
    sends until it closes the connection, and when that was (seconds after opening). A refused
    connection may come back as b"reset": the server closed it at once, without reading, so what the
    client sent resets it, and its 503 may be lost with it."""
    loop = asyncio.get_running_loop()
    opened = loop.time()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, local_addr=(source, 0))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Waiting: ")
        try:
            answer = await asyncio.wait_for(reader.read(), 20)  # until the server closes
        except ConnectionResetError:
            answer = b"reset"
        return answer, loop.time() - opened
    finally:
        writer.close()


async def namespaceless_websocket(server, source: str) -> str:
    """An Engine.IO WebSocket from `source` that never connects a namespace: "refused" (the handshake
    is answered 503, or reset: see half_open_request), or "closed" once the server closes it."""
    url = server.url.replace("http", "ws", 1) + ENGINE_IO + "?EIO=4&transport=websocket"
    try:
        async with websockets.connect(url, local_addr=(source, 0), ping_interval=None, open_timeout=10) as ws:
            assert (await ws.recv()).startswith("0{")  # the Engine.IO OPEN packet: a session
            try:
                while True:  # the server's pings (none within the test) until it closes
                    await asyncio.wait_for(ws.recv(), 20)
            except websockets.exceptions.ConnectionClosed:
                return "closed"
    except websockets.exceptions.InvalidStatus as refusal:
        assert refusal.response.status_code == 503
        return "refused"
    except (websockets.exceptions.InvalidMessage, ConnectionResetError):
        return "refused"


async def test_unfinished_connections_are_capped_per_address_and_timed_out(server_factory):
    cap, timeout = 30, 2
    server = server_factory(
        "--max-tcp-connections-per-ip", str(cap), "--request-timeout", str(timeout), "--handshake-timeout", str(timeout)
    )
    probe = ProcessProbe(server.process.pid)
    fds_before = probe.open_fds()
    *half_open_from, websockets_from, polling_from = attacker_addresses(4)
    health: list[int] = []
    attacking = True

    async def well_behaved() -> None:  # from 127.0.0.1, all along
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            while attacking:
                health.append((await http.get("/healthz")).status_code)
                await asyncio.sleep(0.05)  # a client polling now and then

    async def polling_sessions() -> list[str]:
        """20 long-polling sessions that connect no namespace (held by one GET each, under the cap):
        what each GET is answered once the session is closed, and what a GET gets after that."""
        async with from_address(server, polling_from, timeout=15) as http:
            sids = [await polling_session(http) for _ in range(20)]
            # a GET waits until something is sent to the session: its Close
            closing = await asyncio.gather(*(http.get(ENGINE_IO, params={**POLLING, "sid": sid}) for sid in sids))
            after = [await http.get(ENGINE_IO, params={**POLLING, "sid": sid}) for sid in sids]
            return [f"{a.status_code} {a.text} / {b.status_code}" for a, b in zip(closing, after, strict=True)]

    watcher = asyncio.create_task(well_behaved())
    try:
        half_open = [half_open_request(server, source) for source in half_open_from for _ in range(cap + 15)]
        sessions = [namespaceless_websocket(server, websockets_from) for _ in range(cap + 10)]
        results = await asyncio.gather(asyncio.gather(*half_open), asyncio.gather(*sessions), polling_sessions())
    finally:
        attacking = False
        await watcher
    answers, session_ends, polling_statuses = results
    # over the cap, refused at once with 503; the others closed by the request deadline (408)
    refused = [seconds for answer, seconds in answers if answer.startswith((b"HTTP/1.1 503", b"reset"))]
    timed_out = [seconds for answer, seconds in answers if answer.startswith(b"HTTP/1.1 408")]
    assert len(refused) == 2 * 15 and len(timed_out) == 2 * cap, [answer[:12] for answer, _ in answers]
    assert max(refused) < timeout - 0.1 < min(timed_out) < timeout + 5  # (timers may fire a ms early)
    # namespace-less WebSockets: the excess refused, the others closed by the handshake deadline
    assert sorted(session_ends) == ["closed"] * cap + ["refused"] * 10
    assert set(polling_statuses) == {"200 1 / 400"}  # the Engine.IO Close, then no session
    # the well-behaved client was answered throughout, and the server holds what it held before
    assert health and set(health) == {200}
    await eventually(
        lambda: probe.open_fds() <= fds_before + 10, timeout=15, what=f"descriptors back near {fds_before}"
    )
    await eventually(lambda: close_wait(probe) == 0, timeout=10, what="no CLOSE-WAIT left")


async def test_a_trusted_proxy_is_not_capped_and_an_upgraded_connection_counts_once(server_factory):
    server = server_factory("--max-tcp-connections-per-ip", "3", "--trusted-proxies", "127.0.0.1")
    # behind the proxy (127.0.0.1 here) everyone comes from its address: not capped at TCP level
    proxied = []
    for n in range(6):
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(
            server.url, headers={"X-Forwarded-For": f"203.0.113.{n}"}, transports=["websocket"], wait_timeout=5
        )
        proxied.append(client)
    # from elsewhere, three WebSockets (HTTP upgraded) fill the cap
    source = attacker_addresses(1)[0]
    direct = [await Recorder(server.url, source=source).connect() for _ in range(3)]
    try:
        async with from_address(server, source, timeout=5) as http:
            assert (await http.get("/healthz")).status_code == 503
        await direct.pop().disconnect()  # a place is given back, once
        direct.append(await eventually(lambda: _try_connect(server.url, source), timeout=10, what="a free place"))
        async with from_address(server, source, timeout=5) as http:
            assert (await http.get("/healthz")).status_code == 503
    finally:
        for client in direct:
            await client.disconnect()
        for client in proxied:
            await client.disconnect()


async def _try_connect(url: str, source: str) -> Recorder | None:
    client = Recorder(url, source=source)
    try:
        return await client.connect()
    except socketio.exceptions.ConnectionError:
        await client.disconnect()
        return None


def test_connections_count_by_address_and_by_ipv6_block():
    from videochat.connections import AddressCap

    cap = AddressCap(2, exempt=["10.0.0.0/8"])
    assert cap.key("2001:db8:1:2:aaaa::1") == cap.key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert cap.key("::ffff:192.0.2.7") == "192.0.2.7" and cap.key("10.1.2.3") is None
    one, two, three, proxy = object(), object(), object(), object()
    assert cap.admit(one, "2001:db8:1:2::1") and cap.admit(two, "2001:db8:1:2::2")
    assert not cap.admit(three, "2001:db8:1:2::3") and cap.admit(three, "2001:db8:1:3::1")
    assert cap.admit(proxy, "10.0.0.1") and cap.held("10.0.0.1") == 0
    cap.release(one)
    cap.release(one)  # released once only
    assert cap.held("2001:db8:1:2::9") == 1
