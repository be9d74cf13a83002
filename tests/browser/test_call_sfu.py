"""Calls on the SFU in Chromium pages: the live move from a mesh, simulcast layers that follow the
tiles, the screen as a second stream. A real server running a real Janus, in a network namespace
of its own (tests/sfu/netns; Janus never uses a loopback interface)."""

from __future__ import annotations

import asyncio
import json
import math
import re
import signal
import struct
import subprocess
import sys
import threading
import wave

import httpx
import pytest
from actions import enter_room
from call_actions import (
    CALL_TIMEOUT_MS,
    enter_and_join_call,
    open_call_page,
    tile_of,
    wait_for_async,
    wait_remote_videos_play,
)
from chromium import CHROMIUM_FLAGS, Chromium
from playwright.async_api import Page, expect

from support import eventually, scrape

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
        await wait_for_async(
            page, f"async (n) => (await ({INBOUND_VIDEO})()).filter((v) => v.frames > 0).length >= n", others
        )
        before = {v["mid"]: v["frames"] for v in await page.evaluate(INBOUND_VIDEO)}
        await wait_for_async(
            page,
            f"""async ([before, n]) => (await ({INBOUND_VIDEO})()).filter((v) => v.frames > (before[v.mid] ?? 0)).length >= n""",
            [before, others],
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
    await sfu_videochat.wait_log("call on Janus")

    # a fourth joins a call on the SFU straight away
    await enter_and_join_call(pages[3], url, names[3])
    for page in pages:
        await wait_on_sfu(page, 3)
        await wait_remote_videos_play(page, 3)

    # simulcast: tiles made small receive a small layer; made big again, the full one
    ana = pages[0]
    await ana.evaluate(SIZE_TILES, 60)
    await wait_for_async(
        ana,
        f"async () => {{ const v = await ({INBOUND_VIDEO})(); return v.length >= 3 && v.every((x) => x.height > 0 && x.height <= 180); }}",
    )
    # made big again, the full layer comes back (360p: the fake camera's full size). Janus switches
    # on that layer's next keyframe and asks for one at most once a second, forgetting a request
    # made sooner; the server asks again for a layer not reached (sfu/calls.py, NUDGE_SECONDS)
    await ana.evaluate(SIZE_TILES, 600)
    await wait_for_async(
        ana,
        f"async () => {{ const v = await ({INBOUND_VIDEO})(); return v.length >= 3 && v.every((x) => x.height >= 300); }}",
    )
    # /metrics counts every simulcast layer Janus receives (the four pages send two each)

    async def received_bitrate():
        async with httpx.AsyncClient(base_url=sfu_videochat.url) as http:
            metrics = scrape((await http.get("/metrics")).text)
        return metrics[("videochat_janus_received_bitrate", frozenset({("instance", "local")}))] > 500_000

    await eventually(received_bitrate, timeout=20, what="the layers' bitrate in /metrics")

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
            await wait_for_async(
                page,
                f"async ([before, n]) => (await ({INBOUND_AUDIO})()).filter((a) => a.bytes > (before[a.mid] ?? 0)).length >= n",
                [before, 7],
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


@pytest.fixture
def last_n_videochat(server_factory):
    """Calls on the SFU from three people, each page receiving the camera video of two others."""
    return server_factory("--sfu-from", "3", "--last-n", "2", env={"VIDEOCHAT_JANUS": "auto"})


# Every sfu_layers request the page sends (its websocket frames), for the test to read
RECORD_LAYERS = """
(() => {
    window.__layers = [];
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (data) {
        if (typeof data === "string" && data.includes('"sfu_layers"')) window.__layers.push(data.slice(data.indexOf("[")));
        return send.call(this, data);
    };
})();
"""
# Per remote camera tile, by name: its attributes, and what the receivers of its stream's tracks got
# (the video frames decoded, the sound's bytes: null before a first packet); `shown` is the
# element's own frame count
CAMERA_TILES = """async () => {
    const transceivers = window.__pcs.filter((pc) => pc.connectionState !== "closed").flatMap((pc) => pc.getTransceivers());
    const inbound = async (track) => {
        const transceiver = track && transceivers.find((t) => t.receiver.track === track);
        if (!transceiver) return null;
        let found = {mid: transceiver.mid};  // no statistics before a first packet
        (await transceiver.receiver.getStats()).forEach((r) => { if (r.type === "inbound-rtp") found = r; });
        return found;
    };
    const tiles = {};
    for (const tile of document.querySelectorAll("#tiles li.call-tile[data-peer-id]:not(.mine)")) {
        if (tile.dataset.peerId.endsWith(":screen")) continue;
        const video = tile.querySelector("video");
        const stream = video.srcObject;
        const seen = await inbound(stream?.getVideoTracks()[0]);
        const heard = await inbound(stream?.getAudioTracks()[0]);
        tiles[tile.querySelector(".tile-name").textContent.trim()] = {
            paused: tile.dataset.paused === "true",
            pinned: tile.hasAttribute("data-pinned"),
            pressed: tile.querySelector("button.tile-pin")?.getAttribute("aria-pressed") ?? null,
            featured: tile.hasAttribute("data-featured"),
            speaking: tile.hasAttribute("data-speaking"),
            state: tile.dataset.state ?? "",
            playing: !video.paused,
            frames: seen?.framesDecoded ?? null,
            shown: video.getVideoPlaybackQuality().totalVideoFrames,
            mid: seen?.mid ?? null,
            audio: heard?.bytesReceived ?? null,
        };
    }
    return tiles;
}"""
# The page has `want.tiles` remote tiles, pauses `want.paused` (how many) of them, not those of
# `want.received`, and the paused ones' frames stopped (or never came): none while every received
# tile decoded FRAMES new ones. The mark starts again whenever who is paused, a paused one's count or
# a received one's stream changes. Returns the tiles then, and who is paused.
LAST_N_SETTLED = f"""async (want) => {{
    const FRAMES = 15;
    const now = await ({CAMERA_TILES})();
    const names = Object.keys(now);
    const paused = names.filter((name) => now[name].paused);
    const pinned = names.filter((name) => now[name].pinned);
    if (names.length !== want.tiles || paused.length !== want.paused || want.received.some((name) => now[name]?.paused !== false)
        || pinned.join() !== (want.pinned ?? "")) {{
        window.__mark = null;
        return false;
    }}
    const mark = window.__mark;
    const received = names.filter((name) => !now[name].paused);
    if (!mark || mark.paused.join() !== paused.join() || paused.some((name) => mark.tiles[name].frames !== now[name].frames)
        || received.some((name) => now[name].frames === null || now[name].mid !== mark.tiles[name].mid)) {{
        window.__mark = {{paused, tiles: now}};
        return false;
    }}
    const advanced = received.every((name) => now[name].frames >= mark.tiles[name].frames + FRAMES);
    return advanced && {{paused, tiles: now}};
}}"""
# Every remote tile's sound: more bytes than `before` (name -> bytes)
SOUND_GOES_ON = f"""async (before) => {{
    const now = await ({CAMERA_TILES})();
    return Object.entries(before).every(([name, bytes]) => now[name]?.audio > bytes);
}}"""


async def test_last_n_receives_the_recent_speakers_and_the_pinned_only(
    last_n_videochat, new_user, room_name, room_url, playwright, tmp_path
):
    """--last-n 2, four people: each page receives the camera video of two others, the pinned and
    the most recent speakers first; the third's tile is paused (their name shows, Janus forwards
    none of their video: its frames stop) and their sound goes on."""
    url = room_url(last_n_videochat.url, room_name)
    names = ["Ana", "Ben", "Cho", "Dev"]
    # each page's microphone plays a steady tone from a file (Chromium's fake one beeps for 20 ms now
    # and then): whoever is unmuted is speaking all along
    tone = tmp_path / "tone.wav"
    with wave.open(str(tone), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(
            b"".join(struct.pack("<h", round(8000 * math.sin(2 * math.pi * 440 * i / 48_000))) for i in range(48_000))
        )
    light = await Chromium(playwright, [*LIGHT_CAMERA_FLAGS, f"--use-file-for-fake-audio-capture={tone}"]).start()
    try:
        pages = []
        for name in names:
            page = await open_call_page(new_user, name, browser=light)
            await page.add_init_script(RECORD_LAYERS)
            pages.append(page)
        ana, people = pages[0], dict(zip(names, pages, strict=True))

        async def wait_until(step: str, check: str, arg: object) -> object:
            """The async `check` on Ana's page (call_actions.wait_for_async), explained if it fails."""
            await ana.evaluate("() => { window.__mark = null; }")
            try:
                return await wait_for_async(ana, check, arg, polling=300)
            except Exception as error:
                server = [line for line in last_n_videochat.log.splitlines() if "sfu" in line or "WARNING" in line]
                raise AssertionError(
                    "\n".join(
                        [
                            f"{step}: not so on Ana's page ({arg})",
                            f"check: {await ana.evaluate('() => JSON.stringify(window.__mark)')}",
                            f"tiles: {await ana.evaluate(CAMERA_TILES)}",
                            f"sfu_layers sent: {(await ana.evaluate('() => window.__layers'))[-8:]}",
                            *server[-30:],
                        ]
                    )
                ) from error

        async def settled(
            step: str, received: list[str], *, tiles: int = 3, paused: int = 1, pinned: str | None = None
        ) -> dict:
            want = {"tiles": tiles, "received": received, "paused": paused, "pinned": pinned}
            return await wait_until(step, LAST_N_SETTLED, want)

        async def set_muted(name: str, muted: bool) -> None:
            button = people[name].locator("#mute-button")
            await button.click()
            await expect(button).to_have_attribute("aria-pressed", str(muted).lower())
            await expect(tile_of(ana, name).locator(".tile-muted")).to_be_visible(
                visible=muted, timeout=CALL_TIMEOUT_MS
            )

        # three people move the call to the SFU: two others each, everyone received
        for page, name in zip(pages[:3], names, strict=False):
            await enter_and_join_call(page, url, name)
        for page in pages[:3]:
            await wait_on_sfu(page, 2)
        await settled("three on the SFU", [], tiles=2, paused=0)
        # a fourth joins: each page receives two of the three others
        await enter_and_join_call(pages[3], url, names[3])
        for page in pages:
            await expect(page.locator("#tiles .call-tile:not(.mine)")).to_have_count(3, timeout=CALL_TIMEOUT_MS)
            await wait_on_sfu(page, 2)
            await expect(page.locator('#tiles .call-tile[data-paused="true"]')).to_have_count(
                1, timeout=CALL_TIMEOUT_MS
            )

        # everyone but Ana muted, nobody speaking: two received, one paused, whose frames stopped:
        # the page asked Janus for none of that stream; its tile still plays (the sound)
        for name in names[1:]:
            await set_muted(name, True)
        await expect(ana.locator("#tiles .call-tile[data-speaking]:not(.mine)")).to_have_count(0)
        state = await settled("all muted", [])
        [paused] = state["paused"]
        tile = state["tiles"][paused]
        layers = await ana.evaluate("() => window.__layers")
        asked = [item for sent in layers for item in json.loads(sent)[1]["layers"]]
        assert {"mid": tile["mid"], "send": False} in asked, f"{state} {layers}"
        assert tile["playing"], state
        assert all(not t["pinned"] and t["pressed"] == "false" for t in state["tiles"].values()), state

        # the paused person speaks (the fake microphone's short beeps: sfu.js measures the sound
        # over each interval, so a beep between two reads counts): their video comes, someone
        # else's stops
        speaker = paused
        await set_muted(speaker, False)
        state = await settled("after speaking", [speaker])
        [paused] = state["paused"]
        await set_muted(speaker, True)

        # Ana pins the paused one: received and featured; the third is paused now (the most recent
        # speaker keeps the other place)
        pin = tile_of(ana, paused).locator("button.tile-pin")
        await pin.click()
        await expect(pin).to_have_attribute("aria-pressed", "true")
        await expect(tile_of(ana, paused)).to_have_attribute("data-featured", "")
        state = await settled("pinned", [paused, speaker], pinned=paused)
        pinned, [paused] = paused, state["paused"]

        # everyone's sound comes on (the muted send silence), the paused one's too
        before = {name: tile["audio"] for name, tile in state["tiles"].items()}
        assert all(before.values()), state
        await wait_until("sound", SOUND_GOES_ON, before)

        # unpinned, the tile is paused again
        await pin.click()
        await expect(pin).to_have_attribute("aria-pressed", "false")
        await settled("unpinned", [speaker, paused])
        await expect(tile_of(ana, pinned)).to_have_attribute("data-paused", "true")
    finally:
        await light.close()


async def test_a_python_peer_receives_every_page_s_video_and_sound_through_the_sfu(
    sfu_videochat, new_user, room_name, room_url
):
    """Three Chromium pages (two of them moved from a mesh) and a `videochat.peer.Peer` (aiortc):
    the peer decodes every page's simulcast video and receives their sound. It failed in about
    two runs of five: aiortc gave a stream its own never-connected transport when Janus's first
    offer left it out of the BUNDLE group, and a peer that asked for the smallest layer stayed
    stuck when Chromium stopped sending that layer (docs/peer.md)."""
    from videochat.peer import Peer

    url = room_url(sfu_videochat.url, room_name)
    pages = []
    for name in ("Ana", "Ben", "Cho"):
        page = await open_call_page(new_user, name)
        await enter_and_join_call(page, url, name)
        pages.append(page)
    peer = Peer(sfu_videochat.url, room_name, name="Robot")
    try:
        await peer.start()
        await eventually(lambda: peer.mode == "sfu" or None, timeout=30, what="the peer on the SFU")
        for name in ("Ana", "Ben", "Cho"):
            await eventually(
                lambda n=name: (
                    (r := peer.peer_named(n)) is not None and r.frames["video"] >= 30 and r.frames["audio"] >= 30
                ),
                timeout=40,
                what=f"{name}'s video and sound decoded by the peer ({peer.describe()})",
            )
    finally:
        await peer.stop()


async def test_pages_on_two_processes_share_one_call_on_the_sfu(tmp_path, redis_server, new_user, room_name, room_url):
    """Several processes on Redis, sharing a Janus run elsewhere (docs/sfu.md, "Several
    processes"): Ana and Cho on one process, Ben on the other. The third moves the call, every page
    receives both others through the SFU, and a fourth on the second process comes straight in."""
    from janus_remote import RemoteJanus

    from redis_server import ProcessGroup

    secret = "a secret for the test's Janus"
    janus = RemoteJanus(tmp_path / "janus", secret, (22000, 22499))
    secret_file = tmp_path / "janus-secret"
    secret_file.write_text(secret + "\n")
    group = await asyncio.to_thread(
        ProcessGroup(
            tmp_path / "group",
            redis_server,
            *("--sfu-from", "3", "--janus", janus.url, "--janus-secret-file", str(secret_file)),
        ).start
    )
    try:
        one, two = group.urls
        people = [("Ana", one), ("Ben", two), ("Cho", one), ("Dev", two)]
        pages = [await open_call_page(new_user, name) for name, _ in people]
        for page, (name, url) in zip(pages[:3], people, strict=False):
            await enter_and_join_call(page, room_url(url, room_name), name)
        for page in pages[:3]:
            await wait_on_sfu(page, 2)
            await wait_remote_videos_play(page, 2)
        await enter_and_join_call(pages[3], room_url(two, room_name), "Dev")
        for page in pages:
            await wait_on_sfu(page, 3)
            await wait_remote_videos_play(page, 3)
        for process in group.processes:  # one Janus room, opened by one process, joined by the other
            await process.wait_log(f"call on Janus room={room_name}")
        assert sum("opened=elsewhere" in p.log for p in group.processes) == 1
        # the processes tell each other which camera layers their people receive (sfu_needs):
        # everyone small, every camera stops its full layer; Ben, on the second process, shows
        # everyone big: Ana's and Cho's, on the first, come back
        for page in pages:
            await page.evaluate(SIZE_TILES, 60)
        for page in pages:
            await camera_encodes(page, {"m"})
        await pages[1].evaluate(SIZE_TILES, 600)
        for page in (pages[0], pages[2]):
            await camera_encodes(page, {"h", "m"})
    finally:
        await asyncio.to_thread(group.stop)
        janus.stop()


# What the page's camera encodes: each simulcast layer's frames so far, and whether it is on
CAMERA_LAYERS = """async () => {
    const camera = window.__pcs.find((pc) => pc.connectionState !== "closed" && pc.getSenders().some((s) => (s.getParameters().encodings ?? []).length > 1));
    if (!camera) return {};
    const sender = camera.getSenders().find((s) => (s.getParameters().encodings ?? []).length > 1);
    const active = Object.fromEntries(sender.getParameters().encodings.map((e) => [e.rid, e.active]));
    const layers = {};
    (await camera.getStats()).forEach((r) => {
        if (r.type === "outbound-rtp" && r.rid) layers[r.rid] = {frames: r.framesEncoded || 0, active: active[r.rid]};
    });
    return layers;
}"""


async def camera_encodes(page: Page, rids: set[str], seconds: float = 20) -> None:
    """The page's camera encodes new frames of exactly `rids` (the others stand still)."""

    seen: list[dict] = []

    async def check() -> bool:
        before = await page.evaluate(CAMERA_LAYERS)
        await page.wait_for_timeout(1000)  # frames counted over a second: 20 at the fake camera's rate
        after = await page.evaluate(CAMERA_LAYERS)
        seen[:] = [before, after]
        growing = {rid for rid, layer in after.items() if layer["frames"] > before.get(rid, {}).get("frames", 0) + 5}
        return growing == rids

    try:
        await eventually(check, timeout=seconds, what=f"the camera encoding {sorted(rids)}")
    except AssertionError as error:
        raise AssertionError(f"{error}; over the last second: {seen}") from None


async def three_on_the_sfu(new_user, url: str, receiving: int = 2) -> list[Page]:
    """Ana, Ben and Cho in a call on the SFU, each page receiving `receiving` others' video."""
    names = ["Ana", "Ben", "Cho"]
    pages = [await open_call_page(new_user, name) for name in names]
    for page, name in zip(pages, names, strict=True):
        await enter_and_join_call(page, url, name)
    for page in pages:
        await wait_on_sfu(page, receiving)
    return pages


# The camera's simulcast layers but the full one stop, as a sender starved of CPU does
STOP_SMALL_LAYERS = """async () => {
    for (const pc of window.__pcs.filter((pc) => pc.connectionState === "connected")) {
        for (const sender of pc.getSenders()) {
            const parameters = sender.getParameters();
            if ((parameters.encodings ?? []).length < 2) continue;
            for (const encoding of parameters.encodings) encoding.active = encoding.rid === "h";
            await sender.setParameters(parameters);
        }
    }
}"""


async def test_a_small_tile_keeps_its_video_when_the_sender_stops_the_small_layers(
    sfu_videochat, new_user, room_name, room_url
):
    """Ben shows everyone small (he asks for the smallest layer); Ana's browser then sends only its
    full layer (Chromium drops layers on a starved machine). Janus moves a subscriber up only
    towards the layer asked for, so Ben's tile of Ana froze; the page notices its video stalled
    and asks for the full layer, and Ana's video goes on."""
    ana, ben, cho = await three_on_the_sfu(new_user, room_url(sfu_videochat.url, room_name))
    for page in (ben, cho):
        await page.evaluate(SIZE_TILES, 60)
    await wait_for_async(
        ben,
        f"async () => {{ const v = await ({INBOUND_VIDEO})(); return v.length >= 2 && v.every((x) => x.height > 0 && x.height <= 180); }}",
    )
    # nobody shows Ana big: her camera settles on its small layer (dynacast), which her page would
    # otherwise turn back on after the switch below
    await camera_encodes(ana, {"m"})
    await ana.evaluate(STOP_SMALL_LAYERS)
    # every video Ben receives goes on: 30 more frames each (1.5 s of the fake camera), Ana's too,
    # once her full layer reaches him (not always taller than 180 lines: a busy Chromium encodes
    # smaller pictures)
    before = {v["mid"]: v["frames"] for v in await ben.evaluate(INBOUND_VIDEO)}
    try:
        await wait_for_async(
            ben,
            f"async (before) => (await ({INBOUND_VIDEO})()).filter((v) => v.frames >= (before[v.mid] ?? 0) + 30).length >= 2",
            before,
        )
    except Exception as error:
        raise AssertionError(
            f"Ben's videos stopped: {before} then {await ben.evaluate(INBOUND_VIDEO)}; Ana's camera: "
            f"{await ana.evaluate(CAMERA_LAYERS)}; server: {sfu_videochat.log[-3000:]}"
        ) from error


async def test_a_camera_stops_encoding_the_layers_nobody_receives(sfu_videochat, new_user, room_name, room_url):
    """Dynacast: when every page shows everyone small, the cameras stop encoding their full layer
    (the server's sfu_send); a page that shows them big gets it back, and a recording keeps every
    layer. The fake camera is 640×360: Chromium encodes two layers of it (h 360p, m 180p)."""
    pages = await three_on_the_sfu(new_user, room_url(sfu_videochat.url, room_name))
    ana, ben, cho = pages
    for page in pages:
        await page.evaluate(SIZE_TILES, 60)
    for page in pages:
        await camera_encodes(page, {"m"})
        assert (await page.evaluate(CAMERA_LAYERS))["h"]["active"] is False
    # every video goes on, small
    for page in pages:
        await wait_on_sfu(page, 2)
    # Ben shows everyone big: Ana's and Cho's full layers come back, and reach him
    await ben.evaluate(SIZE_TILES, 600)
    for page in (ana, cho):
        await camera_encodes(page, {"h", "m"})
    await wait_for_async(
        ben,
        f"async () => {{ const v = await ({INBOUND_VIDEO})(); return v.length >= 2 && v.every((x) => x.height >= 300); }}",
    )
    await camera_encodes(ben, {"m"})  # nobody shows Ben big
    # a recording keeps every layer of everyone (Janus records the best that arrives)
    await ana.get_by_test_id("call-record").click()
    await sfu_videochat.wait_log("recording started")
    await camera_encodes(ben, {"h", "m"})


async def test_a_camera_nobody_receives_encodes_nothing(server_factory, new_user, room_name, room_url):
    """Dynacast with --last-n 1: Ana and Ben pin Cho, Cho pins Ana, so nobody receives Ben's camera
    video and his browser encodes none of it (the server's sfu_send with layer -1); Ana then pins
    Ben, and his camera encodes again and reaches her."""
    videochat = server_factory("--sfu-from", "3", "--last-n", "1", env={"VIDEOCHAT_JANUS": "auto"})
    ana, ben, cho = await three_on_the_sfu(new_user, room_url(videochat.url, room_name), receiving=1)

    async def pin(page: Page, name: str, pinned: bool) -> None:
        button = tile_of(page, name).locator("button.tile-pin")
        await button.click()
        await expect(button).to_have_attribute("aria-pressed", str(pinned).lower())

    for page, name in ((ana, "Cho"), (ben, "Cho"), (cho, "Ana")):
        await pin(page, name, True)
    await camera_encodes(ben, set())
    assert not any(layer["active"] for layer in (await ben.evaluate(CAMERA_LAYERS)).values())
    await camera_encodes(ana, {"m"})  # Cho receives her (a small tile: the half size)
    await ana.evaluate(SIZE_TILES, 60)
    await pin(ana, "Cho", False)
    await pin(ana, "Ben", True)
    await camera_encodes(ben, {"m"})
    await wait_for_async(
        ana,
        f"async () => {{ const t = (await ({CAMERA_TILES})())['Ben']; return t && !t.paused && t.frames > 30; }}",
    )


async def test_receivers_flipping_their_layers_cannot_make_cameras_flap(sfu_videochat, new_user, room_name, room_url):
    """Attack: two Python peers (two connections) ask for the smallest and the full layer of every
    camera in turn, as fast as the server takes it, for 6 s. A camera stops a layer only once nobody
    has wanted it for LOWER_AFTER_SECONDS (sfu/calls.py), so its page is not made to restart its
    encoders again and again; and everyone's video goes on."""
    from videochat.peer import Peer

    pages = await three_on_the_sfu(new_user, room_url(sfu_videochat.url, room_name))
    for page in pages:
        await page.evaluate(SIZE_TILES, 60)
    for page in pages:
        await camera_encodes(page, {"m"})
    peers = [Peer(sfu_videochat.url, room_name, name=name, send_video=False) for name in ("Eve", "Mal")]
    try:
        for peer in peers:
            await peer.start()
        for peer in peers:
            for name in ("Ana", "Ben", "Cho"):
                await eventually(
                    lambda p=peer, n=name: (r := p.peer_named(n)) is not None and r.frames["video"] >= 10,
                    timeout=40,
                    what=f"{name}'s video at {peer.name} ({peer.describe()})",
                )
        told_before = sfu_videochat.log.count("camera layers")
        refused = 0

        async def flip(peer: Peer) -> None:
            nonlocal refused
            assert peer._sfu is not None
            mids = [m for m, s in peer._sfu.streams.items() if s["kind"] == "video"]
            deadline = asyncio.get_running_loop().time() + 6
            layer = 0
            while asyncio.get_running_loop().time() < deadline:
                layer = 2 - layer
                reply = await peer.sio.call(
                    "sfu_layers",
                    {"room": room_name, "layers": [{"mid": mid, "substream": layer} for mid in mids]},
                    timeout=10,
                )
                if not reply.get("ok"):
                    refused += 1
                    assert reply["error"]["code"] == "rate_limited", reply

        await asyncio.gather(*(flip(peer) for peer in peers))
        told = sfu_videochat.log.count("camera layers") - told_before
        # three cameras, each at most: its full layer on, and off once (a layer wanted again within
        # 3 s keeps it on; without that wait, 14 changes here)
        assert told <= 3 * 2, f"{told} layer changes told to the cameras in 6 s"
        print(f"\nflipping layers: {told} changes told to 3 cameras, {refused} requests refused as too many")
        for page in pages:
            await wait_on_sfu(page, 2)
    finally:
        for peer in peers:
            await peer.stop()
