"""How the browser tests start Chromium (a module of its own, so that a test can launch a second
browser with other flags without importing a conftest)."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, Playwright

# Debian's Chromium; `playwright install` cannot download a browser here (see the project notes on testing with Debian Chromium).
CHROMIUM = os.environ.get("VIDEOCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream=device-count=3",  # three cameras to switch among
    "--allow-loopback-in-peer-connection",
]
TIMEOUT_MS = 15_000

ANSWER_S = 30  # for Chromium to open a page or close a context: it takes well under a second


class Chromium:
    """One launched Chromium, launched again if it stops answering.

    Chromium can stop answering a context's creation or closing (Target.disposeBrowserContext that
    never returns, reported by other projects that drive Chromium), and Playwright gives those calls
    no timeout: one CI run of ours stopped for good between two browser tests, where only such calls
    wait without one. Here each has ANSWER_S: then this Chromium's processes are killed, the
    fact is reported (`say`), and a new one serves what follows. A page that could not be opened is
    opened again on the new browser; nothing of the product had run in it yet.
    """

    def __init__(
        self, playwright: Playwright, flags: list[str] | None = None, say: Callable[[str], None] = print
    ) -> None:
        self._playwright = playwright
        self._flags = CHROMIUM_FLAGS if flags is None else flags
        self._say = say
        self._browser: Browser | None = None
        self._mark = ""
        self.replaced: list[str] = []

    async def start(self) -> Chromium:
        # An unknown switch, which Chromium ignores, names this browser's processes for _kill().
        self._mark = f"--videochat-test-browser={uuid.uuid4().hex}"
        self._browser = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*self._flags, self._mark]
        )
        return self

    async def new_page(self, init_scripts: tuple[str, ...] = (), **options) -> Page:
        """A page in a context of its own (`options` are the context's), with `init_scripts`."""
        try:
            return await asyncio.wait_for(self._new_page(init_scripts, options), ANSWER_S)
        except TimeoutError:
            await self._replace("did not open a page")
            return await self._new_page(init_scripts, options)

    async def _new_page(self, init_scripts: tuple[str, ...], options: dict) -> Page:
        context = await self._browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        for script in init_scripts:
            await context.add_init_script(script)
        return await context.new_page()

    async def close_context(self, context: BrowserContext) -> None:
        try:
            await asyncio.wait_for(context.close(), ANSWER_S)
        except TimeoutError:
            await self._replace("did not close a context")

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self._browser.close(), ANSWER_S)
        except TimeoutError:
            self._kill()

    async def __aenter__(self) -> Chromium:
        return await self.start()

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    async def _replace(self, what: str) -> None:
        self.replaced.append(what)
        self._say(f"Chromium {what} within {ANSWER_S} s: killed, and launched again for the tests that follow")
        self._kill()
        with suppress(Exception):
            await asyncio.wait_for(self._browser.close(), ANSWER_S)
        await self.start()

    def processes(self) -> list[int]:
        """The ids of this browser's processes that carry its mark (zombies included)."""
        mark, found = self._mark.encode(), []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            with suppress(OSError):
                if mark in cmdline.read_bytes().split(b"\0"):
                    found.append(int(cmdline.parent.name))
        return found

    def _kill(self) -> None:
        for pid in self.processes():
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
