"""videochat behind a real nginx running the example site (deploy/nginx/videochat.conf, tests/nginx.py).

Different client addresses come from the loopback network's other addresses (127.0.0.2, ...): nginx
sees them as `$remote_addr` and forwards them; videochat sees every request coming from nginx,
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path

import httpx
import pytest
import websockets

from videochat.settings import env_name, setting_fields

from nginx import NginxProxy
from support import SHARED_ADDRESS, ServerProcess, check_seed_chat, run_seed_chat


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory):
    """Two videochat processes (without Redis: each on its own) that trust the proxy on 127.0.0.1."""
    servers = [
        ServerProcess(
            tmp_path_factory.mktemp(f"behind-nginx-{i}"), *SHARED_ADDRESS, "--trusted-proxies", "127.0.0.1"
        ).start()
        for i in range(2)
    ]
    yield servers
    for server in servers:
        server.stop()


def ws_base(url: str) -> str:
    return url.replace("http", "ws", 1)


async def receive(ws, timeout: float = 5.0) -> str:
    return await asyncio.wait_for(ws.recv(), timeout)


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_official_client_chats_through_nginx(backends, fresh_server, nginx_proxy, transport):
    # Long-polling needs the example's sticky sessions: with two processes, every request of a
    # session must reach the process that holds it. Websocket-only clients need no stickiness and
    # go through the example's least_conn variant, to a process of their own (without Redis, two
    # processes would not share the room; and a polling client's last disconnect may still be on
    # its way when the Node script exits, leaving its room for a while).
    if transport == "polling":
        proxy, servers = nginx_proxy([server.url for server in backends]), backends
    else:
        proxy, servers = nginx_proxy([fresh_server.url], balance="least_conn"), [fresh_server]
    log = run_seed_chat(
        proxy.url,
        transport,
        env={"NODE_EXTRA_CA_CERTS": str(proxy.ca_file)},
        context=proxy.log + "".join(server.log for server in servers),
    )
    check_seed_chat(log, transport)
    requests = [line for line in proxy.access_log() if "/socket.io/?EIO=4" in line]
    assert requests and all(f"transport={transport}" in line for line in requests)
    if transport == "polling":
        assert len(requests) > 4  # a session's several requests, all answered by its own process


async def test_plain_websocket_lobby_through_nginx(backends, nginx_proxy):
    proxy = nginx_proxy([backends[0].url])
    context = proxy.ssl_context()
    async with (
        websockets.connect(ws_base(proxy.url) + "/", ssl=context) as alice,
        websockets.connect(ws_base(proxy.url) + "/", ssl=context) as bob,
    ):
        await alice.send(json.dumps({"type": "nickname", "payload": "Alice"}))
        await alice.send(json.dumps({"type": "new_message", "payload": "hello through nginx"}))
        assert await receive(alice) == "Alice: hello through nginx"
        assert await receive(bob) == "Alice: hello through nginx"
        await bob.send("not json")
        assert (await receive(bob)).startswith("error: not JSON")


async def test_pages_health_and_headers_through_nginx(backends, nginx_proxy):
    proxy = nginx_proxy([backends[0].url])
    async with httpx.AsyncClient(base_url=proxy.url, verify=proxy.ssl_context()) as http:
        page = await http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        # videochat's own security headers pass through, and nginx adds HSTS
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["strict-transport-security"].startswith("max-age=")
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert ready.headers["cache-control"] == "no-store"
        client = await http.get("/socket.io/socket.io.js")
        assert client.status_code == 200 and "javascript" in client.headers["content-type"]
        # metrics are scraped from each process directly, never through the public site
        assert (await http.get("/metrics")).status_code == 403
        # the admin UI is left to videochat, which keeps it off without a password
        admin = await http.get("/admin/")
        assert admin.status_code == 404 and "The admin UI is off" in admin.text
        # a long-polling body larger than --max-packet-bytes stops at nginx
        too_big = await http.post(
            "/socket.io/", params={"EIO": "4", "transport": "polling", "sid": "x"}, content=b"4" + b"x" * 200_000
        )
        assert too_big.status_code == 413
    async with httpx.AsyncClient() as http:
        redirect = await http.get(proxy.redirect_url + "/r/lobby?lang=ko")
        assert redirect.status_code == 301
        assert redirect.headers["location"] == "https://127.0.0.1/r/lobby?lang=ko"


async def lobby(proxy: NginxProxy, source: str, forwarded_for: str | None = None):
    """A plain WebSocket lobby connection through nginx from the loopback address `source`."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    return await websockets.connect(
        ws_base(proxy.url) + "/", ssl=proxy.ssl_context(), local_addr=(source, 0), additional_headers=headers
    )


async def socket_io_connect(proxy: NginxProxy, source: str, origin: str | None = None):
    """A Socket.IO connection over Engine.IO's WebSocket, as a browser page at `origin` opens it:
    (the WebSocket, the server's answer to the namespace connect: "40{sid}" or "44{refusal}")."""
    ws = await websockets.connect(
        ws_base(proxy.url) + "/socket.io/?EIO=4&transport=websocket",
        ssl=proxy.ssl_context(),
        local_addr=(source, 0),
        origin=origin,
    )
    assert (await receive(ws)).startswith("0{")  # Engine.IO's open packet
    await ws.send("40")
    return ws, await receive(ws)


async def test_client_address_and_scheme_come_from_nginx_only_when_trusted(server_factory, nginx_proxy):
    trusting = server_factory("--max-connections-per-ip", "1", "--trusted-proxies", "127.0.0.1")
    proxy = nginx_proxy([trusting.url])
    page_origin = proxy.url  # a browser page served through nginx, over https
    open_sockets = []
    try:
        # One connection per address: 127.0.0.2 and 127.0.0.3 count separately, and the scheme is
        # https (X-Forwarded-Proto), so the page's own origin is accepted.
        open_sockets.append(await lobby(proxy, "127.0.0.2", forwarded_for="203.0.113.9"))
        ws, answer = await socket_io_connect(proxy, "127.0.0.3", origin=page_origin)
        open_sockets.append(ws)
        assert answer.startswith("40{"), answer
        # A second one from either address is refused: nginx replaced the client's own
        # X-Forwarded-For, so another made-up address does not help.
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await lobby(proxy, "127.0.0.2", forwarded_for="203.0.113.10")
        assert refused.value.response.status_code == 403
        ws, answer = await socket_io_connect(proxy, "127.0.0.3", origin=page_origin)
        open_sockets.append(ws)
        assert answer.startswith("44") and "too_many_connections" in answer, answer
    finally:
        for ws in open_sockets:
            await ws.close()

    # Without --trusted-proxies, everybody is nginx's 127.0.0.1 and the scheme is http: the page's
    # https origin does not match, and one connection uses up every client's allowance.
    distrusting = server_factory("--max-connections-per-ip", "1")
    proxy = nginx_proxy([distrusting.url])
    with pytest.raises(websockets.exceptions.InvalidStatus):
        await socket_io_connect(proxy, "127.0.0.4", origin=proxy.url)
    async with await lobby(proxy, "127.0.0.2"):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            await lobby(proxy, "127.0.0.3")
        assert refused.value.response.status_code == 403


def test_deployment_examples_set_only_real_settings():
    deploy = Path(__file__).parents[1] / "deploy" / "systemd"
    known = {env_name(f.name) for f in setting_fields()}
    names = set(re.findall(r"^#?(VIDEOCHAT_[A-Z_]+)=", (deploy / "videochat.env").read_text(), flags=re.M))
    assert "VIDEOCHAT_TRUSTED_PROXIES" in names and names <= known, names - known
    unit = (deploy / "videochat@.service").read_text()
    assert "EnvironmentFile=/etc/videochat/videochat.env" in unit
    assert "SECRET" not in unit and "PASSWORD" not in unit and "TOKEN" not in unit  # secrets: the file only


async def test_two_processes_on_redis_behind_nginx_are_one_server(tmp_path, nginx_proxy):
    """The deployment of docs/deploy.md end to end: nginx (websocket-only variant) in front of two
    processes sharing rooms through Redis; the two clients land on different processes."""
    from redis_server import ProcessGroup, RedisServer
    from support import Recorder, eventually, scrape

    redis = RedisServer(tmp_path / "redis").start()
    group = ProcessGroup(tmp_path / "group", redis, *SHARED_ADDRESS, "--trusted-proxies", "127.0.0.1").start()
    try:
        proxy = nginx_proxy(group.urls, balance="least_conn")
        alice = await Recorder(proxy.plain_url).connect()
        bob = await Recorder(proxy.plain_url).connect()

        async def spread() -> bool:
            async with httpx.AsyncClient() as http:
                counts = [
                    scrape((await http.get(url + "/metrics")).text)[
                        ("videochat_socketio_connections", frozenset({("transport", "websocket")}))
                    ]
                    for url in group.urls
                ]
            return counts == [1, 1]

        assert await eventually(spread, what="one client on each process")
        await alice.call("nickname", "Alice")
        await alice.call("enter_room", "through-nginx")
        entered = await bob.call("enter_room", "through-nginx")
        assert [m["nickname"] for m in entered["members"]] == ["Alice", "Anon"]
        await bob.call("new_message", "hello across", "through-nginx")
        assert (await alice.wait_for("new_message"))[0] == "Anon: hello across"
        # a file of 3 MB (past the 128k that holds other bodies) goes up through nginx to one process,
        # and comes down to a member on the other, from the folder they share
        body = os.urandom(3 * 1024 * 1024)
        upload = (await alice.call("upload_file", "through-nginx", {"name": "big.bin", "size": len(body)}))["upload"]
        bob_id = (await bob.call("browser_id"))["browserId"]
        async with httpx.AsyncClient(base_url=proxy.plain_url, timeout=30) as http:
            stored = await http.put(upload["url"], content=body, headers={"X-Upload-Ticket": upload["ticket"]})
            assert stored.status_code == 201, stored.text
            (line, message) = await bob.wait_for("new_message", lambda line, message: "file" in message)
            got = await http.get(message["file"]["url"], headers={"Cookie": f"videochat_browser={bob_id}"})
            assert (got.status_code, got.content) == (200, body)
        await alice.disconnect()
        await bob.disconnect()
    finally:
        group.stop()
        redis.stop()
