"""Browser tests: one Debian Chromium for the session (another if it stops answering: chromium.py),
a fresh context for each user of a test.

The server is the real one (`live_server`, `server_factory` in tests/conftest.py). Each test waits on
states the page shows (texts, attributes), never on sleeps.

Playwright's async API runs on the session's one event loop (pyproject.toml sets both pytest-asyncio
loop scopes to "session"), so a test can drive pages and Socket.IO clients side by side, and the
browser tests can run in any order among the others. A blocking call in a test (starting or stopping
a `ServerProcess`) goes through `asyncio.to_thread`, so that the pages keep being served meanwhile.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import pytest_asyncio
from chromium import CHROMIUM, TIMEOUT_MS, Chromium
from playwright.async_api import (
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    async_playwright,
    expect,
)

expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the browser tests (`-m browser`, `-m "not browser"`); their order is left alone."""
    for item in items:
        if _is_browser_test(item):
            item.add_marker(pytest.mark.browser)


def _is_browser_test(item: pytest.Item) -> bool:
    return Path(__file__).parent in Path(item.path).parents


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(playwright: Playwright, pytestconfig: pytest.Config) -> AsyncIterator[Chromium]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}; scripts/setup --test installs it")
    say = pytestconfig.pluginmanager.get_plugin("videochat-watchdog").say
    async with Chromium(playwright, say=say) as browser:
        yield browser


class PageErrors:
    """Uncaught exceptions and console errors of every page a test opened: a test fails on any."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page, who: str) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"{who}: uncaught {error}"))

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not _expected_console_error(message.text):
                self.errors.append(f"{who}: console error {message.text} ({message.location.get('url')})")

        page.on("console", on_console)


def _expected_console_error(text: str) -> bool:
    # While a server restarts, or a test takes the page offline (context.set_offline), the browser
    # itself logs the connections that fail; so it does when a starved page misses its heartbeat and
    # the client library reconnects (a send races the close). The page's own errors are still caught.
    browser_signs = (
        "ERR_CONNECTION_REFUSED",
        "ERR_INTERNET_DISCONNECTED",
        "WebSocket connection to",
        "WebSocket is already in CLOSING or CLOSED state",
    )
    return any(sign in text for sign in browser_signs)


@pytest.fixture
def page_errors() -> Iterator[PageErrors]:
    errors = PageErrors()
    yield errors
    assert not errors.errors, "\n".join(errors.errors)


@pytest_asyncio.fixture
async def new_user(browser: Chromium, page_errors: PageErrors) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """await new_user(nickname=None, lang="en", browser=None, **context_options) -> a page in a
    context of its own, in the session's browser or in `browser` (one launched with other flags).

    A nickname is stored in the page's localStorage before any script runs, as a returning user has.
    """
    opened: list[tuple[Chromium, BrowserContext]] = []

    async def open_page(
        nickname: str | None = None, *, lang: str = "en", browser: Chromium = browser, **options
    ) -> Page:
        scripts = ()
        if nickname is not None:
            key, value = json.dumps("videochat.nickname"), json.dumps(nickname)
            scripts = (f"localStorage.getItem({key}) ?? localStorage.setItem({key}, {value})",)
        page = await browser.new_page(scripts, locale=lang, **options)
        opened.append((browser, page.context))
        page_errors.watch(page, nickname or f"user{len(opened)}")
        return page

    yield open_page
    for chromium, context in opened:
        await chromium.close_context(context)


@pytest.fixture
def room_name() -> str:
    """A room name no other test uses."""
    return f"room-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def room_url() -> Callable[..., str]:
    """room_url(server_url, room, **query) -> the URL of a room's page."""

    def build(server_url: str, room: str, **query: str) -> str:
        url = f"{server_url}/r/{quote(room, safe='')}"
        return f"{url}?{urlencode(query)}" if query else url

    return build
