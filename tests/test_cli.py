"""The `videochat` command: options, environment variables, bad input, TLS, reload, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_history import wait_until

from videochat.settings import env_name, option_name, setting_fields

from support import Recorder


def videochat(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "videochat", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
    )


def test_help_lists_every_setting_with_its_environment_variable():
    result = videochat("serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for f in setting_fields():
        if not f.metadata.get("env_only"):  # secrets have no flag; the help names their variable
            assert f"--{option_name(f.name)}" in text
        assert env_name(f.name) in text


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--port", "many"], {}, "'many' is not a valid integer"),
        (["--port", "70000"], {}, "port must be between 0 and 65535"),
        ([], {"VIDEOCHAT_PORT": "abc"}, "'abc' is not a valid integer"),
        (["--log-level", "loud"], {}, "'loud' is not one of"),
        (["--tls-cert", "cert.pem"], {}, "tls-cert and tls-key go together"),
        (["--max-nickname", "0"], {}, "max-nickname must be at least 1"),
        (["--history-retention", "-1"], {}, "history-retention must be more than 0"),
        (["--no-such-option"], {}, "No such option"),
        (["--redis", "http://cache:6379"], {}, "redis: expected redis://host:port/db"),
        ([], {"VIDEOCHAT_REDIS": "redis://:hunter2@"}, "redis: expected"),
        (["--redis", "redis://127.0.0.1:1/0", "--redis-heartbeat", "60"], {}, "redis-heartbeat must be between"),
        (["--room-list-rate", "0"], {}, "room-list-rate must be more than 0"),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(args, env, expected):
    result = videochat("serve", *args, env=env)
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_a_peer_cannot_both_only_send_and_receive_audio():
    result = videochat("peer", "http://127.0.0.1:1", "room", "--send-only", "--receive-audio-only")
    assert result.returncode == 2
    assert "choose either --send-only or --receive-audio-only" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_is_the_default_command_and_binds_loopback(server_factory, tmp_path):
    server = server_factory()
    assert "listening on http://127.0.0.1:" in server.log
    assert server.port > 0


async def test_environment_variables_configure_the_server(server_factory):
    server = server_factory(env={"VIDEOCHAT_MAX_NICKNAME": "5"})
    client = await Recorder(server.url).connect()
    try:
        assert (await client.call("nickname", "Fives"))["ok"]
        assert (await client.call("nickname", "Sixsix"))["error"]["code"] == "invalid_nickname"
    finally:
        await client.disconnect()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_shutdown_tells_clients_and_exits_cleanly(server_factory, sig):
    server = server_factory()
    websocket_client = await Recorder(server.url).connect()
    polling_client = await Recorder(server.url, transports=["polling"]).connect()
    await websocket_client.call("enter_room", "r")
    await polling_client.call("enter_room", "r")
    assert await asyncio.to_thread(server.stop, sig) == 0
    for client in (websocket_client, polling_client):
        (notice,) = await client.wait_for("server_shutdown")
        assert notice["message"]
        await client.disconnect()
    assert "Traceback" not in server.log
    assert "history flushed" in server.log


async def test_self_signed_certificate_is_created_once_and_reused(server_factory, tmp_path):
    data_dir = tmp_path / "tls-data"
    server = server_factory("--self-signed", data_dir=data_dir)
    assert server.url.startswith("https://")
    certificate = data_dir / "tls" / "self-signed.crt"
    first = certificate.read_bytes()
    assert oct((data_dir / "tls" / "self-signed.key").stat().st_mode & 0o777) == "0o600"
    context = ssl.create_default_context(cafile=str(certificate))
    async with httpx.AsyncClient(verify=context) as http:
        assert (await http.get(server.url + "/api/rooms")).json() == {"rooms": []}
    server.restart()
    assert certificate.read_bytes() == first
    async with httpx.AsyncClient(verify=context) as http:
        assert (await http.get(server.url + "/api/rooms")).status_code == 200


def test_tls_files_that_do_not_exist_are_refused(tmp_path):
    result = videochat("serve", "--tls-cert", str(tmp_path / "a.pem"), "--tls-key", str(tmp_path / "b.pem"))
    assert result.returncode == 2
    assert "TLS file not found" in result.stderr


async def test_reload_restarts_the_server_when_code_changes(server_factory):
    server = server_factory("--reload")
    async with httpx.AsyncClient() as http:
        assert (await http.get(server.url + "/api/rooms")).status_code == 200
    source = Path(__file__).parents[1] / "src" / "videochat" / "model" / "rooms.py"
    stat = source.stat()
    os.utime(source, (stat.st_atime, stat.st_mtime + 1))  # the content stays; the watcher sees a change
    try:
        await wait_until(lambda: server.log.count("listening on") >= 2, what="reloaded server")
    finally:
        os.utime(source, (stat.st_atime, stat.st_mtime))
    async with httpx.AsyncClient() as http:
        assert (await http.get(server.url + "/api/rooms")).status_code == 200


async def test_redis_password_is_never_logged_and_warned_about_on_the_command_line(server_factory, redis_server):
    url = redis_server.url.replace("redis://", "redis://:not-the-password@")  # Redis ignores it here
    # refused by Redis (no password set), which is the point: the URL is logged, redacted
    server = await asyncio.to_thread(server_factory, "--redis", url)
    assert "not-the-password" not in server.log
    assert "redis://:***@127.0.0.1" in server.log
    assert "use VIDEOCHAT_REDIS" in server.log
