"""What a user does on the pages, shared by the browser tests."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect


async def enter_room(page: Page, url: str, nickname: str) -> None:
    """Opens a room page and waits until the user is in (the member list marks them)."""
    await page.goto(url)
    await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#members li.you .member-name")).to_have_text(nickname)


async def send(page: Page, text: str) -> None:
    """Types a message, sends it with Enter, and waits for the server's ack to show it."""
    await page.locator("#message-input").fill(text)
    await page.locator("#message-input").press("Enter")
    await expect(page.locator("#messages .message.mine .message-text").last).to_have_text(text)
    await expect(page.locator("#message-input")).to_have_value("")


def message_texts(page: Page) -> Locator:
    return page.locator("#messages .message .message-text")
