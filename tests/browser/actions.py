"""What a user does on the pages, shared by the browser tests."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect

# How long the others may take to see that a page went offline (context.set_offline). The page's
# WebSocket close usually reaches the server at once; when it does not, the server notices the
# silent socket by its pings: up to the ping interval (25 s) and the ping timeout (20 s), plus a
# loaded machine's slack. One full run here saw Bob's tile stay past 45 s.
OFFLINE_NOTICED_MS = 75_000


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
