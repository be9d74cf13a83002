"""HTTP: pages, the Socket.IO browser client, the JSON API, headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from videochat.model.errors import ENTRY_REFUSALS, PASSWORD_REFUSALS

ROOT = Path(__file__).parents[1]


@pytest.fixture
async def http(live_server):
    async with httpx.AsyncClient(base_url=live_server.url) as client:
        yield client


async def test_socket_io_client_is_served_like_the_node_server_does(http):
    response = await http.get("/socket.io/socket.io.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.content == (ROOT / "node_modules/socket.io-client/dist/socket.io.js").read_bytes()


async def test_engine_io_still_answers_under_socket_io_path(http):
    response = await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
    assert response.status_code == 200
    assert response.text.startswith("0{")


async def test_pages_render_and_escape_room_names(http):
    home = await http.get("/")
    assert home.status_code == 200 and "text/html" in home.headers["content-type"]
    room = await http.get("/r/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert room.status_code == 200
    assert "<script>alert(1)</script>" not in room.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in room.text


async def test_a_room_page_is_not_served_for_a_name_no_room_can_have(http):
    """A name a little over --max-room-name (64) gets its page, where the server's refusal shows; a
    path of hundreds of characters gets a short 404, not a page that repeats it (the siege's
    "oversized HTTP": a request answered with many times its size)."""
    page = await http.get("/r/" + "c" * 100)
    assert page.status_code == 200 and "c" * 100 in page.text
    refused = await http.get("/r/" + "c" * 10_000)
    assert refused.status_code == 404 and "c" * 100 not in refused.text and len(refused.content) < 200


async def test_language_follows_the_browser_and_can_be_switched(http):
    korean = await http.get("/", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"})
    assert 'lang="ko"' in korean.text
    switched = await http.get("/?lang=en", headers={"Accept-Language": "ko"})
    assert 'lang="en"' in switched.text
    assert switched.cookies.get("videochat_lang") == "en"


async def test_security_headers_on_every_response(http):
    for path in ("/", "/api/rooms", "/static/css/app.css", "/socket.io/socket.io.js", "/missing"):
        response = await http.get(path)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path


async def test_api_rooms_and_unknown_paths(http, connect, room):
    client = await connect()
    await client.call("enter_room", room)
    rooms = (await http.get("/api/rooms")).json()["rooms"]
    assert {"name": room, "count": 1, "locked": False} in rooms
    assert (await http.get("/no/such/page")).status_code == 404


async def test_pages_are_handed_the_servers_limits_and_error_codes(server_factory):
    """The page config (web/pages.py) carries the settings the server runs with, and the inputs'
    maxlength follows them: the scripts copy none of it."""
    server = server_factory("--max-nickname", "20", "--max-room-name", "40", "--max-call-size", "3")
    async with httpx.AsyncClient(base_url=server.url) as client:
        for path, room in (("/", None), ("/r/caf%C3%A9", "café")):
            html = (await client.get(path)).text
            config = json.loads(re.search(r'<script type="application/json" id="page-config">(.*?)</script>', html)[1])
            assert config["limits"]["nickname"] == 20 and config["limits"]["room"] == 40
            assert config["limits"]["callSize"] == 3 and config["limits"]["uploadBudgetKbps"] == 2500
            assert config["errors"] == {"password": sorted(PASSWORD_REFUSALS), "entry": sorted(ENTRY_REFUSALS)}
            assert config.get("room") == room
            assert 'id="nickname-input"' in html and 'maxlength="20"' in html
