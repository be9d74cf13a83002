"""Files in the chat, on the page (docs/protocol.md, "Files in the chat"): picked with 📎 or dropped on
the chat, they go up with a progress bar and a cancel, and show in everyone's chat as links that
download them (images with a thumbnail) to the room's members only, after a reload too. A file over
the server's limit is refused by the page before a byte moves; a cancelled upload leaves nothing.

The tests share a server of their own, with a small --max-upload-mb: the page must take its limit from
the server, and a file over it stays small enough to hand to the browser quickly.
"""

from __future__ import annotations

import asyncio
import re
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from actions import enter_room, send
from playwright.async_api import Locator, Page, Request, WebSocket, expect

from support import SHARED_ADDRESS, ServerProcess

MAX_UPLOAD_MB = 2
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
FILE_URL = re.compile(r"^/files/[0-9a-f]{32}$")
TEXT_NAME, TEXT = "meeting notes.txt", ("Agenda: ship files in the chat.\n" * 100).encode()[:3000]
PNG_NAME, PNG_SIZE = "tiny dot.png", (5, 3)


def png(width: int, height: int) -> bytes:
    """A real PNG (8-bit RGB, no filter) of `width` × `height` pixels that every browser decodes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((200, 40 * y % 256, 90)) * width for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PNG = png(*PNG_SIZE)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def files_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServerProcess]:
    """A server of this module's own: a small limit, and the upload budget of 127.0.0.1 untouched by
    other tests (8 files of the limit at once, docs/protocol.md)."""
    server = ServerProcess(
        tmp_path_factory.mktemp("files-server"), *SHARED_ADDRESS, "--max-upload-mb", str(MAX_UPLOAD_MB)
    )
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


def as_file(name: str, mime: str, data: bytes) -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


async def pick_files(page: Page, *files: dict) -> None:
    """Picks files with the 📎 button's file picker, as a user choosing them does."""
    await expect(page.get_by_test_id("attach-file")).to_be_visible()
    async with page.expect_file_chooser() as chooser:
        await page.get_by_test_id("attach-file").click()
    await (await chooser.value).set_files(list(files))


async def drop_file(page: Page, name: str, text: str) -> None:
    """Drops a file on the chat: the drag events a browser fires, with the file in their DataTransfer."""
    await page.evaluate(
        """([name, text]) => {
            const data = new DataTransfer();
            data.items.add(new File([text], name, { type: "text/plain" }));
            const target = document.querySelector('[data-testid="messages"]');
            for (const type of ["dragenter", "dragover", "drop"]) {
                target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
            }
        }""",
        [name, text],
    )


def file_message(page: Page, name: str) -> Locator:
    return page.locator("#messages li.message.file-message").filter(
        has=page.locator(".file-name", has_text=re.compile(f"^{re.escape(name)}$"))
    )


async def expect_file_message(page: Page, name: str, size_text: str, author: str) -> Locator:
    """Waits for the message of file `name` in the chat, checks it, and returns its link."""
    message = file_message(page, name)
    await expect(message).to_have_count(1)
    await expect(message).to_have_attribute("data-author", author)
    link = message.get_by_test_id("file-link")
    await expect(link).to_have_attribute("href", FILE_URL)
    await expect(link).to_have_attribute("download", name)
    await expect(link.locator(".file-size")).to_have_text(size_text)
    return link


async def expect_thumbnail_loads(page: Page, link: Locator) -> None:
    """The image's thumbnail is in its link and decoded: the browser got the image's bytes."""
    thumb = link.get_by_test_id("file-thumb")
    await expect(thumb).to_have_count(1)
    await thumb.scroll_into_view_if_needed()  # the thumbnail loads lazily
    await page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=await thumb.element_handle())
    size = await thumb.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert tuple(size) == PNG_SIZE


async def download(page: Page, link: Locator, name: str) -> bytes:
    """Clicks a file's link as a user does, and returns the bytes the browser saved."""
    async with page.expect_download() as info:
        await link.click()
    saved = await info.value
    assert saved.suggested_filename == name
    assert await saved.failure() is None
    return Path(await saved.path()).read_bytes()


async def status_for(page: Page, url: str) -> int:
    """The status of a GET with the cookies of the page's browser (its context)."""
    response = await page.request.get(url, max_redirects=0)
    return response.status


async def wait_for_browser_id(page: Page) -> None:
    """The page has its browser id from the server, and so the cookie /files/ asks for."""
    await page.wait_for_function("() => Boolean(localStorage.getItem('videochat.browserId'))")
    cookies = await page.context.cookies(page.url.split("/r/")[0] + "/files/x")
    assert any(cookie["name"] == "videochat_browser" for cookie in cookies), cookies


async def test_files_reach_the_room_and_download_for_its_members_only(files_server, new_user, room_name, room_url):
    url = room_url(files_server.url, room_name)
    alice = await new_user("Alice")
    bob = await new_user("Bob")
    await enter_room(alice, url, "Alice")
    await enter_room(bob, url, "Bob")

    await pick_files(alice, as_file(PNG_NAME, "image/png", PNG), as_file(TEXT_NAME, "text/plain", TEXT))
    await expect(alice.get_by_test_id("upload")).to_have_count(0)  # both went up: their rows are gone
    await expect(alice.get_by_test_id("uploads")).to_be_hidden()
    for page in (alice, bob):
        png_link = await expect_file_message(page, PNG_NAME, f"{len(PNG)} bytes", "Alice")
        text_link = await expect_file_message(page, TEXT_NAME, "3 KB", "Alice")
        await expect(text_link.get_by_test_id("file-thumb")).to_have_count(0)  # not an image
    await expect(alice.locator("#messages .message.mine.file-message")).to_have_count(2)
    await expect(bob.locator("#messages .message.file-message:not(.mine)")).to_have_count(2)

    await expect_thumbnail_loads(bob, png_link)
    assert await download(bob, text_link, TEXT_NAME) == TEXT
    assert await download(bob, png_link, PNG_NAME) == PNG
    href = await text_link.get_attribute("href")
    assert href is not None
    file_url = files_server.url + href

    # Only the room's members: not someone in another room (with a cookie of their own), nor a
    # request with no cookie at all.
    carol = await new_user("Carol")
    await enter_room(carol, room_url(files_server.url, f"{room_name}-other"), "Carol")
    await wait_for_browser_id(carol)
    assert await status_for(carol, file_url) == 403
    assert await status_for(bob, file_url) == 200
    async with aiohttp.ClientSession() as session, session.get(file_url) as response:
        assert response.status == 403
        assert TEXT not in await response.read()

    # After a reload, the files are in the room's history and still download.
    await bob.reload()
    await expect(bob.locator("#status")).to_have_attribute("data-state", "connected")
    png_link = await expect_file_message(bob, PNG_NAME, f"{len(PNG)} bytes", "Alice")
    text_link = await expect_file_message(bob, TEXT_NAME, "3 KB", "Alice")
    await expect_thumbnail_loads(bob, png_link)
    assert await download(bob, text_link, TEXT_NAME) == TEXT

    # Someone who left the room no longer may.
    await bob.locator("#leave").click()
    await expect(bob).to_have_url(f"{files_server.url}/")
    await expect(alice.locator("#member-count")).to_have_text("1 member")
    assert await status_for(bob, file_url) == 403


class Outgoing:
    """What a page sent that starts an upload: `upload_file` events (WebSocket frames or long-polling
    bodies) and PUTs of files."""

    def __init__(self, page: Page) -> None:
        self.asked: list[str] = []
        self.puts: list[Request] = []
        page.on("websocket", self._watch_socket)
        page.on("request", self._on_request)

    def _watch_socket(self, socket: WebSocket) -> None:
        socket.on("framesent", lambda frame: self._on_text(frame if isinstance(frame, str) else ""))

    def _on_request(self, request: Request) -> None:
        if request.method == "PUT" and "/files/" in request.url:
            self.puts.append(request)
        elif request.method == "POST" and "/socket.io/" in request.url:
            self._on_text(request.post_data or "")

    def _on_text(self, text: str) -> None:
        if '"upload_file"' in text:
            self.asked.append(text)


async def test_a_file_over_the_limit_or_cancelled_sends_nothing(files_server, new_user, room_name, room_url):
    url = room_url(files_server.url, room_name)
    alice = await new_user("Alice")
    outgoing = Outgoing(alice)
    bob = await new_user("Bob")
    await enter_room(alice, url, "Alice")
    await enter_room(bob, url, "Bob")

    # One byte over the server's limit: the page refuses it itself, saying the limit.
    await pick_files(alice, as_file("too big.bin", "application/octet-stream", bytes(MAX_UPLOAD_BYTES + 1)))
    row = alice.get_by_test_id("upload")
    await expect(row).to_have_count(1)
    await expect(row).to_have_attribute("data-state", "failed")
    await expect(row.locator(".upload-name")).to_have_text("too big.bin")
    await expect(row.locator(".upload-error")).to_be_visible()
    await expect(row.locator(".upload-error")).to_contain_text(f"{MAX_UPLOAD_MB} MB")
    await row.get_by_test_id("upload-dismiss").click()
    await expect(row).to_have_count(0)
    await expect(alice.get_by_test_id("uploads")).to_be_hidden()
    await send(alice, "after the big one")
    await expect(bob.locator("#messages .message .message-text").last).to_have_text("after the big one")
    await expect(bob.locator("#messages .file-message")).to_have_count(0)
    assert outgoing.asked == [] and outgoing.puts == []

    # An upload cancelled while its bytes go up (slowly: the browser's uplink is throttled).
    cdp = await alice.context.new_cdp_session(alice)
    await cdp.send("Network.enable")
    slow = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 64 * 1024}
    await cdp.send("Network.emulateNetworkConditions", slow)
    await pick_files(alice, as_file("big video.bin", "application/octet-stream", bytes(MAX_UPLOAD_BYTES)))
    await expect(row).to_have_count(1)
    await expect(row).to_have_attribute("data-state", "sending")
    await expect(row.locator(".upload-name")).to_have_text("big video.bin")
    await alice.wait_for_function(
        "() => document.querySelector('[data-testid=upload] [data-testid=upload-progress]')?.value > 0"
    )
    assert len(outgoing.asked) == 1 and len(outgoing.puts) == 1  # what the watch above saw is real
    put = outgoing.puts[0]
    async with alice.expect_event("requestfailed", lambda request: request == put):
        await row.get_by_test_id("upload-cancel").click()
    await expect(row).to_have_count(0)
    await expect(alice.get_by_test_id("uploads")).to_be_hidden()
    await cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    # The page goes on: a message and another file (dropped on the chat) arrive, the cancelled never.
    await send(alice, "still here")
    await expect(bob.locator("#messages .message .message-text").last).to_have_text("still here")
    await drop_file(alice, "small.txt", "small but whole")
    await expect_file_message(bob, "small.txt", "15 bytes", "Alice")
    await expect(bob.locator("#messages .file-message")).to_have_count(1)
    await expect(alice.locator("#messages .file-message")).to_have_count(1)
    cancelled_id = put.url.rsplit("/", 1)[1]
    stored = {path.name for path in (files_server.data_dir / "uploads").iterdir()}
    assert cancelled_id not in stored and f"{cancelled_id}.json" not in stored, stored
    assert len(outgoing.asked) == 2 and len(outgoing.puts) == 2
