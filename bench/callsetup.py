"""Call set-up time in headless Chromium: from clicking Join to the first remote frame.

A newcomer joins a call that its other participants already hold (2 people: the second joins the
first; 4 people: the fourth joins three), HOLD_S seconds after the last of them saw the others.
Measured on the machine's one clock (Date.now() in every page): until the newcomer's first remote
video shows a frame, and until every pair plays (each page shows a frame from each of the others).
Median of `repeats`, the slowest run, and how many joins (the holders' own included) stalled: took
more than STALL_MS.

The pages are told of each frame (the video elements' events and requestVideoFrameCallback) rather
than polled: polling four pages every few milliseconds cost CPU the pages were setting up the call
with, and it rounded up. The watches are in place before the click (they used to start after it,
one page after another), and the click's moment is taken before the click's handlers run. A run
during which other processes on the machine used more than `max_other` of a core is repeated (up
to twice) and counted as disturbed if it still was.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from playwright.async_api import Browser, Page, async_playwright

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
TIMEOUT_MS = 60_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
RETRIES = 2  # a run disturbed by other load is repeated this many times at most
# A join whose set-up took longer than this stalled (a connection that never got going waits 15 s
# to be re-created): counted apart, since a median hides a few of them.
STALL_MS = 5000
# What a join should take at most, by call size: the measure and its target in ms (the report states
# them, its plots draw them).
TARGETS_MS = {2: ("first_frame_ms", 250), 4: ("all_pairs_ms", 600)}
# How long the call plays before the newcomer clicks Join. People join seconds apart; a click in the
# instant the call formed would also time the holders' own set-up still under way (bitrate ramp-up,
# the camera's size, what a page prepares for the next newcomer: docs/protocol.md, "Call set-up").
HOLD_S = 3.0

# Resolves with Date.now() once `count` remote videos each show a frame: checked whenever a tile
# comes or goes and whenever a video gets its size or presents a frame.
WATCH = """(count) => new Promise((resolve) => {
    const tiles = document.querySelector("#tiles");
    const watched = new WeakSet();
    let done = false;
    const check = () => {
        if (done) return;
        const videos = [...tiles.querySelectorAll(".call-tile:not(.mine) video")];
        if (videos.length >= count && videos.every((v) => v.videoWidth > 0)) {
            done = true;
            observer.disconnect();
            resolve(Date.now());
            return;
        }
        for (const video of videos) {
            if (watched.has(video)) continue;
            watched.add(video);
            video.addEventListener("loadedmetadata", check);
            video.addEventListener("resize", check);
            const frame = () => { check(); if (!done) video.requestVideoFrameCallback(frame); };
            video.requestVideoFrameCallback(frame);
        }
    };
    const observer = new MutationObserver(check);
    observer.observe(tiles, { childList: true, subtree: true });
    check();
})"""


async def _open(browser: Browser, url: str, room: str, name: str, init_script: str | None = None) -> Page:
    context = await browser.new_context()
    key, value = json.dumps("videochat.nickname"), json.dumps(name)
    await context.add_init_script(f"localStorage.setItem({key}, {value})")
    if init_script:
        await context.add_init_script(init_script)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(f"{url}/r/{quote(room, safe='')}")
    await page.wait_for_selector("#call-join:not([disabled])")
    return page


async def _start_watch(page: Page, count: int, name: str) -> None:
    await page.evaluate(
        f"(count) => {{ window.__callsetup ??= {{}}; window.__callsetup.{name} = ({WATCH})(count); }}", count
    )


async def form_call(pages: list[Page]) -> list[float]:
    """The pages join the call one after another, each once the one before plays every other's
    video; returns once every page plays every other's. Each join's set-up (ms), in order."""
    setups = []
    for index, page in enumerate(pages):
        clicked = await _join(page)
        setups.append(await page.evaluate(WATCH, index) - clicked)  # the call so far plays on this page
    for page in pages:
        await page.evaluate(WATCH, len(pages) - 1)
    return setups


async def _join(page: Page) -> int:
    """Clicks Join in the page itself and returns the moment, by the page's clock: taken before the
    click, whose handlers run inside click() (their time is part of the set-up)."""
    return await page.evaluate(
        "() => { const now = Date.now(); document.querySelector('#call-join').click(); return now; }"
    )


class OtherLoad:
    """CPU used by processes other than ours (this Python, Playwright, Chromium) and the server's."""

    def __init__(self, server_pid: int | None) -> None:
        self.pids = [os.getpid()] + ([server_pid] if server_pid else [])
        self.start = (0.0, 0.0, 0.0)

    def begin(self) -> None:
        self.start = self._now()

    def cores(self) -> float:
        """Cores the others used on average since begin()."""
        wall, busy, ours = self._now()
        elapsed = wall - self.start[0]
        return max(0.0, (busy - self.start[1]) - (ours - self.start[2])) / elapsed if elapsed > 0 else 0.0

    def _now(self) -> tuple[float, float, float]:
        ours = sum(_cpu_seconds(pid) for root in self.pids for pid in _tree(root))
        return time.monotonic(), _machine_busy_seconds(), ours


def _machine_busy_seconds() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / CLOCK_TICKS  # all but idle and iowait


def _cpu_seconds(pid: int) -> float:
    return stat_cpu_seconds(Path(f"/proc/{pid}/stat"))


def stat_cpu_seconds(stat: Path) -> float:
    """User + system CPU seconds in a /proc stat file (a process's or a thread's); 0 if it is gone."""
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _tree(pid: int) -> list[int]:
    """A process and its descendants. Chromium starts its processes from other threads than the
    main one, so every thread's children count."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [child for c in (task / "children").read_text().split() for child in _tree(int(c))]
        except OSError:
            pass
    return found


async def wait_for_quiet(load: OtherLoad, max_other: float, patience: float = 10) -> None:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        load.begin()
        await asyncio.sleep(0.5)  # a measuring window, not a wait for a state
        if load.cores() <= max_other:
            return


async def one_setup(browser: Browser, url: str, participants: int, load: OtherLoad) -> dict[str, float]:
    room = f"bench-{uuid.uuid4().hex[:8]}"
    pages = [await _open(browser, url, room, f"P{i}") for i in range(participants)]
    try:
        holders, newcomer = pages[:-1], pages[-1]
        setups = await form_call(holders)  # the holders' own joins count too: a stall shows wherever it is
        await asyncio.sleep(HOLD_S)  # the call plays a while: a scenario's timing, not a wait for a state
        # Every watch is in place before the click (a watch started late would see frames late).
        await _start_watch(newcomer, 1, "first")
        for page in pages:
            await _start_watch(page, participants - 1, "all")
        clicked = await _join(newcomer)
        first_frame = await newcomer.evaluate("() => window.__callsetup.first")
        all_pairs = max([await page.evaluate("() => window.__callsetup.all") for page in pages])
        # Read before the pages close: a closed renderer's CPU time would count as someone else's.
        return {
            "first_frame_ms": first_frame - clicked,
            "all_pairs_ms": all_pairs - clicked,
            "stalled_joins": sum(ms > STALL_MS for ms in setups + [all_pairs - clicked]),
            "other_cores": round(load.cores(), 3),
        }
    finally:
        for page in pages:
            await page.context.close()


def host_speed_ms() -> float:
    """How long a fixed piece of pure-Python work takes now (the fastest of three), in ms.

    The host is a shared virtual machine whose other tenants' load the "other processes" check
    cannot see: a loop of ten million steps took 0.40 s at some hours of a day and 1.22 s at others,
    and the call set-up, which has no same-run reference, moved with it. This one (three million
    steps) is read before and after each measure, so that two reports' call set-up numbers can be
    compared with their hosts' speeds beside them."""

    def work() -> float:
        start = time.perf_counter()
        total = 0
        for i in range(3_000_000):
            total += i
        return time.perf_counter() - start

    return 1000 * min(work() for _ in range(3))


async def measure(
    url: str,
    participants: int,
    repeats: int,
    chromium: str = "/usr/bin/chromium",
    *,
    server_pid: int | None = None,
    max_other: float = 0.15,
) -> dict:
    load = OtherLoad(server_pid)
    runs: list[dict] = []
    speed_before = host_speed_ms()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            for _ in range(repeats):
                for attempt in range(RETRIES + 1):
                    await wait_for_quiet(load, max_other)
                    load.begin()
                    run = await one_setup(browser, url, participants, load)
                    run["disturbed"] = run["other_cores"] > max_other
                    run["attempts"] = attempt + 1
                    if not run["disturbed"]:
                        break
                runs.append(run)
        finally:
            await browser.close()
    return {
        "participants": participants,
        "repeats": repeats,
        "first_frame_ms": statistics.median(r["first_frame_ms"] for r in runs),
        "all_pairs_ms": statistics.median(r["all_pairs_ms"] for r in runs),
        "slowest_ms": max(r["all_pairs_ms"] for r in runs),
        "joins": (participants - 1) * len(runs),
        "stalled_joins": sum(r["stalled_joins"] for r in runs),
        "disturbed": sum(r["disturbed"] for r in runs),
        "repeated": sum(r["attempts"] - 1 for r in runs),
        "host_speed_ms": [round(speed_before), round(host_speed_ms())],
        "runs": runs,
    }
