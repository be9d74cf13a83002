"""The SFU measured beside the mesh, in headless Chromium, in a network namespace of its own (Janus
never uses a loopback interface): `bash tests/sfu/netns .venv/bin/python bench/sfu.py` (bench/sfu
does it). Prints a markdown report and writes it to bench/results/sfu-<time>.md.

1. Join: a newcomer joins a call held by the others; from its click to its first remote frame and to
   every tile playing, for 2, 4 and 8 people: mesh where it fits (--sfu-from 0, --max-call-size 6),
   SFU (--sfu-from 2: every call on Janus). Median of `--repeats`.
2. CPU of a held 4-person call: Chromium (all pages together) and Janus, in cores, mesh and SFU,
   the modes taken in turn `--repeats` times (median). Janus per forwarded video stream and per
   Mbit/s forwarded (what the pages received). With `--fps` the fake cameras run slower: on two
   cores four pages at the default 20 frames a second use every core in both modes, and the
   ratio then says little. With `--baseline DIR` (a checkout of another commit) its SFU runs beside
   ours, on the same pages, for a before/after in one run.
3. The live move: a call of 2 grows to 3 (--sfu-from 3); the longest any of the first two pages
   went without a new frame of the other.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

sys.path.insert(0, str(Path(__file__).parent))
from callcpu import KEEP_CONNECTIONS  # noqa: E402
from callsetup import CHROMIUM_FLAGS, WATCH, _join, _open, _tree, form_call, stat_cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOLD_S = 3.0
# a held call settles before its CPU is measured: the layers nobody receives stop after 3 s
# (sfu/calls.py, LOWER_AFTER_SECONDS)
SETTLE_S = 8.0
GOALS = {"first_frame_ms": 400, "all_tiles_ms": 1000}  # for a newcomer of an 8-person SFU call

INBOUND_BYTES = """async () => {
    let bytes = 0, videos = 0;
    for (const pc of window.__pcs || []) {
        if (pc.connectionState !== "connected") continue;
        (await pc.getStats()).forEach((r) => {
            if (r.type === "inbound-rtp") { bytes += r.bytesReceived || 0; if (r.kind === "video") videos += 1; }
        });
    }
    return {bytes, videos};
}"""
WATCH_GAPS = """() => {
    window.__gap = {max: 0, last: new Map()};
    for (const video of document.querySelectorAll("#tiles .call-tile:not(.mine) video")) {
        const tick = (now) => {
            const last = window.__gap.last.get(video);
            if (last !== undefined) window.__gap.max = Math.max(window.__gap.max, now - last);
            window.__gap.last.set(video, now);
            video.requestVideoFrameCallback(tick);
        };
        video.requestVideoFrameCallback(tick);
    }
}"""


class Server:
    running: list[Server] = []

    def __init__(self, *args: str, source: Path | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-sfu-"))
        env = {**os.environ, "VIDEOCHAT_JANUS": "auto", "PYTHONUNBUFFERED": "1"}
        if source is not None:  # another commit's code (its web pages come with it)
            env["PYTHONPATH"] = str(source / "src")
        self.log = self.folder / "server.log"  # a file: a pipe nobody reads would fill and block the server
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "videochat", "serve", "--port", "0", "--data-dir", str(self.folder), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while "listening on" not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.log.read_text()}")
            time.sleep(0.05)
        self.url = self.log.read_text().split("listening on ")[1].split()[0]
        Server.running.append(self)

    def janus_pid(self) -> int | None:
        for pid in _tree(self.process.pid):
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "janus":
                    return pid
            except OSError:
                pass
        return None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def renderers(pids: list[int]) -> list[int]:
    """The pages' renderer processes: where WebRTC encodes, decodes and the page's script runs
    (the GPU process composites, the audio service plays the sound: the same in both modes)."""
    found = []
    for pid in pids:
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            pass
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += stat_cpu_seconds(Path(f"/proc/{pid}/stat"))
        except OSError:
            pass
    return total


async def pages_for(browser: Browser, url: str, room: str, count: int) -> list[Page]:
    return [await _open(browser, url, room, f"P{i}", init_script=KEEP_CONNECTIONS) for i in range(count)]


async def one_join(browser: Browser, url: str, people: int) -> dict[str, float]:
    """The newcomer's click to its first remote frame and to every tile playing (ms)."""
    room = f"join-{uuid.uuid4().hex[:8]}"
    pages = await pages_for(browser, url, room, people)
    try:
        await asyncio.wait_for(form_call(pages[:-1]), 120)
        await asyncio.sleep(HOLD_S)
        newcomer = pages[-1]
        await newcomer.evaluate(f"(n) => {{ window.__first = ({WATCH})(1); window.__all = ({WATCH})(n); }}", people - 1)
        clicked = await _join(newcomer)
        try:
            first = await asyncio.wait_for(newcomer.evaluate("() => window.__first"), 60) - clicked
            every = await asyncio.wait_for(newcomer.evaluate("() => window.__all"), 60) - clicked
        except TimeoutError:  # reported as such: a machine too busy for this call size
            return {"first_frame_ms": float("nan"), "all_tiles_ms": float("nan")}
        return {"first_frame_ms": first, "all_tiles_ms": every}
    finally:
        for page in pages:
            await page.context.close()


async def held_call_cpu(browser: Browser, server: Server, window: float) -> dict[str, float]:
    room = f"cpu-{uuid.uuid4().hex[:8]}"
    pages = await pages_for(browser, server.url, room, 4)
    try:
        await form_call(pages)
        await asyncio.sleep(SETTLE_S)
        # Chromium: our descendants but the servers and theirs (Janus is the server's child)
        servers = {pid for other in Server.running for pid in _tree(other.process.pid)}
        chromium = [pid for pid in _tree(os.getpid()) if pid != os.getpid() and pid not in servers]
        janus = server.janus_pid()
        pages_only = renderers(chromium)
        received_before = [await page.evaluate(INBOUND_BYTES) for page in pages]
        before = (
            cpu_seconds(chromium),
            cpu_seconds([janus] if janus else []),
            time.monotonic(),
            cpu_seconds(pages_only),
        )
        await asyncio.sleep(window)
        after = (
            cpu_seconds(chromium),
            cpu_seconds([janus] if janus else []),
            time.monotonic(),
            cpu_seconds(pages_only),
        )
        received_after = [await page.evaluate(INBOUND_BYTES) for page in pages]
    finally:
        for page in pages:
            await page.context.close()
    elapsed = after[2] - before[2]
    mbits = sum(a["bytes"] - b["bytes"] for a, b in zip(received_after, received_before, strict=True)) * 8 / 1e6
    return {
        "chromium_cores": (after[0] - before[0]) / elapsed,
        "renderer_cores": (after[3] - before[3]) / elapsed,
        "janus_cores": (after[1] - before[1]) / elapsed,
        "forwarded_mbit_s": mbits / elapsed,
        "videos_received": sum(r["videos"] for r in received_after),
    }


async def move_gap(browser: Browser, url: str) -> float:
    room = f"move-{uuid.uuid4().hex[:8]}"
    pages = await pages_for(browser, url, room, 3)
    try:
        await form_call(pages[:2])
        for page in pages[:2]:
            await page.evaluate(WATCH_GAPS)
        await form_call(pages[2:])  # the third joins: the call moves
        for page in pages:
            await page.wait_for_function(
                "() => window.__pcs.filter((pc) => pc.connectionState === 'connected').length === 2", timeout=60_000
            )
        await asyncio.sleep(1.0)
        return max([await page.evaluate("() => window.__gap.max") for page in pages[:2]])
    finally:
        for page in pages:
            await page.context.close()


async def run(repeats: int, window: float, parts: set[str], fps: int | None, baseline: Path | None) -> str:
    lines = [
        "# The SFU beside the mesh",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, headless Chromium, Janus (local)"
        + (f", fake cameras at {fps} frames a second" if fps else ""),
        "",
    ]
    mesh, sfu, moving = Server("--sfu-from", "0"), Server("--sfu-from", "2"), Server("--sfu-from", "3")
    before = Server("--sfu-from", "2", source=baseline) if baseline else None
    flags = [
        f"--use-fake-device-for-media-stream=fps={fps}" if f == "--use-fake-device-for-media-stream" and fps else f
        for f in CHROMIUM_FLAGS
    ]
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=flags)
            try:
                if "join" in parts:
                    lines += await joins(browser, mesh, sfu, repeats)
                if "cpu" in parts:
                    modes = {"mesh": mesh, "SFU": sfu}
                    if before is not None:
                        modes[f"SFU ({baseline})"] = before
                    lines += await held_cpu(browser, modes, repeats, window)
                if "move" in parts:
                    gap = await move_gap(browser, moving.url)
                    lines += [
                        "## The live move (2 -> 3 people)",
                        "",
                        f"Longest frozen video on the first two pages: **{gap:.0f} ms** (goal: < 1000 ms).",
                        "",
                    ]
            finally:
                await browser.close()
    finally:
        for server in (mesh, sfu, moving, before):
            if server is not None:
                server.stop()
    return "\n".join(lines)


async def joins(browser: Browser, mesh: Server, sfu: Server, repeats: int) -> list[str]:
    lines = [
        f"## A newcomer's join (median of {repeats}, ms)",
        "",
        "| people | mode | first remote frame | every tile playing |",
        "|---|---|---|---|",
    ]
    for people, mode, server in (
        (2, "mesh", mesh),
        (2, "SFU", sfu),
        (4, "mesh", mesh),
        (4, "SFU", sfu),
        (8, "SFU", sfu),
    ):
        runs = [await one_join(browser, server.url, people) for _ in range(repeats)]
        first = statistics.median(r["first_frame_ms"] for r in runs)
        every = statistics.median(r["all_tiles_ms"] for r in runs)
        lines.append(f"| {people} | {mode} | {first:.0f} | {every:.0f} |")
        print(lines[-1], flush=True)
    lines += [
        "",
        f"Goals for a newcomer of an 8-person SFU call: first frame <= {GOALS['first_frame_ms']} ms, every tile <= {GOALS['all_tiles_ms']} ms.",
        "",
    ]
    return lines


async def held_cpu(browser: Browser, modes: dict[str, Server], repeats: int, window: float) -> list[str]:
    runs: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    for _ in range(repeats):  # in turn: a machine that slows down weighs on every mode alike
        for mode, server in modes.items():
            runs[mode].append(await held_call_cpu(browser, server, window))
            print(f"{mode}: {runs[mode][-1]}", flush=True)
    held = {
        mode: {key: statistics.median(r[key] for r in numbers) for key in numbers[0]} for mode, numbers in runs.items()
    }
    lines = [
        f"## A held 4-person call ({window:.0f} s window, median of {repeats})",
        "",
        "| mode | Chromium, 4 pages (cores) | of which the pages' renderers | Janus (cores) | received by the pages (Mbit/s) |",
        "|---|---|---|---|---|",
    ]
    for mode, numbers in held.items():
        lines.append(
            f"| {mode} | {numbers['chromium_cores']:.2f} | {numbers['renderer_cores']:.2f} | {numbers['janus_cores']:.3f} | {numbers['forwarded_mbit_s']:.1f} |"
        )
    streams = 4 * 3  # video streams forwarded: each of 4 to 3
    janus = held["SFU"]["janus_cores"]
    lines.append("")
    for mode in modes:
        if mode != "mesh":
            ratio = held[mode]["chromium_cores"] / max(held["mesh"]["chromium_cores"], 1e-9)
            pages = held[mode]["renderer_cores"] / max(held["mesh"]["renderer_cores"], 1e-9)
            lines.append(
                f"Chromium on the {mode} / in the mesh: **{ratio:.2f}x** (goal: <= 0.6x); "
                f"the pages' renderers alone: **{pages:.2f}x**."
            )
    lines += [
        "",
        f"Janus: {100 * janus / streams:.2f}% of a core per forwarded video stream (audio included), "
        f"{100 * janus / max(held['SFU']['forwarded_mbit_s'], 1e-9):.2f}% per Mbit/s forwarded. "
        "LiveKit's published figure for comparison: 150 publishers x 150 subscribers at 720p simulcast on "
        "one 16-core node at 85% CPU, i.e. about 0.06% of a core per forwarded stream.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0, help="the CPU window")
    parser.add_argument("--parts", default="join,cpu,move", help="which parts to run (join, cpu, move)")
    parser.add_argument("--fps", type=int, help="the fake cameras' frames a second (Chromium's default: 20)")
    parser.add_argument("--baseline", type=Path, help="a checkout whose SFU runs beside ours in the CPU part")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= {"join", "cpu", "move"}:
        sys.exit("--parts: join, cpu and move, separated by commas")
    if args.baseline is not None and not (args.baseline / "src" / "videochat").is_dir():
        sys.exit(f"--baseline: no src/videochat in {args.baseline}")
    if not os.environ.get("VIDEOCHAT_NETNS"):
        sys.exit("run it in its network namespace: bash bench/sfu (Janus never uses a loopback interface)")
    report = asyncio.run(run(args.repeats, args.seconds, parts, args.fps, args.baseline))
    print(report)
    out = ROOT / "bench" / "results" / f"sfu-{time.strftime('%Y%m%d-%H%M%S')}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report + "\n")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
