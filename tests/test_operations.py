"""What an operator uses: the admin namespace, /healthz and /readyz, /metrics, the logs (docs/operations.md).

All against real server processes; the admin side is driven with python-socketio's client exactly as
the Admin UI speaks (tests/browser/test_admin_ui.py drives the UI itself).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import httpx
import pytest
import socketio
from test_history import wait_until

from support import ADMIN_PASSWORD, AdminClient, Recorder, scrape

GOOD = {"username": "admin", "password": ADMIN_PASSWORD}


# the admin namespace


async def test_without_a_password_the_admin_namespace_does_not_exist(live_server):
    admin = AdminClient(live_server.url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await admin.connect(GOOD)
    await admin.disconnect()
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        page = await http.get("/admin/")
        assert page.status_code == 404
        assert "VIDEOCHAT_ADMIN_PASSWORD" in page.text
        assert (await http.get("/admin/js/app.0d7d7845.js")).status_code == 404


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"username": "admin", "password": "wrong"},
        {"username": "root", "password": ADMIN_PASSWORD},
        {"username": "admin", "password": ADMIN_PASSWORD.upper()},
        {"username": ["admin"], "password": ADMIN_PASSWORD},
        {"username": "admin", "password": "x" * 5000},
    ],
)
async def test_wrong_or_missing_credentials_are_refused(admin_server, auth):
    admin = AdminClient(admin_server.url)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await admin.connect(auth)
    await admin.disconnect()
    assert admin.refusal is not None
    assert ADMIN_PASSWORD not in admin_server.log


async def test_admin_operations_go_through_the_room_model(admin_server, room):
    """Join, leave and disconnect from the UI give the same welcome/bye/room_change as the clients' own."""
    alice, bob = await Recorder(admin_server.url).connect(), await Recorder(admin_server.url).connect()
    admin = await AdminClient(admin_server.url).connect(GOOD)
    try:
        await alice.call("nickname", "Alice")
        await bob.call("nickname", "Bob")
        await alice.call("enter_room", room)
        await wait_until(lambda: any(e == "all_sockets" for e, _ in admin.events), what="the admin's socket list")
        listed = {s["id"] for s in next(args[0] for e, args in admin.events if e == "all_sockets")}
        assert {alice.sid, bob.sid} <= listed

        await admin.emit("join", "/", room, bob.sid)  # the UI's "join room" on one socket
        _, count, info = await alice.wait_for("welcome", lambda *a: a[2]["member"]["id"] == bob.sid)
        assert count == 2
        await alice.wait_for("room_change", lambda names, rooms: {"name": room, "count": 2, "locked": False} in rooms)
        assert (await bob.call("new_message", "moved here", room))["ok"]  # bob really is a member now
        await alice.wait_for("new_message")

        await admin.emit("leave", "/", room, bob.sid)
        await alice.wait_for("bye", lambda nickname, count, info: nickname == "Bob" and count == 1)
        assert (await bob.call("new_message", "still here?", room))["error"]["code"] == "not_in_room"

        # the UI's emit: an event of the operator's choosing, which the protocol does not list
        await admin.emit("emit", "/", alice.sid, "operator_notice", {"text": "maintenance at noon"})
        assert (await alice.wait_for("operator_notice")) == ({"text": "maintenance at noon"},)
        assert not bob.received("operator_notice")

        await admin.emit("join", "/admin", room, None)  # admin sockets are never members
        await admin.emit("join", "/", "", bob.sid)  # an invalid room name is refused, nothing changes
        await admin.emit("join", "/", room, bob.sid)
        await wait_until(lambda: len(alice.received("welcome")) == 2, what="bob joined again")

        await admin.emit("_disconnect", "/", False, bob.sid)  # the UI's disconnect button
        await wait_until(lambda: not bob.sio.connected, what="bob disconnected by the admin")
        await alice.wait_for("bye", lambda nickname, count, info: nickname == "Bob" and len(alice.received("bye")) == 2)
        change = await alice.wait_for(
            "room_change", lambda names, rooms: {"name": room, "count": 1, "locked": False} in rooms
        )
        assert change[0].count(room) == 1
        await alice.barrier()
        members = (await alice.call("enter_room", room))["members"]
        assert members == [{"id": alice.sid, "nickname": "Alice"}]  # the admin is nobody's co-member
        # nothing of the admin namespace reached an ordinary client
        assert {event for event, _ in alice.events} <= {
            "welcome",
            "bye",
            "room_change",
            "new_message",
            "operator_notice",
        }
    finally:
        for client in (alice, bob, admin):
            await client.disconnect()


async def test_read_only_admin_sees_but_cannot_change(server_factory, room, tmp_path):
    password_file = tmp_path / "admin-password"
    password_file.write_text(ADMIN_PASSWORD + "\n")
    server = server_factory("--admin-password-file", str(password_file), "--admin-read-only", "--admin-username", "ops")
    alice = await Recorder(server.url).connect()
    admin = await AdminClient(server.url).connect({"username": "ops", "password": ADMIN_PASSWORD})
    try:
        await alice.call("enter_room", room)
        config = await _first(admin, "config")
        assert "DISCONNECT" not in config[0]["supportedFeatures"]
        await admin.emit("_disconnect", "/", False, alice.sid)
        await admin.emit("leave", "/", room, alice.sid)
        await alice.barrier()
        assert alice.sio.connected
        assert (await alice.call("new_message", "still in", room))["ok"]
    finally:
        await alice.disconnect()
        await admin.disconnect()


async def _first(admin: AdminClient, event: str) -> tuple:
    await wait_until(lambda: any(e == event for e, _ in admin.events), what=f"admin event {event}")
    return next(args for e, args in admin.events if e == event)


# health


async def test_readyz_follows_the_database(fresh_server):
    async with httpx.AsyncClient(base_url=fresh_server.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"storage": "ok"}})

        # The volume holding the database goes away (unmounted, moved): the open connection would
        # still answer, the database is unavailable all the same.
        away = fresh_server.data_dir.with_name(fresh_server.data_dir.name + "-away")
        fresh_server.data_dir.rename(away)
        try:
            down = await http.get("/readyz")
            assert down.status_code == 503
            body = down.json()
            assert body["status"] == "unavailable" and body["checks"] == {"storage": "failed"}
            assert "unable to open database file" in body["reasons"]["storage"]
            assert (await http.get("/healthz")).status_code == 200  # alive, only not ready
        finally:
            away.rename(fresh_server.data_dir)
        assert (await http.get("/readyz")).status_code == 200

    await wait_until(lambda: "not ready" in fresh_server.log, what="the 'not ready' log line")


async def test_sigusr1_prints_where_the_server_is_and_it_goes_on(fresh_server):
    """What a hung process is asked before it is killed (tests/support.py does on a stop that
    times out): every thread's stack and every asyncio task's, and the server keeps serving."""
    os.kill(fresh_server.process.pid, signal.SIGUSR1)
    await wait_until(lambda: "--- task videochat-history-writer" in fresh_server.log, what="the tasks' stacks")
    assert "Current thread" in fresh_server.log or "Thread 0x" in fresh_server.log  # faulthandler's
    async with httpx.AsyncClient(base_url=fresh_server.url) as http:
        assert (await http.get("/healthz")).status_code == 200
    assert fresh_server.stop() == 0
    assert "stopping" in fresh_server.log and "stopped" in fresh_server.log


# metrics


async def test_metrics_are_exact_after_a_scripted_scenario(server_factory, tmp_path):
    token_file = tmp_path / "metrics-token"
    token_file.write_text("scrape-me\n")
    server = server_factory("--metrics-token-file", str(token_file))
    clients = [await Recorder(server.url).connect() for _ in range(3)]
    poller = await Recorder(server.url, transports=["polling"]).connect()
    alice, bob, carol = clients
    try:
        for client in (alice, bob):
            assert (await client.call("enter_room", "one"))["ok"]
        assert (await carol.call("enter_room", "two"))["ok"]
        assert (await carol.call("enter_room", ""))["error"]["code"] == "invalid_room"
        for text in ("a", "b", "c"):
            assert (await alice.call("new_message", text, "one"))["ok"]
        assert (await carol.call("new_message", "d", "two"))["ok"]
        assert (await alice.call("new_message", "   ", "one"))["error"]["code"] == "invalid_message"
        assert (await poller.call("new_message", "e", "one"))["error"]["code"] == "not_in_room"
        await poller.emit("no_such_event", 1)
        await poller.wait_for("error")

        async with httpx.AsyncClient(base_url=server.url) as http:
            for path in ("/r/x", "/r/y%20z"):
                assert (await http.get(path)).status_code == 200
            assert (await http.get("/no/such/page")).status_code == 404
            assert (await http.get("/metrics")).status_code == 401
            assert (await http.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
            reply = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
            assert reply.status_code == 200
            assert reply.headers["content-type"].startswith("text/plain")
            metrics = scrape(reply.text)

            def value(name: str, **labels: str) -> float:
                return metrics.get((name, frozenset(labels.items())), 0.0)

            assert value("videochat_socketio_connections", transport="websocket") == 3
            assert value("videochat_socketio_connections", transport="polling") == 1
            assert value("videochat_rooms") == 2
            assert value("videochat_rooms_by_size", members="1") == 1
            assert value("videochat_rooms_by_size", members="2") == 1
            assert value("videochat_rooms_by_size", members="3-5") == 0
            assert value("videochat_room_memberships") == 3
            assert value("videochat_largest_room_members") == 2
            assert not any("room" in dict(labels) for _, labels in metrics)  # no label names a room
            assert value("videochat_chat_messages_total") == 4
            assert value("videochat_calls_in_progress") == 0
            assert value("videochat_rejected_inputs_total", reason="invalid_room") == 1
            assert value("videochat_rejected_inputs_total", reason="invalid_message") == 1
            assert value("videochat_rejected_inputs_total", reason="not_in_room") == 1
            assert value("videochat_rejected_inputs_total", reason="unknown_event") == 1
            assert value("videochat_event_seconds_count", event="enter_room") == 4
            assert value("videochat_event_seconds_count", event="new_message") == 6
            assert value("videochat_http_requests_total", route="/r/{room:path}", status="200") == 2
            assert value("videochat_http_requests_total", route="unmatched", status="404") == 1
            assert value("videochat_http_requests_total", route="/metrics", status="401") == 2
            assert value("videochat_http_requests_total", route="/socket.io/", status="200") > 0
            assert not any(name.startswith("videochat_signaling") and name.endswith("_total") for name, _ in metrics)

            await bob.disconnect()
            await carol.call("leave_room", "two")
            await alice.barrier()
            again = scrape((await http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text)
            assert again[("videochat_socketio_connections", frozenset({("transport", "websocket")}))] == 2
            assert again[("videochat_rooms", frozenset())] == 1
            assert again[("videochat_rooms_by_size", frozenset({("members", "1")}))] == 1
            assert again[("videochat_rooms_by_size", frozenset({("members", "2")}))] == 0
            assert again[("videochat_room_memberships", frozenset())] == 1
            assert again[("videochat_largest_room_members", frozenset())] == 1
            assert again[("videochat_http_requests_total", frozenset({("route", "/metrics"), ("status", "200")}))] == 1
    finally:
        for client in clients:
            await client.disconnect()
        # python-engineio's server answers a polling client's close by dropping it, leaving that
        # client's pending long-poll to time out (about 30 s): do not wait for it.
        await poller.sio.eio.disconnect(abort=True)
    assert "scrape-me" not in server.log


async def test_admin_sockets_are_not_counted_as_clients(admin_server):
    admin = await AdminClient(admin_server.url).connect(GOOD)
    try:
        async with httpx.AsyncClient(base_url=admin_server.url) as http:
            metrics = scrape((await http.get("/metrics")).text)  # no token configured: open
        connected = sum(v for (name, _), v in metrics.items() if name == "videochat_socketio_connections")
        assert connected == 0
        assert metrics[("videochat_admin_logins_total", frozenset({("result", "accepted")}))] >= 1
    finally:
        await admin.disconnect()


def test_metrics_belong_to_their_app_and_take_the_call_hooks(tmp_path):
    """Two apps in one process keep their own numbers; the hooks the call code will use work."""
    from videochat.app import create_app
    from videochat.settings import Settings

    one, two = (create_app(Settings(data_dir=tmp_path / name).validate()) for name in ("one", "two"))
    one.metrics.signaling_relayed("offer")
    one.metrics.signaling_relayed("offer")
    one.metrics.signaling_relayed("ice")
    one.metrics.count_calls_with(lambda: 3)
    first, second = scrape(one.metrics.exposition().decode()), scrape(two.metrics.exposition().decode())
    assert first[("videochat_signaling_messages_total", frozenset({("kind", "offer")}))] == 2
    assert first[("videochat_signaling_messages_total", frozenset({("kind", "ice")}))] == 1
    assert first[("videochat_calls_in_progress", frozenset())] == 3
    assert second[("videochat_calls_in_progress", frozenset())] == 0
    assert not any(name == "videochat_signaling_messages_total" for name, _ in second)


# logs


async def test_json_logs_carry_context_and_never_what_users_say(server_factory, room):
    server = server_factory("--log-format", "json", "--log-level", "debug")
    alice = await Recorder(server.url).connect()
    sid = alice.sid
    try:
        await alice.call("nickname", "Jisoo Kim")
        await alice.call("enter_room", room)
        await alice.call("new_message", "my private words", room)
        await alice.call("new_message", "", room)
    finally:
        await alice.disconnect()
    await wait_until(lambda: '"disconnected"' in server.log, what="the disconnect logged")
    entries = [json.loads(line) for line in server.log.splitlines() if line.strip()]  # every line is JSON
    entered = next(e for e in entries if e["message"] == "enter_room")
    assert (entered["room"], entered["sid"], entered["nickname"], entered["count"]) == (room, sid, "Jisoo Kim", 1)
    relayed = next(e for e in entries if e["message"] == "new_message")
    assert relayed["room"] == room and relayed["nickname"] == "Jisoo Kim" and "text" not in relayed
    refused = next(e for e in entries if e["message"] == "refused new_message")
    assert refused["code"] == "invalid_message" and refused["sid"] == sid
    assert "my private words" not in server.log


async def test_log_sensitive_writes_message_text(server_factory, room):
    server = server_factory("--log-sensitive", "--log-level", "debug")
    alice = await Recorder(server.url).connect()
    try:
        await alice.call("enter_room", room)
        await alice.call("new_message", "words for debugging", room)
    finally:
        await alice.disconnect()
    await wait_until(lambda: 'text="words for debugging"' in server.log, what="the text logged")
    line = next(line for line in server.log.splitlines() if 'text="words for debugging"' in line)
    assert f"room={room}" in line and " new_message " in line


# settings


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "videochat", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--admin-password", "x"], {}, "No such option"),  # never on a command line
        (["--metrics-token", "x"], {}, "No such option"),
        (["--admin-password-file", "/no/such/file"], {}, "admin-password-file /no/such/file cannot be read"),
        (["--admin-password-file", "/dev/null"], {}, "admin-password is empty"),
        ([], {"VIDEOCHAT_ADMIN_PASSWORD": "   "}, "admin-password is empty"),
        (["--metrics-token-file", "/etc/hostname"], {"VIDEOCHAT_METRICS_TOKEN": "t"}, "not both"),
        (["--log-format", "xml"], {}, "'xml' is not one of"),
    ],
)
def test_bad_operations_settings_are_refused(args, env, expected):
    result = _serve(*args, env=env)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
