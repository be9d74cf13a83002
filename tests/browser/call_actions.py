"""What a user does in a video call, and what a test reads of a page's WebRTC state.

The page's own code is left alone: an init script only keeps a list of the RTCPeerConnections the
page makes (and counts their offers), so that a test can read getStats() and signaling states.
"""

from __future__ import annotations

import uuid
from typing import Any

from actions import enter_room
from playwright.async_api import Page, expect

CALL_TIMEOUT_MS = 45_000  # two cores, several calls at once: first frames can take seconds

# Keeps every RTCPeerConnection the page makes in window.__pcs, counts the offers each one set
# (local or remote), to tell a renegotiation from a replaced track, and keeps the candidates the
# page was sent (__received: their candidate lines).
RECORD_PEER_CONNECTIONS = """
(() => {
    const Native = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = class extends Native {
        constructor(...args) {
            super(...args);
            this.__offers = 0;
            window.__pcs.push(this);
            this.__collisions = 0;
            this.__received = [];
            this.addEventListener("signalingstatechange", () => {
                if (this.signalingState === "have-local-offer" || this.signalingState === "have-remote-offer") this.__offers += 1;
            });
        }
        setRemoteDescription(description) {
            // Our offer was out when theirs came in, and we give way (the polite side's rollback).
            if (description && description.type === "offer" && this.signalingState === "have-local-offer") this.__collisions += 1;
            return super.setRemoteDescription(description);
        }
        addIceCandidate(candidate) {
            if (candidate?.candidate) this.__received.push(candidate.candidate);
            return super.addIceCandidate(candidate);
        }
    };
})();
"""

# The page's connections with its peers: open, and negotiated with someone. A spare connection
# (peers.js: made ahead for the next newcomer) has only its own offer until somebody comes.
LINKS = "window.__pcs.filter((pc) => pc.connectionState !== 'closed' && pc.remoteDescription)"

# For each open, connected peer connection: inbound audio/video bytes and frames.
READ_INBOUND = """
async () => {
    const result = [];
    for (const pc of window.__pcs) {
        if (pc.connectionState !== "connected") continue;
        const entry = {audioBytes: 0, videoBytes: 0, videoFrames: 0, audioSamples: 0};
        const stats = await pc.getStats();
        stats.forEach((report) => {
            if (report.type !== "inbound-rtp") return;
            if (report.kind === "audio") {
                entry.audioBytes += report.bytesReceived || 0;
                entry.audioSamples += report.totalSamplesReceived || 0;
            } else if (report.kind === "video") {
                entry.videoBytes += report.bytesReceived || 0;
                entry.videoFrames += report.framesDecoded || 0;
            }
        });
        result.push(entry);
    }
    return result;
}
"""


async def open_call_page(new_user, nickname: str, **options: Any) -> Page:
    page = await new_user(nickname, **options)
    await page.add_init_script(RECORD_PEER_CONNECTIONS)
    return page


async def enter_and_join_call(page: Page, url: str, nickname: str) -> None:
    """Opens the room, waits for the preview (the camera started), and joins the call."""
    await enter_room(page, url, nickname)
    await join_call(page)


async def join_call(page: Page) -> None:
    """In the room: joins the call from the pre-join view."""
    await expect(page.locator("#prejoin")).to_be_visible()
    await expect(page.locator("#call-join")).to_be_enabled()
    await page.locator("#call-join").click()
    await expect(page.locator("#call")).to_be_visible()
    await expect(page.locator("#tiles .call-tile.mine")).to_have_count(1)


def remote_tiles(page: Page):
    return page.locator("#tiles .call-tile:not(.mine)")


def tile_of(page: Page, name: str):
    return page.locator("#tiles .call-tile:not(.mine)", has=page.locator(".tile-name", has_text=name))


async def wait_remote_videos_play(page: Page, count: int) -> None:
    """`count` remote tiles, each video with a picture (videoWidth > 0) whose time advances."""
    await expect(remote_tiles(page)).to_have_count(count, timeout=CALL_TIMEOUT_MS)
    await page.wait_for_function(
        """(count) => {
            const videos = [...document.querySelectorAll("#tiles .call-tile:not(.mine) video")];
            return videos.length === count && videos.every((v) => v.videoWidth > 0 && v.readyState >= 2);
        }""",
        arg=count,
        timeout=CALL_TIMEOUT_MS,
    )
    times = await page.evaluate(
        "() => [...document.querySelectorAll('#tiles .call-tile:not(.mine) video')].map((v) => v.currentTime)"
    )
    await page.wait_for_function(
        """(before) => {
            const videos = [...document.querySelectorAll("#tiles .call-tile:not(.mine) video")];
            return videos.length === before.length && videos.every((v, i) => v.currentTime > before[i] && !v.paused);
        }""",
        arg=times,
        timeout=CALL_TIMEOUT_MS,
    )


# An async predicate run over and over, one run at a time; the last answer is what is waited on.
_ASYNC_CHECK = """([key, arg]) => {
    const checks = (window.__asyncChecks ??= new Map());
    let check = checks.get(key);
    if (!check) checks.set(key, (check = { busy: false, answer: false, error: null }));
    if (check.error) throw new Error(check.error);
    if (!check.busy) {
        check.busy = true;
        (CHECK)(arg).then((answer) => { check.answer = answer; }, (error) => { check.error = String(error); })
            .finally(() => { check.busy = false; });
    }
    return check.answer;
}"""


async def wait_for_async(
    page: Page, check: str, arg: Any = None, *, timeout: float = CALL_TIMEOUT_MS, polling: float = 250
) -> Any:
    """`page.wait_for_function` for an async `check` (a JS function of `arg` returning a promise).
    Playwright does not await a predicate's promise: a pending promise is truthy, and the wait
    would end at once whatever the check says. Here the check runs again and again in the page, one
    run at a time, and the wait ends on its first truthy answer (returned)."""
    handle = await page.wait_for_function(
        _ASYNC_CHECK.replace("CHECK", check), arg=[uuid.uuid4().hex, arg], timeout=timeout, polling=polling
    )
    return await handle.json_value()


async def wait_media_flows(page: Page, connections: int, *, audio: bool = True, video: bool = True) -> None:
    """Every one of `connections` connected peer connections receives more audio and video than before."""
    await page.wait_for_function(
        "(n) => window.__pcs.filter((pc) => pc.connectionState === 'connected').length === n",
        arg=connections,
        timeout=CALL_TIMEOUT_MS,
    )
    before = await page.evaluate(READ_INBOUND)
    try:
        await _media_flowing(page, before, audio, video)
    except Exception as error:
        who = await page.evaluate(
            "() => [...document.querySelectorAll('#tiles .call-tile .tile-name')].map((n) => n.textContent)"
        )
        raise AssertionError(
            f"media does not flow on every connection of the page with tiles {who}: before {before}, "
            f"now {await page.evaluate(READ_INBOUND)}"
        ) from error


async def _media_flowing(page: Page, before: list, audio: bool, video: bool) -> None:
    await wait_for_async(
        page,
        f"""async ([before, audio, video]) => {{
            const now = await ({READ_INBOUND})();
            return now.length === before.length && now.every((entry, i) =>
                (!audio || (entry.audioBytes > before[i].audioBytes && entry.audioSamples > before[i].audioSamples))
                && (!video || (entry.videoBytes > before[i].videoBytes && entry.videoFrames > before[i].videoFrames)));
        }}""",
        [before, audio, video],
    )


async def wait_sound_received(page: Page, seconds: float) -> None:
    """`seconds` more of sound reach the page, summed over its connected peer connections (at
    48 kHz): a clock made of media, for a test that needs a call to have gone on for a while."""
    before = sum(entry["audioSamples"] for entry in await page.evaluate(READ_INBOUND))
    await wait_for_async(
        page,
        f"""async (target) => (await ({READ_INBOUND})()).reduce((sum, e) => sum + e.audioSamples, 0) >= target""",
        before + int(seconds * 48_000),
    )


async def offers_so_far(page: Page) -> list[int]:
    return await page.evaluate(f"() => {LINKS}.map((pc) => pc.__offers)")


async def sender_track(page: Page, kind: str) -> list[dict]:
    """What the sender of `kind` of each connection with a peer sends: null, or {enabled, label, readyState}."""
    return await page.evaluate(
        f"""(kind) => {LINKS}.map((pc) => {{
            const t = pc.getTransceivers().find((t) => t.receiver.track.kind === kind);
            const track = t && t.sender.track;
            return track ? {{enabled: track.enabled, label: track.label, readyState: track.readyState}} : null;
        }})""",
        kind,
    )


async def wait_spare_connection(page: Page) -> int:
    """The index in window.__pcs of the page's spare connection, once it has one: its offer set and
    its candidates gathered, negotiated with nobody yet."""
    found = await page.wait_for_function(
        """() => 1 + window.__pcs.findIndex((pc) => pc.connectionState === "new" && !pc.remoteDescription
            && pc.signalingState === "have-local-offer" && pc.iceGatheringState === "complete")""",
        timeout=CALL_TIMEOUT_MS,
    )
    return await found.json_value() - 1


async def wait_answering_connections(page: Page) -> list[int]:
    """The indices in window.__pcs of the connections the page made ahead (peers.js, in the pre-join
    view) to answer the offers of a join with: bare ones, no description, once there are some."""
    found = await page.wait_for_function(
        """() => {
            const bare = window.__pcs.flatMap((pc, i) => pc.signalingState === "stable" && !pc.localDescription
                && !pc.remoteDescription && pc.connectionState === "new" ? [i] : []);
            return bare.length > 0 && bare;
        }""",
        timeout=CALL_TIMEOUT_MS,
    )
    return await found.json_value()


async def selected_candidate_types(page: Page) -> list[str]:
    """For each connected peer connection, the local candidate type of the pair in use."""
    return await page.evaluate("""async () => {
        const types = [];
        for (const pc of window.__pcs.filter((pc) => pc.connectionState === "connected")) {
            const stats = await pc.getStats();
            let pair = null;
            stats.forEach((r) => { if (r.type === "transport" && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); });
            types.push(pair ? stats.get(pair.localCandidateId).candidateType : "none");
        }
        return types;
    }""")
