"""What a user does on the pages, shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def enter_room(page: Page, url: str, nickname: str) -> None:
    """Opens a room page and waits until the user is in (the member list marks them)."""
    page.goto(url)
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    expect(page.locator("#members li.you .member-name")).to_have_text(nickname)


def send(page: Page, text: str) -> None:
    """Types a message, sends it with Enter, and waits for the server's ack to show it."""
    page.locator("#message-input").fill(text)
    page.locator("#message-input").press("Enter")
    expect(page.locator("#messages .message.mine .message-text").last).to_have_text(text)
    expect(page.locator("#message-input")).to_have_value("")


def message_texts(page: Page):
    return page.locator("#messages .message .message-text")
