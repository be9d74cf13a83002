"""Korean and English, switched by a link and chosen from the browser; a phone-sized screen."""

from __future__ import annotations

from actions import enter_room, send
from playwright.async_api import expect

PHONE = {"width": 375, "height": 700}


async def test_language_switch_shows_korean(live_server, new_user, room_name, room_url):
    page = await new_user("Jisoo", lang="en-US")
    await page.goto(live_server.url + "/")
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.locator("#rooms-heading")).to_have_text("Open rooms")

    await page.locator("#lang-switch").click()
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    await expect(page.locator("#rooms-heading")).to_have_text("열린 방")
    await expect(page.locator("#enter")).to_have_text("참여 또는 만들기")
    await expect(page.locator("label[for=nickname-input]")).to_have_text("내 이름")
    await expect(page.locator("#lang-switch")).to_have_text("English")

    # The choice is kept (a cookie) on the next page, strings made by the script included.
    await enter_room(page, room_url(live_server.url, room_name), "Jisoo")
    await expect(page.locator("#leave")).to_have_text("방 나가기")
    await expect(page.locator("#send")).to_have_text("보내기")
    await expect(page.locator("#member-count")).to_have_text("1명")
    await expect(page.locator("#messages .notice-text")).to_have_text(f"{room_name} 방에 참여했습니다.")
    await expect(page.locator("#members li.you .you-marker")).to_have_text("(나)")

    await page.locator("#lang-switch").click()
    await expect(page.locator("#leave")).to_have_text("Leave room")


async def test_language_follows_the_browser(live_server, new_user):
    page = await new_user(lang="ko-KR")  # Accept-Language: ko-KR
    await page.goto(live_server.url + "/")
    await expect(page.locator("html")).to_have_attribute("lang", "ko")
    await expect(page.locator("h1")).to_have_text("브라우저에서 바로 채팅하고 만나세요")
    await page.locator("#enter").click()
    await expect(page.locator("#enter-error")).to_have_text("이름을 입력하세요.")


async def test_layout_phone_room_page_is_usable(live_server, new_user, room_name, room_url):
    page = await new_user("Phone", viewport=PHONE, is_mobile=True, has_touch=True)
    await enter_room(page, room_url(live_server.url, room_name), "Phone")
    for hook in ("#message-input", "#send", "#leave", "#room-title", "#member-count", "#members"):
        await expect(page.locator(hook)).to_be_in_viewport()
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"

    # The pre-join view fits above the chat: preview, Join; then the call's tiles and buttons.
    for hook in ("#preview-video", "#call-join"):
        await expect(page.locator(hook)).to_be_in_viewport()
    await page.locator("#call-join").click()
    hooks = ("#tiles .call-tile.mine", "#mute-button", "#camera-button", "#reactions-button", "#leave-call")
    for hook in (*hooks, "#message-input"):
        await expect(page.locator(hook)).to_be_in_viewport()
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"in the call, the page is {overflow}px wider than the screen"
    # the reactions open on the screen, every one of them (44 px targets) within it
    await page.locator("#reactions-button").click()
    for button in await page.locator("#reactions [data-emoji]").all():
        await expect(button).to_be_in_viewport(ratio=1)
    await page.locator("#reactions-button").click()

    for number in range(12):  # more than the screen holds: the log scrolls, the input stays
        await send(page, f"message {number}")
    await expect(page.locator("#messages .message").last).to_be_in_viewport()
    await expect(page.locator("#message-input")).to_be_in_viewport()


async def test_layout_phone_home_page_is_usable(live_server, new_user):
    page = await new_user(viewport=PHONE, is_mobile=True, has_touch=True)
    await page.goto(live_server.url + "/")
    for hook in ("#nickname-input", "#room-input", "#enter", "#lang-switch"):
        await expect(page.locator(hook)).to_be_in_viewport()
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
