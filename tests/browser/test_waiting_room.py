"""The waiting room in the browser (docs/protocol.md, "The waiting room"): the owner turns on "Ask to
join"; newcomers wait on a page that says so, the owner hears a knock and admits, declines or admits
everyone; a newcomer may cancel. Real server, real Chromium; every step waits on what pages show."""

from __future__ import annotations

from actions import enter_room
from playwright.async_api import Page, expect
from test_moderation_ui import open_settings
from test_room_chat import PLAYED


async def knock(page: Page, url: str) -> None:
    """Opens the room's page and waits until it says it waits at the door."""
    await page.goto(url)
    panel = page.locator("#access-panel")
    await expect(panel).to_have_attribute("data-state", "waiting")
    await expect(panel.locator("#access-heading")).to_have_text("Waiting to be let in")
    await expect(page.locator("#access-cancel")).to_be_visible()
    await expect(page.locator("#room-view")).to_be_hidden()


async def test_the_owner_lets_newcomers_in_one_by_one(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = await new_user("Alice")
    await enter_room(alice, url, "Alice")
    await open_settings(alice)
    await alice.get_by_label("Ask to join").check()
    await expect(alice.locator("#room-settings")).to_have_attribute("data-knock", "true")

    bob = await new_user("Bob")
    await knock(bob, url)
    waiting = alice.locator("#waiting-section")
    await expect(waiting).to_be_visible()
    await expect(waiting.locator(".waiting-name")).to_have_text(["Bob"])
    await expect(alice.locator("#messages .notice-knock .notice-text").last).to_have_text("Bob asks to join.")
    await alice.wait_for_function(f"() => ({PLAYED})('knock') > 0")  # heard, looking or not
    await expect(alice.locator("#admit-all")).to_be_hidden()  # one person: no "all"

    await alice.get_by_role("button", name="Admit Bob").click()
    await expect(bob.locator("#members li.you .member-name")).to_have_text("Bob")  # in, without a click
    await expect(alice.locator("#member-count")).to_have_text("2 members")
    await expect(waiting).to_be_hidden()

    cho = await new_user("Cho")
    await knock(cho, url)
    await alice.get_by_role("button", name="Decline Cho").click()
    await expect(cho.locator("#access-panel")).to_have_attribute("data-state", "declined")
    await expect(cho.locator("#access-heading")).to_have_text("Not let in")
    await cho.get_by_role("button", name="Ask again").click()
    await expect(cho.locator("#access-panel")).to_have_attribute("data-state", "waiting")

    dev = await new_user("Dev")
    await knock(dev, url)
    await expect(waiting.locator(".waiting-name")).to_have_text(["Cho", "Dev"])
    await alice.locator("#admit-all").click()
    for page, name in ((cho, "Cho"), (dev, "Dev")):
        await expect(page.locator("#members li.you .member-name")).to_have_text(name)
    await expect(alice.locator("#member-count")).to_have_text("4 members")

    # Bob, let in before, comes back after a reload without waiting
    await bob.reload()
    await expect(bob.locator("#members li.you .member-name")).to_have_text("Bob")

    eve = await new_user("Eve")
    await knock(eve, url)
    await expect(waiting.locator(".waiting-name")).to_have_text(["Eve"])
    await eve.locator("#access-cancel").click()
    await expect(eve).to_have_url(f"{live_server.url}/")
    await expect(waiting).to_be_hidden()
