"""The test harness itself: a Chromium that stops answering is replaced, so that one stuck browser
costs one wait, not the rest of the run (tests/browser/chromium.py). Stopping the browser process
(SIGSTOP) is how Chromium looks when it never answers a context's creation or closing."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import chromium
from chromium import Chromium
from playwright.async_api import expect


async def test_a_chromium_that_stops_answering_is_replaced(playwright, live_server, monkeypatch):
    monkeypatch.setattr(chromium, "ANSWER_S", 3)
    said: list[str] = []
    async with Chromium(playwright, say=said.append) as browser:
        page = await browser.new_page()
        await page.goto(live_server.url + "/")
        stuck = browser.processes()
        assert stuck, "the launched browser's processes carry its mark"
        for pid in stuck:
            os.kill(pid, signal.SIGSTOP)

        # Closing the stuck context times out; the next page comes from a new browser.
        await browser.close_context(page.context)
        assert browser.replaced == ["did not close a context"]
        assert said and "launched again" in said[0]
        assert all(_is_zombie(pid) for pid in stuck), "the stuck browser was killed"
        page = await browser.new_page()
        await page.goto(live_server.url + "/")
        await expect(page.locator("#nickname-input")).to_be_visible()

        # A browser that does not open a page in time is replaced too, and the page opened on the new one.
        for pid in browser.processes():
            os.kill(pid, signal.SIGSTOP)
        page = await browser.new_page()
        assert browser.replaced == ["did not close a context", "did not open a page"]
        await page.goto(live_server.url + "/")
        await expect(page.locator("#nickname-input")).to_be_visible()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except OSError:
        return True
