"""Losing the connection: the page says so, then puts the user back in the room with its history."""

from __future__ import annotations

import asyncio

from actions import OFFLINE_NOTICED_MS, enter_room, message_texts, send
from playwright.async_api import expect


async def test_reconnect_after_server_restart_returns_to_the_room(server_factory, new_user, room_url):
    server = await asyncio.to_thread(server_factory)
    url = room_url(server.url, "standup")
    alice = await new_user("Alice")
    bob = await new_user("Bob")
    await enter_room(alice, url, "Alice")
    await enter_room(bob, url, "Bob")
    await send(alice, "before the restart")
    await expect(message_texts(bob)).to_have_text(["before the restart"])

    # SIGTERM: the server announces server_shutdown, then closes; the pages keep being served meanwhile
    await asyncio.to_thread(server.stop)
    status = alice.locator("#status")
    await expect(status).to_have_attribute("data-state", "reconnecting")
    await expect(status).to_have_text("The server is restarting. Reconnecting…")
    await expect(status).to_be_visible()

    await asyncio.to_thread(server.start)  # same port, same data folder
    for page, name in ((alice, "Alice"), (bob, "Bob")):
        await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        await expect(page.locator("#status")).to_have_text("")
        await expect(page.locator("#member-count")).to_have_text("2 members")
        await expect(page.locator("#members li.you .member-name")).to_have_text(name)
        await expect(page.locator("#messages .notice", has_text="Reconnected.")).to_have_count(1)
        # The history came back with the new ack, and nothing is shown twice.
        await expect(message_texts(page)).to_have_text(["before the restart"])

    await send(bob, "after the restart")
    await expect(message_texts(alice)).to_have_text(["before the restart", "after the restart"])


async def test_reconnect_fills_the_gap_without_duplicates(live_server, new_user, room_name, room_url):
    """Messages sent while a user was offline appear, in order, once the user is back."""
    url = room_url(live_server.url, room_name)
    alice = await new_user("Alice")
    bob = await new_user("Bob")
    await enter_room(alice, url, "Alice")
    await enter_room(bob, url, "Bob")
    await send(bob, "one")
    await expect(message_texts(alice)).to_have_text(["one"])

    await alice.context.set_offline(True)
    await expect(alice.locator("#status")).to_have_attribute("data-state", "reconnecting")
    await expect(bob.locator("#member-count")).to_have_text("1 member", timeout=OFFLINE_NOTICED_MS)
    await send(bob, "two")
    await send(bob, "three")

    await alice.context.set_offline(False)
    await expect(alice.locator("#status")).to_have_attribute("data-state", "connected")
    await expect(message_texts(alice)).to_have_text(["one", "two", "three"])
    await expect(bob.locator("#member-count")).to_have_text("2 members")
    await send(alice, "back")
    await expect(message_texts(bob)).to_have_text(["one", "two", "three", "back"])
