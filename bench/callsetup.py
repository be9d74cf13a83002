"""Call set-up time in headless Chromium: from clicking Join to the first remote frame.

A newcomer joins a call that its other participants already hold (2 people: the second joins the
first; 4 people: the fourth joins three). Measured on the machine's one clock (Date.now() in every
page): until the newcomer's first remote video shows a frame, and until every pair plays (each page
shows a frame from each of the others). Median of `repeats`.
"""

from __future__ import annotations

import json
import statistics
import uuid
from urllib.parse import quote

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream", "--allow-loopback-in-peer-connection",
]
TIMEOUT_MS = 60_000

# Resolves with Date.now() once `count` remote videos each show a frame (polled every 2 ms).
WATCH = """(count) => new Promise((resolve) => {
    const check = () => {
        const videos = [...document.querySelectorAll("#tiles .call-tile:not(.mine) video")];
        if (videos.length >= count && videos.every((v) => v.videoWidth > 0)) resolve(Date.now());
        else setTimeout(check, 2);
    };
    check();
})"""


async def _open(browser: Browser, url: str, room: str, name: str) -> Page:
    context = await browser.new_context()
    key, value = json.dumps("videochat.nickname"), json.dumps(name)
    await context.add_init_script(f"localStorage.setItem({key}, {value})")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(f"{url}/r/{quote(room, safe='')}")
    await page.wait_for_selector("#call-join:not([disabled])")
    return page


async def _join(page: Page) -> int:
    """Clicks Join in the page itself and returns the moment, by the page's clock."""
    return await page.evaluate("() => { document.querySelector('#call-join').click(); return Date.now(); }")


async def one_setup(browser: Browser, url: str, participants: int) -> dict[str, float]:
    room = f"bench-{uuid.uuid4().hex[:8]}"
    pages = [await _open(browser, url, room, f"P{i}") for i in range(participants)]
    try:
        holders, newcomer = pages[:-1], pages[-1]
        for index, page in enumerate(holders):
            await _join(page)
            await page.evaluate(WATCH, index)  # the call so far plays on this page
        for page in holders:
            await page.evaluate(WATCH, participants - 2)
        first = newcomer.evaluate(WATCH, 1)
        everyone = [page.evaluate(WATCH, participants - 1) for page in pages]
        clicked = await _join(newcomer)
        first_frame = await first
        all_pairs = max([await watch for watch in everyone])
        return {"first_frame_ms": first_frame - clicked, "all_pairs_ms": all_pairs - clicked}
    finally:
        for page in pages:
            await page.context.close()


async def measure(url: str, participants: int, repeats: int, chromium: str = "/usr/bin/chromium") -> dict:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            runs = [await one_setup(browser, url, participants) for _ in range(repeats)]
        finally:
            await browser.close()
    return {
        "participants": participants,
        "repeats": repeats,
        "first_frame_ms": statistics.median(r["first_frame_ms"] for r in runs),
        "all_pairs_ms": statistics.median(r["all_pairs_ms"] for r in runs),
        "runs": runs,
    }
