"""Raised hands and reactions in the call bar: hands on the tiles and in the people list in the
order they went up, lowered by the owner; reactions shown over the sender's tile on every page of
the call for a few seconds, read out to screen readers."""

from __future__ import annotations

from actions import enter_room
from call_actions import CALL_TIMEOUT_MS, enter_and_join_call, join_call, open_call_page, tile_of
from playwright.async_api import expect


async def test_a_reaction_floats_over_the_senders_tile_on_every_page_then_goes(
    live_server, new_user, room_name, room_url
):
    url = room_url(live_server.url, room_name)
    ana = await open_call_page(new_user, "Ana")
    ben = await open_call_page(new_user, "Ben", lang="ko")
    for page, name in ((ana, "Ana"), (ben, "Ben")):
        await enter_and_join_call(page, url, name)
    await expect(tile_of(ana, "Ben")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    await expect(tile_of(ben, "Ana")).to_be_visible(timeout=CALL_TIMEOUT_MS)

    # from the keyboard: the React button opens the set, Escape closes it again
    button = ana.locator("#reactions-button")
    await button.focus()
    await ana.keyboard.press("Enter")
    celebrate = ana.get_by_role("button", name="Celebrate")
    await expect(celebrate).to_be_visible()
    await ana.keyboard.press("Escape")
    await expect(celebrate).to_be_hidden()
    await expect(button).to_be_focused()
    await ana.keyboard.press("Enter")
    await celebrate.focus()
    await ana.keyboard.press("Enter")
    # the menu closes, focus back on its button; the reaction shows on Ana's own tile and on Ben's page
    await expect(celebrate).to_be_hidden()
    await expect(button).to_be_focused()
    mine = ana.locator("#tiles .call-tile.mine .tile-reaction")
    await expect(mine).to_have_text("🎉")
    theirs = tile_of(ben, "Ana").locator(".tile-reaction")
    await expect(theirs).to_have_text("🎉")
    await expect(theirs).to_have_attribute("aria-label", "Ana 님의 반응 🎉")  # Ben's page is in Korean
    assert await ben.locator('[data-emoji="🎉"]').get_attribute("aria-label") == "축하"
    # and it goes after a few seconds
    await expect(theirs).to_have_count(0, timeout=10_000)
    await expect(mine).to_have_count(0, timeout=10_000)
    # Ben's to Ana, with the mouse this time
    await ben.locator("#reactions-button").click()
    await ben.get_by_role("button", name="좋아요").click()
    await expect(tile_of(ana, "Ben").locator(".tile-reaction")).to_have_text("👍")


async def test_hands_show_in_order_on_tiles_and_in_the_people_list_and_the_owner_lowers_them(
    live_server, new_user, room_name, room_url
):
    url = room_url(live_server.url, room_name)
    ana = await open_call_page(new_user, "Ana")  # first in: the owner
    await enter_and_join_call(ana, url, "Ana")
    ben = await open_call_page(new_user, "Ben")
    await enter_and_join_call(ben, url, "Ben")
    cho = await open_call_page(new_user, "Cho", lang="ko")
    await enter_room(cho, url, "Cho")  # in the room only: the people list shows hands
    await expect(tile_of(ana, "Ben")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    await expect(tile_of(ben, "Ana")).to_be_visible(timeout=CALL_TIMEOUT_MS)

    # Ben raises his hand with the H key; Ana, then, with the button
    await ben.locator("#tiles").click()  # the page has the focus, not a text field
    await ben.keyboard.press("h")
    await expect(ben.locator("#hand-button")).to_have_attribute("aria-pressed", "true")
    await expect(ben.locator("#hand-button")).to_have_text("Lower hand")
    await expect(tile_of(ana, "Ben")).to_have_attribute("data-hand", "1")
    await expect(ben.locator("#tiles .call-tile.mine")).to_have_attribute("data-hand", "1")
    await ana.locator("#hand-button").click()
    await expect(tile_of(ben, "Ana")).to_have_attribute("data-hand", "2")
    for page in (ana, ben, cho):
        await expect(page.locator('#members .member[data-nickname="Ben"] .member-hand')).to_have_text("✋ 1")
        await expect(page.locator('#members .member[data-nickname="Ana"] .member-hand')).to_have_text("✋ 2")
    await expect(cho.locator('#members .member[data-nickname="Ben"] .member-hand')).to_have_attribute(
        "aria-label", "손 들었음, 1번째"
    )
    # someone who joins the call now sees the hands already up on the tiles
    await join_call(cho)
    await expect(tile_of(cho, "Ben")).to_have_attribute("data-hand", "1", timeout=CALL_TIMEOUT_MS)
    await expect(tile_of(cho, "Ana")).to_have_attribute("data-hand", "2")
    # only the owner may lower them
    assert await ben.locator(".member-lower-hand").count() == 0
    await ana.get_by_role("button", name="Lower Ben's hand").click()
    await expect(ben.locator("#hand-button")).to_have_attribute("aria-pressed", "false")
    await expect(ben.locator("#messages")).to_contain_text("Ana lowered your hand.")
    await expect(tile_of(ben, "Ana")).to_have_attribute("data-hand", "1")
    await expect(tile_of(ana, "Ben")).not_to_have_attribute("data-hand", "1")
    await expect(cho.locator('#members .member[data-nickname="Ben"] .member-hand')).to_have_count(0)
    await expect(tile_of(cho, "Ben")).not_to_have_attribute("data-hand", "1")
    # a hand goes down with its owner leaving the call
    await ana.locator("#leave-call").click()
    await expect(cho.locator('#members .member[data-nickname="Ana"] .member-hand')).to_have_count(0)
