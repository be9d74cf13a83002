"""The home page: the live list of open rooms, and the form that creates or enters a room."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def room_item(page: Page, room: str):
    return page.locator(f'#room-list li[data-room="{room}"]')


def test_home_room_list_updates_live(fresh_server, new_user, room_url):
    watcher = new_user("Watcher")
    watcher.goto(fresh_server.url + "/")
    expect(watcher.locator("#status")).to_have_attribute("data-state", "connected")
    expect(watcher.locator("#rooms-empty")).to_have_text("No open rooms yet. Create one above!")
    expect(watcher.locator("#room-list li")).to_have_count(0)

    first = new_user("First")
    first.goto(room_url(fresh_server.url, "study group"))
    expect(room_item(watcher, "study group")).to_contain_text("1 member")
    expect(watcher.locator("#rooms-empty")).to_be_hidden()
    link = room_item(watcher, "study group").locator("a")
    expect(link).to_have_attribute("href", "/r/study%20group")

    second = new_user("Second")
    second.goto(room_url(fresh_server.url, "study group"))
    expect(room_item(watcher, "study group")).to_contain_text("2 members")
    expect(room_item(watcher, "study group")).to_have_attribute("data-count", "2")

    second.locator("#leave").click()
    expect(room_item(watcher, "study group")).to_contain_text("1 member")

    first.context.close()  # leaving by closing the tab
    expect(watcher.locator("#room-list li")).to_have_count(0)
    expect(watcher.locator("#rooms-empty")).to_be_visible()


def test_home_list_is_loaded_on_arrival_and_links_enter(fresh_server, new_user, room_url):
    host = new_user("Host")
    host.goto(room_url(fresh_server.url, "lobby"))
    expect(host.locator("#member-count")).to_have_text("1 member")

    guest = new_user("Guest")
    guest.goto(fresh_server.url + "/")
    expect(room_item(guest, "lobby")).to_contain_text("1 member")
    room_item(guest, "lobby").locator("a").click()
    expect(guest).to_have_url(f"{fresh_server.url}/r/lobby")
    expect(guest.locator("#member-count")).to_have_text("2 members")
    expect(host.locator("#members .member-name")).to_have_text(["Host", "Guest"])


def test_home_form_checks_input_then_enters(live_server, new_user, room_name):
    page = new_user()
    page.goto(live_server.url + "/")
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    page.locator("#enter").click()
    expect(page.locator("#enter-error")).to_have_text("Enter your name.")
    expect(page.locator("#nickname-input")).to_be_focused()

    page.locator("#nickname-input").fill("Jisoo")
    page.locator("#room-input").fill("   ")
    page.locator("#room-input").press("Enter")
    expect(page.locator("#enter-error")).to_have_text("Enter a room name.")
    expect(page.locator("#room-input")).to_have_attribute("aria-invalid", "true")

    page.locator("#room-input").fill(f"  {room_name} ")
    page.locator("#room-input").press("Enter")
    expect(page).to_have_url(f"{live_server.url}/r/{room_name}")
    expect(page.locator("#members li.you .member-name")).to_have_text("Jisoo")

    # The name is remembered: the next visit to the home page fills it in.
    page.goto(live_server.url + "/")
    expect(page.locator("#nickname-input")).to_have_value("Jisoo")


def test_room_page_asks_for_a_name_first(live_server, new_user, room_name, room_url):
    page = new_user()
    page.goto(room_url(live_server.url, room_name))
    expect(page.locator("#join-panel")).to_be_visible()
    expect(page.locator("#room-view")).to_be_hidden()
    expect(page.locator("#nickname-input")).to_be_focused()
    page.locator("#nickname-input").fill("x" * 32 + "y")  # maxlength stops at 32
    expect(page.locator("#nickname-input")).to_have_value("x" * 32)
    page.locator("#nickname-input").fill("Minho")
    page.locator("#nickname-input").press("Enter")
    expect(page.locator("#room-view")).to_be_visible()
    expect(page.locator("#members li.you .member-name")).to_have_text("Minho")

    # ?name= wins over the remembered name, and is remembered in turn.
    page.goto(room_url(live_server.url, room_name, name="Minho2"))
    expect(page.locator("#members li.you .member-name")).to_have_text("Minho2")
