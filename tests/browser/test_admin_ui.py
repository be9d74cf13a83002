"""The Socket.IO Admin UI served at /admin/, driven in Chromium against a real server (docs/operations.md)."""

from __future__ import annotations

import re

from actions import enter_room
from playwright.async_api import expect

from support import ADMIN_PASSWORD, AdminClient, eventually


async def test_admin_ui_logs_in_lists_clients_and_rooms_and_disconnects_a_client(
    admin_server, new_user, room_url, room_name
):
    alice, bob = await new_user("Alice"), await new_user("Bob")
    for page, nickname in ((alice, "Alice"), (bob, "Bob")):
        await enter_room(page, room_url(admin_server.url, room_name), nickname)
    members = alice.locator("#members li")
    await expect(members).to_have_count(2)
    alice_sid = await alice.locator('#members li[data-nickname="Alice"]').get_attribute("data-id")
    bob_sid = await alice.locator('#members li[data-nickname="Bob"]').get_attribute("data-id")

    # python-socketio's instrumentation queues `room_joined` and sends the queue after each
    # `server_stats`; a snapshot taken before that flush already holds the rooms, and the Admin UI
    # adds a joined room again without looking: wait until the pages' joins have been reported
    watcher = await AdminClient(admin_server.url).connect({"username": "admin", "password": ADMIN_PASSWORD})
    try:
        await eventually(
            lambda: sum(1 for name, _ in watcher.events if name == "server_stats") >= 2, what="two server_stats"
        )
    finally:
        await watcher.disconnect()

    admin = await new_user()
    requested: list[str] = []
    admin.on("request", lambda request: requested.append(request.url))
    await admin.goto(f"{admin_server.url}/admin/")
    # The form comes filled in with this server; the UI's first try (no credentials) is refused.
    await expect(admin.get_by_label("Server URL")).to_have_value(admin_server.url)
    await expect(admin.get_by_text("enter the user name and password")).to_be_visible()

    await admin.get_by_label("Username").fill("admin")
    await admin.get_by_label("Password").fill("not the password")
    await admin.get_by_role("button", name="Connect").click()
    await expect(admin.get_by_text("Invalid credentials")).to_be_visible()
    await expect(admin.locator("header").get_by_text(re.compile("^disconnected$", re.I)).first).to_be_visible()

    await admin.get_by_label("Password").fill(ADMIN_PASSWORD)
    await admin.get_by_role("button", name="Connect").click()
    await expect(admin.locator("header").get_by_text(re.compile("^connected$", re.I)).first).to_be_visible()
    await expect(admin.get_by_role("button", name="Connect")).to_be_hidden()

    await admin.get_by_role("navigation").get_by_role("link", name="Sockets").click()
    rows = admin.locator("tbody tr")
    await expect(rows.filter(has_text=alice_sid)).to_have_count(1)
    await expect(rows.filter(has_text=bob_sid)).to_have_count(1)

    await admin.get_by_role("navigation").get_by_role("link", name="Rooms").click()
    # the Socket.IO room of a chat room is #<name> (chat.chat_room: it can never be a socket's own room)
    await expect(rows.filter(has_text=room_name).locator("td")).to_have_text(
        [f"#{room_name}", "public", "2", ""], ignore_case=True
    )

    await admin.get_by_role("navigation").get_by_role("link", name="Sockets").click()
    await rows.filter(has_text=bob_sid).get_by_role("button").click()
    # Bob's page knows it was put out (and does not reconnect); Alice hears bye.
    await expect(bob.locator("#status")).to_have_attribute("data-state", "disconnected")
    await expect(alice.locator('#members li[data-nickname="Bob"]')).to_have_count(0)
    await expect(members).to_have_count(1)
    await (
        admin.get_by_role("navigation").get_by_role("link", name="Sockets").click()
    )  # the click also opened Bob's details
    await expect(rows.filter(has_text=bob_sid)).to_have_count(0)
    await expect(rows.filter(has_text=alice_sid)).to_have_count(1)

    outside = [
        url
        for url in requested
        if not url.startswith(admin_server.url) and not url.startswith(admin_server.url.replace("http", "ws", 1))
    ]
    assert outside == [], outside  # the UI is served and connected from this server alone
