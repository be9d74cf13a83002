"""The home page: the live list of open rooms, and the form that creates or enters a room."""

from __future__ import annotations

from playwright.async_api import Page, expect


def room_item(page: Page, room: str):
    return page.locator(f'#room-list li[data-room="{room}"]')


async def test_home_room_list_updates_live(fresh_server, new_user, room_url):
    watcher = await new_user("Watcher")
    await watcher.goto(fresh_server.url + "/")
    await expect(watcher.locator("#status")).to_have_attribute("data-state", "connected")
    await expect(watcher.locator("#rooms-empty")).to_have_text("No open rooms yet. Create one above!")
    await expect(watcher.locator("#room-list li")).to_have_count(0)

    first = await new_user("First")
    await first.goto(room_url(fresh_server.url, "study group"))
    await expect(room_item(watcher, "study group")).to_contain_text("1 member")
    await expect(watcher.locator("#rooms-empty")).to_be_hidden()
    link = room_item(watcher, "study group").locator("a")
    await expect(link).to_have_attribute("href", "/r/study%20group")

    second = await new_user("Second")
    await second.goto(room_url(fresh_server.url, "study group"))
    await expect(room_item(watcher, "study group")).to_contain_text("2 members")
    await expect(room_item(watcher, "study group")).to_have_attribute("data-count", "2")

    await second.locator("#leave").click()
    await expect(room_item(watcher, "study group")).to_contain_text("1 member")

    await first.context.close()  # leaving by closing the tab
    await expect(watcher.locator("#room-list li")).to_have_count(0)
    await expect(watcher.locator("#rooms-empty")).to_be_visible()


async def test_home_list_is_loaded_on_arrival_and_links_enter(fresh_server, new_user, room_url):
    host = await new_user("Host")
    await host.goto(room_url(fresh_server.url, "lobby"))
    await expect(host.locator("#member-count")).to_have_text("1 member")

    guest = await new_user("Guest")
    await guest.goto(fresh_server.url + "/")
    await expect(room_item(guest, "lobby")).to_contain_text("1 member")
    await room_item(guest, "lobby").locator("a").click()
    await expect(guest).to_have_url(f"{fresh_server.url}/r/lobby")
    await expect(guest.locator("#member-count")).to_have_text("2 members")
    await expect(host.locator("#members .member-name")).to_have_text(["Host", "Guest"])


async def test_home_form_checks_input_then_enters(live_server, new_user, room_name):
    page = await new_user()
    await page.goto(live_server.url + "/")
    await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    await page.locator("#enter").click()
    await expect(page.locator("#enter-error")).to_have_text("Enter your name.")
    await expect(page.locator("#nickname-input")).to_be_focused()

    await page.locator("#nickname-input").fill("Jisoo")
    await page.locator("#room-input").fill("   ")
    await page.locator("#room-input").press("Enter")
    await expect(page.locator("#enter-error")).to_have_text("Enter a room name.")
    await expect(page.locator("#room-input")).to_have_attribute("aria-invalid", "true")

    await page.locator("#room-input").fill(f"  {room_name} ")
    await page.locator("#room-input").press("Enter")
    await expect(page).to_have_url(f"{live_server.url}/r/{room_name}")
    await expect(page.locator("#members li.you .member-name")).to_have_text("Jisoo")

    # The name is remembered: the next visit to the home page fills it in.
    await page.goto(live_server.url + "/")
    await expect(page.locator("#nickname-input")).to_have_value("Jisoo")


async def test_room_page_asks_for_a_name_first(live_server, new_user, room_name, room_url):
    page = await new_user()
    await page.goto(room_url(live_server.url, room_name))
    await expect(page.locator("#join-panel")).to_be_visible()
    await expect(page.locator("#room-view")).to_be_hidden()
    await expect(page.locator("#nickname-input")).to_be_focused()
    await page.locator("#nickname-input").fill("x" * 32 + "y")  # maxlength stops at 32
    await expect(page.locator("#nickname-input")).to_have_value("x" * 32)
    await page.locator("#nickname-input").fill("Minho")
    await page.locator("#nickname-input").press("Enter")
    await expect(page.locator("#room-view")).to_be_visible()
    await expect(page.locator("#members li.you .member-name")).to_have_text("Minho")

    # ?name= wins over the remembered name, and is remembered in turn.
    await page.goto(room_url(live_server.url, room_name, name="Minho2"))
    await expect(page.locator("#members li.you .member-name")).to_have_text("Minho2")
