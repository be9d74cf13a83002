"""The room page served through nginx (deploy/nginx/videochat.conf): what a browser does for real."""

from __future__ import annotations

import asyncio

import httpx
from actions import enter_room, send
from playwright.async_api import expect

from support import scrape


async def test_room_page_chats_through_nginx_over_https(server_factory, nginx_proxy, new_user, room_name, room_url):
    # Chromium sends the page's https Origin; videochat accepts it only because it believes nginx's
    # X-Forwarded-Proto and Host. The page starts with long-polling, then upgrades to a WebSocket.
    server = server_factory("--trusted-proxies", "127.0.0.1")
    proxy = nginx_proxy([server.url])
    url = room_url(proxy.url, room_name)
    alice = await new_user("Alice", ignore_https_errors=True)
    bob = await new_user("Bob", ignore_https_errors=True)
    await enter_room(alice, url, "Alice")
    await enter_room(bob, url, "Bob")
    await expect(alice.locator("#member-count")).to_have_text("2 members")
    await send(alice, "Hello through nginx")
    await expect(bob.locator("#messages .message .message-text").last).to_have_text("Hello through nginx")

    # both pages began with long-polling through nginx, and both upgraded to a WebSocket through it
    # (nginx logs a WebSocket when it ends; the process counts its clients by transport now)
    polls = [line for line in proxy.access_log() if "/socket.io/?EIO=4&transport=polling" in line]
    assert polls and all(" 200 " in line for line in polls), polls
    async with httpx.AsyncClient() as http:
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            samples = scrape((await http.get(server.url + "/metrics")).text)
            if samples.get(("videochat_socketio_connections", frozenset({("transport", "websocket")}))) == 2:
                break
            assert asyncio.get_running_loop().time() < deadline, samples
            await asyncio.sleep(0.1)  # polling a condition with a deadline
