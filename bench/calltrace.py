"""Where a join's time goes: the timeline of one call set-up, from every page, on one clock.

    .venv/bin/python bench/calltrace.py URL [--people 2] [--runs 3]

Opens the call like bench/callsetup.py (a newcomer joins a call the others hold) against a running
server, with an init script that timestamps, in every page, the Socket.IO messages sent and received,
each RTCPeerConnection's descriptions, ICE candidates and states, its first tracks, and the first
frame of each remote video. The page's own code is left alone. Prints each run's timeline (ms after
the click; "P<n>" is the n-th page, the last one the newcomer) and the median of the main steps.
It is a diagnostic: it adds a little work to every page, so bench/callsetup.py stays the measure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import uuid
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callsetup import CHROMIUM_FLAGS, HOLD_S, _join, _open, _start_watch, form_call  # noqa: E402

TRACE = r"""
(() => {
    const now = () => performance.timeOrigin + performance.now();  // one clock for every page
    const events = window.__trace = [];
    const mark = (what) => events.push([now(), what]);
    const Native = window.RTCPeerConnection;
    let count = 0;
    window.RTCPeerConnection = class extends Native {
        constructor(...args) {
            super(...args);
            const id = `pc${++count}`;
            this.__id = id;
            mark(`${id} created`);
            this.addEventListener("icecandidate", (e) => mark(`${id} candidate ${e.candidate ? e.candidate.candidate.split(" ").slice(4, 8).join(" ") : "(end)"}`));
            this.addEventListener("iceconnectionstatechange", () => mark(`${id} ice ${this.iceConnectionState}`));
            this.addEventListener("connectionstatechange", () => mark(`${id} connection ${this.connectionState}`));
            this.addEventListener("track", (e) => mark(`${id} track ${e.track.kind}`));
        }
        async setLocalDescription(...args) {
            mark(`${this.__id} setLocalDescription`);
            const result = await super.setLocalDescription(...args);
            mark(`${this.__id} setLocalDescription done (${this.localDescription?.type})`);
            return result;
        }
        async setRemoteDescription(description) {
            mark(`${this.__id} setRemoteDescription (${description?.type})`);
            const result = await super.setRemoteDescription(description);
            mark(`${this.__id} setRemoteDescription done`);
            return result;
        }
    };
    const NativeSocket = window.WebSocket;
    const shown = (data) => typeof data === "string" && data.startsWith("4") ? data.slice(0, 48) : null;
    window.WebSocket = class extends NativeSocket {
        constructor(...args) {
            super(...args);
            this.addEventListener("message", (m) => { const text = shown(m.data); if (text) mark(`received ${text}`); });
        }
        send(data) {
            const text = shown(data);
            if (text) mark(`sent ${text}`);
            return super.send(data);
        }
    };
    const watched = new WeakSet();
    new MutationObserver(() => {
        for (const video of document.querySelectorAll("#tiles .call-tile:not(.mine) video")) {
            if (watched.has(video)) continue;
            watched.add(video);
            const peer = video.closest("[data-peer-id]")?.dataset.peerId?.slice(0, 6);
            video.requestVideoFrameCallback(() => mark(`video from ${peer}: first frame ${video.videoWidth}x${video.videoHeight}`));
        }
    }).observe(document, { childList: true, subtree: true });
})();
"""


def _step(
    timeline: list[tuple[float, int, str]], newcomer: int, whose: str, prefix: str, contains: str = ""
) -> float | None:
    for t, page, what in timeline:
        if (page == newcomer) == (whose == "newcomer") and what.startswith(prefix) and contains in what:
            return t
    return None


async def trace(url: str, people: int, runs: int) -> None:
    steps: dict[str, list[float]] = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS
        )
        for run in range(runs):
            room = f"trace-{uuid.uuid4().hex[:8]}"
            pages = []
            for i in range(people):
                page = await _open(browser, url, room, f"P{i}", init_script=TRACE)
                pages.append(page)
            try:
                await form_call(pages[:-1])
                await asyncio.sleep(HOLD_S)  # as in callsetup.py: the call plays a while before the newcomer comes
                for page in pages:
                    await page.evaluate("() => { window.__trace.length = 0; }")
                for page in pages:
                    await _start_watch(page, people - 1, "all")
                await pages[-1].evaluate(
                    "() => window.__trace.push([performance.timeOrigin + performance.now(), 'click'])"
                )
                await _join(pages[-1])
                for page in pages:
                    await page.evaluate("() => window.__callsetup.all")
                timeline = sorted(
                    (t, i, what)
                    for i, events in enumerate([await page.evaluate("() => window.__trace") for page in pages])
                    for t, what in events
                )
            finally:
                for page in pages:
                    await page.context.close()
            click = next(t for t, _, what in timeline if what == "click")
            print(f"--- run {run + 1}")
            for t, i, what in timeline:
                print(f"{t - click:8.1f} P{i} {what}")
            newcomer = people - 1
            found = {
                "join sent": _step(timeline, newcomer, "newcomer", "sent", '"join_room"'),
                "first offer sent": _step(timeline, newcomer, "others", "sent", '"offer"'),
                "first offer received": _step(timeline, newcomer, "newcomer", "received", '"offer"'),
                "first answer sent": _step(timeline, newcomer, "newcomer", "sent", '"answer"'),
                "newcomer connected": _step(timeline, newcomer, "newcomer", "pc", "connection connected"),
                "newcomer's first frame": _step(timeline, newcomer, "newcomer", "video from"),
            }
            for name, t in found.items():
                if t is not None:
                    steps.setdefault(name, []).append(t - click)
        await browser.close()
    print("--- median ms after the click")
    for name, values in steps.items():
        if values:
            print(f"{statistics.median(values):8.1f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--people", type=int, default=2)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(trace(args.url.rstrip("/"), args.people, args.runs))


if __name__ == "__main__":
    main()
