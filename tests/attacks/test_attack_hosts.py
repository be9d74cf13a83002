"""DNS rebinding (docs/security.md, "Browsers on other sites").

A web site a person visits points its own name at the server's address once its page is loaded;
its scripts then send `Host: rebind.evil.example:PORT` with the matching `Origin`, which the Origin
check took for the page's own origin. The server now answers only the names it is known by (IP
literals, localhost, the machine's names, --allowed-hosts), on every path and transport, before
anything else. Also: Engine.IO's JSONP long-polling (script responses any page can load without an
Origin) is refused.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from support import ServerProcess, eventually, scrape

EVIL = "rebind.evil.example"
LISTED = "chat.example.test"
WILDCARD = "*.wild.example.test"


@pytest.fixture(scope="module")
def hosts_server(tmp_path_factory: pytest.TempPathFactory):
    server = ServerProcess(tmp_path_factory.mktemp("hosts"), "--allowed-hosts", f"{LISTED},{WILDCARD}").start()
    yield server
    server.stop()


def as_browser(server: ServerProcess, name: str) -> dict[str, str]:
    """The headers a page loaded from http://name:port sends to the server."""
    return {"Host": f"{name}:{server.port}", "Origin": f"http://{name}:{server.port}"}


async def get(server: ServerProcess, path: str, headers: dict[str, str], *, url: str | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(f"{url or server.url}{path}", headers=headers)


async def websocket_handshake(
    server: ServerProcess, path: str, headers: dict[str, str], *, port: int | None = None
) -> tuple[int, bytes]:
    """A WebSocket upgrade written by hand (the Host is the attacker's): its status and what follows."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port or server.port)
    try:
        head = [
            f"GET {path} HTTP/1.1",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status = int(response.split(b" ", 2)[1])
        body = b"" if status == 101 else await asyncio.wait_for(reader.read(4096), 10)
        return status, body
    finally:
        writer.close()


PATHS = [
    "/",
    "/r/lobby",
    "/api/rooms",
    "/static/css/base.css",
    "/metrics",
    "/admin/",
    "/healthz",
    "/socket.io/socket.io.min.js",
    "/socket.io/?EIO=4&transport=polling",
]


async def test_a_rebound_name_is_refused_on_every_path_and_transport(hosts_server):
    evil = as_browser(hosts_server, EVIL)
    for path in PATHS:
        reply = await get(hosts_server, path, evil)
        assert reply.status_code == 400, (path, reply.status_code, reply.text[:200])
        assert f"Host not allowed: {EVIL}:{hosts_server.port}" in reply.text and "--allowed-hosts" in reply.text
        assert "sid" not in reply.text
    # Engine.IO over WebSocket, and the plain WebSocket lobby at /
    for path in ("/socket.io/?EIO=4&transport=websocket", "/"):
        status, body = await websocket_handshake(hosts_server, path, evil)
        assert status == 403, (path, status, body)
        assert b"Host not allowed" in body
    # names that only look like allowed ones
    for name in (
        "wild.example.test",
        "evilchat.example.test",
        "chat.example.test.evil.example",
        "localhost.evil.example",
        "127.0.0.1.nip.io",
    ):
        assert (await get(hosts_server, "/", as_browser(hosts_server, name))).status_code == 400, name


async def test_addresses_localhost_listed_and_wildcard_names_are_answered(hosts_server):
    for name in (
        "127.0.0.1",
        "localhost",
        "[::1]",
        "192.168.1.20",
        LISTED,
        "CHAT.Example.Test",
        "a.wild.example.test",
        "b.c.wild.example.test",
    ):
        headers = as_browser(hosts_server, name)
        assert (await get(hosts_server, "/", headers)).status_code == 200, name
        handshake = await get(hosts_server, "/socket.io/?EIO=4&transport=polling", headers)
        assert handshake.status_code == 200 and '"sid"' in handshake.text, (name, handshake.text[:200])
        for path in ("/socket.io/?EIO=4&transport=websocket", "/"):
            status, body = await websocket_handshake(hosts_server, path, headers)
            assert status == 101, (name, path, status, body)
    # without a port (a proxy that passes $host), with the final dot of a fully qualified name
    assert (await get(hosts_server, "/", {"Host": LISTED})).status_code == 200
    assert (await get(hosts_server, "/", {"Host": f"{LISTED}.:{hosts_server.port}"})).status_code == 200


async def test_refusals_are_counted_and_each_name_logged_once(hosts_server):
    name = "counted.evil.example"
    headers = as_browser(hosts_server, name)
    for _ in range(5):
        assert (await get(hosts_server, "/", headers)).status_code == 400
    assert (await websocket_handshake(hosts_server, "/", headers))[0] == 403
    metrics = scrape((await get(hosts_server, "/metrics", {})).text)
    assert (
        metrics[("videochat_http_requests_total", frozenset({("route", "host_not_allowed"), ("status", "400")}))] >= 5
    )
    assert (
        metrics[("videochat_http_requests_total", frozenset({("route", "host_not_allowed"), ("status", "403")}))] >= 1
    )
    await eventually(lambda: name in hosts_server.log, what="the refusal logged")
    assert hosts_server.log.count(f"{name}:{hosts_server.port}") == 1
    # a new name with every request: the log stays bounded (100 names, then one line saying so)
    before = hosts_server.log.count("WARNING")
    async with httpx.AsyncClient(timeout=10) as http:
        for number in range(150):
            reply = await http.get(f"{hosts_server.url}/", headers={"Host": f"n{number}.flood.example"})
            assert reply.status_code == 400
    await eventually(lambda: "no more are logged" in hosts_server.log, what="the flood noted")
    assert hosts_server.log.count("WARNING") - before <= 101


async def test_behind_nginx_the_host_it_passes_is_checked(server_factory, nginx_proxy):
    # the example site passes the browser's Host ($http_host): the rebound name reaches videochat
    server = server_factory("--trusted-proxies", "127.0.0.1", "--allowed-hosts", LISTED)
    proxy = nginx_proxy([server.url])
    port = urlsplit(proxy.plain_url).port
    evil = {"Host": f"{EVIL}:{port}", "Origin": f"http://{EVIL}:{port}"}
    listed = {"Host": f"{LISTED}:{port}", "Origin": f"http://{LISTED}:{port}"}
    for path in ("/", "/socket.io/?EIO=4&transport=polling"):
        reply = await get(server, path, evil, url=proxy.plain_url)
        assert reply.status_code == 400 and "Host not allowed" in reply.text, (path, reply.text[:200])
        assert (await get(server, path, listed, url=proxy.plain_url)).status_code == 200, path
    for path in ("/socket.io/?EIO=4&transport=websocket", "/"):
        assert (await websocket_handshake(server, path, evil, port=port))[0] == 403, path
        assert (await websocket_handshake(server, path, listed, port=port))[0] == 101, path


async def test_jsonp_long_polling_is_refused(hosts_server):
    for query in ("j=0", "%6A=0", "j="):
        reply = await get(hosts_server, f"/socket.io/?EIO=4&transport=polling&{query}", {})
        assert reply.status_code == 400, (query, reply.text[:200])
        assert "___eio" not in reply.text and "sid" not in reply.text


async def test_the_default_answers_this_machine_and_refuses_other_names(tmp_path):
    server = ServerProcess(tmp_path).start()  # no --allowed-hosts: how everyone runs it today
    try:
        short = socket.gethostname().lower().split(".")[0]
        for name in ("127.0.0.1", "localhost", "[::1]", "10.0.0.7", socket.gethostname(), f"{short}.local"):
            assert (await get(server, "/", as_browser(server, name))).status_code == 200, name
        reply = await get(server, "/socket.io/?EIO=4&transport=polling", as_browser(server, EVIL))
        assert reply.status_code == 400 and "--allowed-hosts" in reply.text
        assert (await websocket_handshake(server, "/socket.io/?EIO=4&transport=websocket", as_browser(server, EVIL)))[
            0
        ] == 403
    finally:
        server.stop()


def test_allowed_hosts_must_be_host_names(tmp_path):
    from videochat.settings import Settings, SettingsError

    for bad in ("https://chat.example.com", "chat.example.com:443", "chat.example.com/room", "a.*.example.com"):
        with pytest.raises(SettingsError, match="allowed-hosts"):
            Settings(allowed_hosts=bad).validate()
    Settings(allowed_hosts="chat.example.com, *.example.org,*").validate()
