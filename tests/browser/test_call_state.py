"""The call at a glance (docs/protocol.md, `Media`): the people list shows who is in the call, muted,
camera off, sharing, and each connection's quality as its page graded it from getStats;
the tiles show the quality too. Real server, real Chromium with fake devices."""

from __future__ import annotations

from actions import enter_room
from call_actions import CALL_TIMEOUT_MS, enter_and_join_call, open_call_page, tile_of
from playwright.async_api import Page, expect


def state_of(page: Page, nickname: str):
    return page.locator(f'#members li[data-nickname="{nickname}"] .member-call')


async def test_the_people_list_shows_each_persons_call_at_a_glance(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    ana = await open_call_page(new_user, "Ana")
    ben = await open_call_page(new_user, "Ben")
    for page, name in ((ana, "Ana"), (ben, "Ben")):
        await enter_and_join_call(page, url, name)
    cho = await new_user("Cho")  # in the room, not in the call
    await enter_room(cho, url, "Cho")

    await expect(tile_of(ana, "Ben")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    # each page grades its connections after two looks and tells the others: a loopback call is good
    for page, other in ((ana, "Ben"), (ben, "Ana")):
        await expect(state_of(page, other)).to_have_attribute("data-quality", "good", timeout=CALL_TIMEOUT_MS)
        await expect(state_of(page, other).locator(".quality-bars")).to_have_attribute("aria-label", "Connection: good")
        await expect(tile_of(page, other)).to_have_attribute("data-quality", "good")
        await expect(page.locator("#tiles .call-tile.mine")).to_have_attribute("data-quality", "good")
        await expect(state_of(page, other)).to_have_attribute("data-in-call", "true")

    # Ben mutes, turns his camera off and shares his screen: Ana's list and tile say so
    await ben.locator("#mute-button").click()
    await expect(state_of(ana, "Ben")).to_have_attribute("data-audio", "false")
    await expect(state_of(ana, "Ben").get_by_role("img", name="Muted")).to_be_visible()
    await ben.locator("#camera-button").click()
    await expect(state_of(ana, "Ben")).to_have_attribute("data-video", "false")
    await expect(state_of(ana, "Ben").get_by_role("img", name="Camera off")).to_be_visible()
    # his own line in his own list shows the same
    await expect(state_of(ben, "Ben")).to_have_attribute("data-audio", "false")

    # Cho, not in the call, sees who is in it (no more: the call's media go to its participants)
    for name in ("Ana", "Ben"):
        await expect(state_of(cho, name).get_by_role("img", name="In the call")).to_be_visible()
    await expect(state_of(cho, "Cho")).to_have_attribute("data-in-call", "false")
    await expect(state_of(ana, "Cho")).to_have_attribute("data-in-call", "false")

    # Ben leaves the call: he is no longer shown in it
    await ben.locator("#leave-call").click()
    await expect(state_of(ana, "Ben")).to_have_attribute("data-in-call", "false", timeout=CALL_TIMEOUT_MS)
