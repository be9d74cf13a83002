"""Losing the connection: the page says so, then puts the user back in the room with its history."""

from __future__ import annotations

from playwright.sync_api import expect

from actions import enter_room, message_texts, send


def test_reconnect_after_server_restart_returns_to_the_room(server_factory, new_user, room_url):
    server = server_factory()
    url = room_url(server.url, "standup")
    alice = new_user("Alice")
    bob = new_user("Bob")
    enter_room(alice, url, "Alice")
    enter_room(bob, url, "Bob")
    send(alice, "before the restart")
    expect(message_texts(bob)).to_have_text(["before the restart"])

    server.stop()  # SIGTERM: the server announces server_shutdown, then closes
    status = alice.locator("#status")
    expect(status).to_have_attribute("data-state", "reconnecting")
    expect(status).to_have_text("The server is restarting. Reconnecting…")
    expect(status).to_be_visible()

    server.start()  # same port, same data folder
    for page, name in ((alice, "Alice"), (bob, "Bob")):
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        expect(page.locator("#status")).to_have_text("")
        expect(page.locator("#member-count")).to_have_text("2 members")
        expect(page.locator("#members li.you .member-name")).to_have_text(name)
        expect(page.locator("#messages .notice", has_text="Reconnected.")).to_have_count(1)
        # The history came back with the new ack, and nothing is shown twice.
        expect(message_texts(page)).to_have_text(["before the restart"])

    send(bob, "after the restart")
    expect(message_texts(alice)).to_have_text(["before the restart", "after the restart"])


def test_reconnect_fills_the_gap_without_duplicates(live_server, new_user, room_name, room_url):
    """Messages sent while a user was offline appear, in order, once the user is back."""
    url = room_url(live_server.url, room_name)
    alice = new_user("Alice")
    bob = new_user("Bob")
    enter_room(alice, url, "Alice")
    enter_room(bob, url, "Bob")
    send(bob, "one")
    expect(message_texts(alice)).to_have_text(["one"])

    alice.context.set_offline(True)
    expect(alice.locator("#status")).to_have_attribute("data-state", "reconnecting")
    expect(bob.locator("#member-count")).to_have_text("1 member")
    send(bob, "two")
    send(bob, "three")

    alice.context.set_offline(False)
    expect(alice.locator("#status")).to_have_attribute("data-state", "connected")
    expect(message_texts(alice)).to_have_text(["one", "two", "three"])
    expect(bob.locator("#member-count")).to_have_text("2 members")
    send(alice, "back")
    expect(message_texts(bob)).to_have_text(["one", "two", "three", "back"])
