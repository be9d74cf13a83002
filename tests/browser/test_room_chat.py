"""Two people in one room: messages, members, counts, notices; user text stays text."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from actions import enter_room, send

HH_MM = re.compile(r"^\d\d:\d\d$")
XSS = "<img src=x onerror=alert(1)>"


def test_room_two_users_chat_and_see_each_other(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = new_user("Alice")
    enter_room(alice, url, "Alice")
    expect(alice.locator("#room-title")).to_have_text(room_name)
    expect(alice.locator("#member-count")).to_have_text("1 member")
    expect(alice.locator("#messages")).to_contain_text(f"You joined {room_name}.")

    bob = new_user("Bob")
    enter_room(bob, url, "Bob")
    for page in (alice, bob):
        expect(page.locator("#member-count")).to_have_text("2 members")
        expect(page.locator("#members .member-name")).to_have_text(["Alice", "Bob"])
    expect(alice.locator("#messages .notice-joined .notice-text")).to_have_text("Bob joined.")

    send(alice, "Hello Bob")
    received = bob.locator("#messages .message").last
    expect(received.locator(".message-author")).to_have_text("Alice")
    expect(received.locator(".message-text")).to_have_text("Hello Bob")
    expect(received.locator(".message-time")).to_have_text(HH_MM)
    expect(received).not_to_have_class("mine")

    send(bob, "Hi Alice")
    expect(alice.locator("#messages .message .message-text")).to_have_text(["Hello Bob", "Hi Alice"])

    bob.locator("#leave").click()
    expect(bob).to_have_url(f"{live_server.url}/")
    expect(alice.locator("#messages .notice-left .notice-text")).to_have_text("Bob left.")
    expect(alice.locator("#member-count")).to_have_text("1 member")
    expect(alice.locator("#members .member-name")).to_have_text(["Alice"])



def test_room_user_text_is_shown_as_text(live_server, new_user, room_url):
    """Markup in a message, a nickname or a room name is shown as typed and never runs."""
    room = f"<b>{XSS}</b>"
    url = room_url(live_server.url, room)
    dialogs: list[str] = []
    mallory = new_user(XSS)
    victim = new_user("Victim")
    for page in (mallory, victim):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    enter_room(mallory, url, XSS)
    enter_room(victim, url, "Victim")
    expect(victim.locator("#room-title")).to_have_text(room)
    expect(victim).to_have_title(re.compile(re.escape(room)))
    send(mallory, XSS)

    message = victim.locator("#messages .message").last
    expect(message.locator(".message-text")).to_have_text(XSS)
    expect(message.locator(".message-author")).to_have_text(XSS)
    expect(victim.locator("#members .member-name").first).to_have_text(XSS)
    for page in (mallory, victim):
        assert page.locator("main img, header img").count() == 0
    assert dialogs == []


def test_room_rename_is_seen_by_everyone(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = new_user("Alice")
    bob = new_user("Bob")
    enter_room(alice, url, "Alice")
    enter_room(bob, url, "Bob")

    alice.locator("#rename-input").fill("Alicia")
    alice.locator("#rename").click()
    for page in (alice, bob):
        expect(page.locator("#messages .notice-renamed .notice-text")).to_have_text("Alice is now Alicia.")
        expect(page.locator("#members .member-name")).to_have_text(["Alicia", "Bob"])
    send(alice, "new name")
    expect(bob.locator("#messages .message .message-author")).to_have_text(["Alicia"])

    # A refused name is explained in the page, and nothing changes.
    alice.locator("#rename-input").fill("   ")
    alice.locator("#rename-input").press("Enter")
    expect(alice.locator("#errors")).to_contain_text("Enter your name.")
    expect(bob.locator("#members .member-name")).to_have_text(["Alicia", "Bob"])


def test_room_with_an_invalid_name_says_so(live_server, new_user, room_url):
    page = new_user("Alice")
    page.goto(room_url(live_server.url, "x" * 65))
    expect(page.locator("#errors")).to_contain_text("That room name is not valid.")
    expect(page.locator("#errors a")).to_have_attribute("href", "/")
