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


async def test_links_in_messages_are_clickable_and_nothing_else_is(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice, bob = await new_user("Alice"), await new_user("Bob")
    for page, name in ((alice, "Alice"), (bob, "Bob")):
        await enter_room(page, url, name)
    await send(alice, "notes at https://example.org/notes?a=1, and javascript:alert(1) <a href=x>no</a>")
    text = bob.locator("#messages .message").last.locator(".message-text")
    await expect(text).to_have_text("notes at https://example.org/notes?a=1, and javascript:alert(1) <a href=x>no</a>")
    link = text.locator("a")
    await expect(link).to_have_count(1)
    await expect(link).to_have_attribute("href", "https://example.org/notes?a=1")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    await expect(link).to_have_text("https://example.org/notes?a=1")


HIDE_PAGE = """() => {
    Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
}"""
PLAYED = """(kind) => { const a = document.querySelector(`#sounds audio[data-sound="${kind}"]`); return a ? a.played.length : 0; }"""


async def test_sounds_while_the_page_is_hidden_and_a_remembered_toggle(live_server, new_user, room_name, room_url):
    """Someone joining and a message make a sound while the page is not looked at (an audio element
    plays), not while it is; the toggle turns them off and is remembered."""
    url = room_url(live_server.url, room_name)
    alice = await new_user("Alice")
    await enter_room(alice, url, "Alice")
    bob = await new_user("Bob")
    await enter_room(bob, url, "Bob")
    await send(bob, "seen while looking")  # the page is visible: no sound
    await expect(alice.locator("#messages .message-text").last).to_have_text("seen while looking")
    assert await alice.evaluate(PLAYED, "message") == 0

    await alice.evaluate(HIDE_PAGE)
    await send(bob, "while away")
    await alice.wait_for_function(f"() => ({PLAYED})('message') > 0")
    carol = await new_user("Carol")
    await enter_room(carol, url, "Carol")
    await alice.wait_for_function(f"() => ({PLAYED})('join') > 0")

    toggle = alice.locator("#sounds-toggle")
    await expect(toggle).to_have_attribute("aria-pressed", "true")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-pressed", "false")
    await expect(toggle).to_have_text("Sounds off")
    await alice.reload()
    await expect(alice.locator("#sounds-toggle")).to_have_attribute("aria-pressed", "false")  # remembered
    await expect(alice.locator("#members .member-name")).to_have_count(3)
    await alice.evaluate(HIDE_PAGE)
    await send(bob, "quietly")
    await expect(alice.locator("#messages .message-text").last).to_have_text("quietly")
    assert await alice.evaluate(PLAYED, "message") == 0


async def test_direct_messages_are_seen_by_their_two_people_only_and_kept_for_them(
    live_server, new_user, room_name, room_url
):
    url = room_url(live_server.url, room_name)
    alice, bob, cho = await new_user("Alice"), await new_user("Bob"), await new_user("Cho")
    for page, name in ((alice, "Alice"), (bob, "Bob"), (cho, "Cho")):
        await enter_room(page, url, name)
    await expect(alice.locator("#member-count")).to_have_text("3 members")

    # Alice picks Bob in the people list: the bar above the box says to whom she writes
    await alice.get_by_role("button", name="Message Bob privately").click()
    bar = alice.locator("#direct-bar")
    await expect(bar).to_be_visible()
    await expect(bar.locator(".direct-name")).to_have_text("Bob")
    await expect(alice.locator("#message-input")).to_be_focused()
    await expect(alice.locator("#message-input")).to_have_attribute("placeholder", "Private message to Bob")
    await send(alice, "just between us")
    mine = alice.locator("#messages .message.direct").last
    await expect(mine.locator(".message-direct")).to_contain_text("Private, to Bob")

    received = bob.locator("#messages .message.direct").last
    await expect(received.locator(".message-text")).to_have_text("just between us")
    await expect(received.locator(".message-direct")).to_contain_text("Private, to you")
    # Bob answers with the message's own button, then goes back to everyone with Escape
    await received.get_by_role("button", name="Reply privately").click()
    await expect(bob.locator("#direct-bar .direct-name")).to_have_text("Alice")
    await send(bob, "got it")
    await expect(alice.locator("#messages .message.direct .message-text")).to_have_text(["just between us", "got it"])
    await bob.locator("#message-input").press("Escape")
    await expect(bob.locator("#direct-bar")).to_be_hidden()
    await send(bob, "hello everyone")

    # Cho sees the message for everyone, never the two private ones
    await expect(cho.locator("#messages .message .message-text")).to_have_text(["hello everyone"])
    await expect(cho.locator("#messages .message.direct")).to_have_count(0)

    # after a reload, each sees what they saw before: Alice both private messages, Cho none
    await alice.reload()
    await expect(alice.locator("#members li.you .member-name")).to_have_text("Alice")
    await expect(alice.locator("#messages .message .message-text")).to_have_text(
        ["just between us", "got it", "hello everyone"]
    )
    await expect(alice.locator("#messages .message.direct")).to_have_count(2)
    await cho.reload()
    await expect(cho.locator("#members li.you .member-name")).to_have_text("Cho")
    await expect(cho.locator("#messages .message .message-text")).to_have_text(["hello everyone"])

    # the person written to leaves: the page says so, and the next message goes to everyone
    await alice.get_by_role("button", name="Message Cho privately").click()
    await expect(alice.locator("#direct-bar .direct-name")).to_have_text("Cho")
    await cho.locator("#leave").click()
    await expect(alice.locator("#messages .notice").last).to_have_text(
        re.compile(r"Cho left: your next message goes to everyone\.")
    )
    await expect(alice.locator("#direct-bar")).to_be_hidden()
    await expect(alice.locator("#message-input")).to_have_attribute("placeholder", "Send a message to everyone")
