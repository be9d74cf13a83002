"""Two people in one room: messages, members, counts, notices; user text stays text."""

from __future__ import annotations

import re

from actions import enter_room, send
from playwright.async_api import Dialog, expect

HH_MM = re.compile(r"^\d\d:\d\d$")
XSS = "<img src=x onerror=alert(1)>"


async def test_room_two_users_chat_and_see_each_other(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = await new_user("Alice")
    await enter_room(alice, url, "Alice")
    await expect(alice.locator("#room-title")).to_have_text(room_name)
    await expect(alice.locator("#member-count")).to_have_text("1 member")
    await expect(alice.locator("#messages")).to_contain_text(f"You joined {room_name}.")

    bob = await new_user("Bob")
    await enter_room(bob, url, "Bob")
    for page in (alice, bob):
        await expect(page.locator("#member-count")).to_have_text("2 members")
        await expect(page.locator("#members .member-name")).to_have_text(["Alice", "Bob"])
    await expect(alice.locator("#messages .notice-joined .notice-text")).to_have_text("Bob joined.")

    await send(alice, "Hello Bob")
    received = bob.locator("#messages .message").last
    await expect(received.locator(".message-author")).to_have_text("Alice")
    await expect(received.locator(".message-text")).to_have_text("Hello Bob")
    await expect(received.locator(".message-time")).to_have_text(HH_MM)
    await expect(received).not_to_have_class("mine")

    await send(bob, "Hi Alice")
    await expect(alice.locator("#messages .message .message-text")).to_have_text(["Hello Bob", "Hi Alice"])

    await bob.locator("#leave").click()
    await expect(bob).to_have_url(f"{live_server.url}/")
    await expect(alice.locator("#messages .notice-left .notice-text")).to_have_text("Bob left.")
    await expect(alice.locator("#member-count")).to_have_text("1 member")
    await expect(alice.locator("#members .member-name")).to_have_text(["Alice"])


async def test_room_user_text_is_shown_as_text(live_server, new_user, room_url):
    """Markup in a message, a nickname or a room name is shown as typed and never runs."""
    room = f"<b>{XSS}</b>"
    url = room_url(live_server.url, room)
    dialogs: list[str] = []
    mallory = await new_user(XSS)
    victim = await new_user("Victim")

    async def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        await dialog.dismiss()

    for page in (mallory, victim):
        page.on("dialog", dismiss)

    await enter_room(mallory, url, XSS)
    await enter_room(victim, url, "Victim")
    await expect(victim.locator("#room-title")).to_have_text(room)
    await expect(victim).to_have_title(re.compile(re.escape(room)))
    await send(mallory, XSS)

    message = victim.locator("#messages .message").last
    await expect(message.locator(".message-text")).to_have_text(XSS)
    await expect(message.locator(".message-author")).to_have_text(XSS)
    await expect(victim.locator("#members .member-name").first).to_have_text(XSS)
    for page in (mallory, victim):
        assert await page.locator("main img, header img").count() == 0
    assert dialogs == []


async def test_room_rename_is_seen_by_everyone(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = await new_user("Alice")
    bob = await new_user("Bob")
    await enter_room(alice, url, "Alice")
    await enter_room(bob, url, "Bob")

    await alice.locator("#rename-input").fill("Alicia")
    await alice.locator("#rename").click()
    for page in (alice, bob):
        await expect(page.locator("#messages .notice-renamed .notice-text")).to_have_text("Alice is now Alicia.")
        await expect(page.locator("#members .member-name")).to_have_text(["Alicia", "Bob"])
    await send(alice, "new name")
    await expect(bob.locator("#messages .message .message-author")).to_have_text(["Alicia"])

    # A refused name is explained in the page, and nothing changes.
    await alice.locator("#rename-input").fill("   ")
    await alice.locator("#rename-input").press("Enter")
    await expect(alice.locator("#errors")).to_contain_text("Enter your name.")
    await expect(bob.locator("#members .member-name")).to_have_text(["Alicia", "Bob"])


async def test_room_with_an_invalid_name_says_so(live_server, new_user, room_url):
    page = await new_user("Alice")
    await page.goto(room_url(live_server.url, "x" * 65))
    await expect(page.locator("#errors")).to_contain_text("That room name is not valid.")
    await expect(page.locator("#errors a")).to_have_attribute("href", "/")
