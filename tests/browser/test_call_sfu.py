"""Calls on the SFU in Chromium pages: the live move from a mesh, simulcast layers that follow the
tiles, the screen as a second stream. A real server running a real Janus, in a network namespace
of its own (tests/sfu/netns; Janus never uses a loopback interface)."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading

import pytest
from actions import enter_room
from call_actions import CALL_TIMEOUT_MS, enter_and_join_call, open_call_page, tile_of, wait_remote_videos_play
from chromium import CHROMIUM_FLAGS, Chromium
from playwright.async_api import Page, expect

# Per page: its open connections that were negotiated, and what each receives of video
CONNECTIONS = "() => window.__pcs.filter((pc) => pc.connectionState === 'connected').length"
INBOUND_VIDEO = """async () => {
    const result = [];
    for (const pc of window.__pcs.filter((pc) => pc.connectionState === "connected")) {
        (await pc.getStats()).forEach((r) => {
            if (r.type === "inbound-rtp" && r.kind === "video") result.push({frames: r.framesDecoded || 0, height: r.frameHeight || 0, mid: r.mid});
        });
    }
    return result;
}"""
# A remote tile is featured (the active speaker) and shown bigger than the others
FEATURED_IS_BIGGER = """() => {
    const featured = document.querySelector("#tiles .call-tile[data-featured]:not(.mine)");
    const other = document.querySelector("#tiles .call-tile:not([data-featured]):not(.mine)");
    return featured !== null && other !== null && featured.clientHeight > other.clientHeight;
}"""
# What the page's open connections may send at most, all encodings together (bit/s)
SENT_BITRATE_CAP = """() => window.__pcs.filter((pc) => pc.connectionState !== "closed").flatMap((pc) => pc.getSenders())
    .flatMap((sender) => sender.getParameters().encodings ?? []).reduce((sum, e) => sum + (e.maxBitrate ?? 0), 0)"""
# Every remote tile `height` CSS pixels high (the page's CSP allows no style tag; styles through the DOM)
SIZE_TILES = """(height) => {
    for (const tile of document.querySelectorAll("#tiles .call-tile:not(.mine)")) {
        for (const name of ["height", "min-height", "max-height"]) tile.style.setProperty(name, `${height}px`, "important");
    }
}"""
INBOUND_AUDIO = """async () => {
    const result = [];
    for (const pc of window.__pcs.filter((pc) => pc.connectionState === "connected")) {
        (await pc.getStats()).forEach((r) => {
            if (r.type === "inbound-rtp" && r.kind === "audio") result.push({bytes: r.bytesReceived || 0, mid: r.mid});
        });
    }
    return result;
}"""
# The longest time any remote tile's video went without a new frame, from now on
WATCH_GAPS = """() => {
    window.__gap = {max: 0, last: new Map()};
    const watch = () => {
        for (const video of document.querySelectorAll("#tiles .call-tile:not(.mine) video")) {
            if (video.__watched) continue;
            video.__watched = true;
            const tick = (now) => {
                const last = window.__gap.last.get(video);
                if (last !== undefined) window.__gap.max = Math.max(window.__gap.max, now - last);
                window.__gap.last.set(video, now);
                video.requestVideoFrameCallback(tick);
            };
            video.requestVideoFrameCallback(tick);
        }
    };
    watch();
}"""


@pytest.fixture
def sfu_videochat(server_factory):
    return server_factory("--sfu-from", "3", env={"VIDEOCHAT_JANUS": "auto"})


# What a page's calls look like, for a failure to explain itself
CALL_STATE = """async () => ({
    message: document.querySelector("#call-message")?.hidden ? "" : document.querySelector("#call-message-text")?.textContent,
    tiles: [...document.querySelectorAll("#tiles .call-tile")].map((t) => `${t.querySelector(".tile-name")?.textContent ?? "?"}:${t.dataset.state ?? ""}`),
    connections: await Promise.all(window.__pcs.filter((pc) => pc.connectionState !== "closed").map(async (pc) => {
        const video = [];
        (await pc.getStats()).forEach((r) => { if (r.type === "inbound-rtp" && r.kind === "video") video.push(r.framesDecoded || 0); });
        return `${pc.connectionState}/${pc.iceConnectionState}/${pc.signalingState} transceivers=${pc.getTransceivers().length} frames=${video}`;
    })),
})"""


async def wait_on_sfu(page: Page, others: int) -> None:
    """The page receives everyone through the SFU: its connections are its camera's and the one
    that receives (the mesh's are closed), and video frames of `others` people keep coming."""
    try:
        await page.wait_for_function(f"() => ({CONNECTIONS})() === 2", timeout=CALL_TIMEOUT_MS)
        await page.wait_for_function(
            f"async (n) => (await ({INBOUND_VIDEO})()).filter((v) => v.frames > 0).length >= n",
            arg=others,
            timeout=CALL_TIMEOUT_MS,
        )
        before = {v["mid"]: v["frames"] for v in await page.evaluate(INBOUND_VIDEO)}
        await page.wait_for_function(
            f"""async ([before, n]) => (await ({INBOUND_VIDEO})()).filter((v) => v.frames > (before[v.mid] ?? 0)).length >= n""",
            arg=[before, others],
            timeout=CALL_TIMEOUT_MS,
        )
    except Exception as error:
        raise AssertionError(
            f"the page does not receive {others} people through the SFU: {await page.evaluate(CALL_STATE)}"
        ) from error


async def test_a_call_moves_to_the_sfu_live_and_keeps_everyone_seeing_everyone(
    sfu_videochat, new_user, room_name, room_url
):
    url = room_url(sfu_videochat.url, room_name)
    names = ["Ana", "Ben", "Cho", "Dev"]
    pages = [await open_call_page(new_user, name) for name in names]
    for page, name in zip(pages[:2], names, strict=False):
        await enter_and_join_call(page, url, name)
    for page in pages[:2]:
        await wait_remote_videos_play(page, 1)
        await page.evaluate(WATCH_GAPS)

    # the third moves the call: the two already in it keep their video going
    await enter_and_join_call(pages[2], url, names[2])
    for page in pages[:3]:
        await wait_on_sfu(page, 2)
        await wait_remote_videos_play(page, 2)
    gaps = [await page.evaluate("() => window.__gap.max") for page in pages[:2]]
    print(f"\nlongest frozen video during the move to the SFU, per page: {[round(g) for g in gaps]} ms")
    assert "call on Janus" in sfu_videochat.log

    # a fourth joins a call on the SFU straight away
    await enter_and_join_call(pages[3], url, names[3])
    for page in pages:
        await wait_on_sfu(page, 3)
        await wait_remote_videos_play(page, 3)

    # simulcast: tiles made small receive a small layer; made big again, the full one
    ana = pages[0]
    await ana.evaluate(SIZE_TILES, 60)
    await ana.wait_for_function(
        f"async () => {{ const v = await ({INBOUND_VIDEO})(); return v.length >= 3 && v.every((x) => x.height > 0 && x.height <= 180); }}",
        timeout=CALL_TIMEOUT_MS,
        polling=250,
    )
    await ana.evaluate(SIZE_TILES, 600)
    await ana.wait_for_function(
        f"async () => (await ({INBOUND_VIDEO})()).some((x) => x.height >= 300)",
        timeout=CALL_TIMEOUT_MS,
        polling=250,
    )

    # the screen is a second stream: the others see it and Ben's camera
    ben = pages[1]
    await ben.locator("#share-button").click()
    for page in (pages[0], pages[2], pages[3]):
        await expect(tile_of(page, "Ben's screen")).to_be_visible(timeout=CALL_TIMEOUT_MS)
        await wait_remote_videos_play(page, 4)
    # camera and screen together stay inside the upload budget (2500 kbit/s by default)
    await ben.wait_for_function(f"() => ({SENT_BITRATE_CAP})() > 0")
    assert 1_500_000 < await ben.evaluate(SENT_BITRATE_CAP) <= 2_500_000
    await ben.locator("#share-button").click()
    for page in (pages[0], pages[2], pages[3]):
        await expect(tile_of(page, "Ben's screen")).to_have_count(0, timeout=CALL_TIMEOUT_MS)
        await wait_remote_videos_play(page, 3)


# the eight-person call's Chromium: cameras at 10 frames a second (the fake camera's default is 20):
# four pages that each encode three simulcast layers and decode seven people starve on two cores
LIGHT_CAMERA_FLAGS = [flag.replace("device-count=3", "device-count=1,fps=10") for flag in CHROMIUM_FLAGS]


async def test_a_call_of_eight_pages_and_python_peers_on_the_sfu(
    sfu_videochat, new_user, room_name, room_url, playwright
):
    """Four Chromium pages and four `videochat peer` processes: every page receives the video and
    the audio of the seven others. The peers only send (--send-only): on two cores, four Python
    processes that also received seven people each starved the pages (offers answered after 20 s,
    heartbeats missed); what peers receive through the SFU is tests/sfu/media's."""
    url = room_url(sfu_videochat.url, room_name)
    peers: list[subprocess.Popen] = []
    readers: list[threading.Thread] = []
    light = await Chromium(playwright, LIGHT_CAMERA_FLAGS).start()
    try:
        # the pages are open in the room first, while the machine is quiet; then the call forms
        pages = []
        for name in ("Ana", "Ben", "Cho", "Dev"):
            page = await open_call_page(new_user, name, browser=light)
            page.set_default_timeout(CALL_TIMEOUT_MS)
            await enter_room(page, url, name)
            pages.append(page)
        for i in range(4):
            command = [sys.executable, "-m", "videochat", "peer", sfu_videochat.url, room_name]
            peers.append(
                subprocess.Popen(
                    [*command, "--name", f"Robot {i}", "--send-only"],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        logs: list[list[str]] = [[] for _ in peers]
        readers = [
            threading.Thread(target=lambda p=process, out=lines: out.extend(p.stdout), daemon=True)
            for process, lines in zip(peers, logs, strict=True)
        ]
        for reader in readers:
            reader.start()
        for page in pages:
            await expect(page.locator("#call-join")).to_be_enabled(timeout=CALL_TIMEOUT_MS)
            await page.locator("#call-join").click()
            await expect(page.locator("#call")).to_be_visible(timeout=CALL_TIMEOUT_MS)
        # every page receives every other's video and audio: getStats counters increasing (tiles
        # playing is the four-page test's: eight people's media on two cores slows the renderers)
        for page in pages:
            try:
                await expect(page.locator("#tiles .call-tile:not(.mine)")).to_have_count(7, timeout=CALL_TIMEOUT_MS)
                await wait_on_sfu(page, 7)
            except AssertionError as error:
                # what the server and the peers said: the one way to see, after the fact, why a run
                # on a busy machine went wrong
                server = [
                    line
                    for line in sfu_videochat.log.splitlines()
                    if ("INFO" not in line or "sfu" in line) and "sfu.local: janus:" not in line
                ]
                robots = [f"Robot {i}: {line.rstrip()}" for i, lines in enumerate(logs) for line in lines[-8:]]
                raise AssertionError("\n".join([str(error), *server[-60:], *robots])) from error
            before = {a["mid"]: a["bytes"] for a in await page.evaluate(INBOUND_AUDIO)}
            await page.wait_for_function(
                f"async ([before, n]) => (await ({INBOUND_AUDIO})()).filter((a) => a.bytes > (before[a.mid] ?? 0)).length >= n",
                arg=[before, 7],
                timeout=CALL_TIMEOUT_MS,
            )
        # whoever speaks (the peers' tone, the pages' beeps) gets the speaking ring and the big tile
        for page in pages:
            await page.wait_for_function(FEATURED_IS_BIGGER, timeout=CALL_TIMEOUT_MS)
            await expect(page.locator("#tiles .call-tile[data-speaking]:not(.mine)").first).to_be_attached(
                timeout=CALL_TIMEOUT_MS
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        status = re.compile(r"receiving video from 0 and audio from 0 of 7 others \(call: sfu\)")
        while not all(any(status.search(line) for line in lines) for lines in logs):
            assert loop.time() < deadline, "".join(line for lines in logs for line in lines[-12:])
            await asyncio.sleep(0.5)
    finally:
        for process in peers:
            process.send_signal(signal.SIGTERM)
        for process in peers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for reader in readers:
            reader.join(5)
        for process in peers:
            if process.stdout is not None:
                process.stdout.close()
        await light.close()
