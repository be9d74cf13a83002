"""Where a call's CPU goes: the cores Chromium uses for a call of n people held idle.

    .venv/bin/python bench/callcpu.py URL [--people 3] [--seconds 6]

Opens the call like bench/callsetup.py (every page joins, each sees the others), lets it play, then
reads for `seconds` the CPU time of every Chromium process and thread (/proc) and, from getStats(),
the time the pages' video encoders and decoders took per frame. Prints the cores used by process
type (each renderer is a page), the busiest threads, and the codecs at work. It explains
bench/callsetup.py's numbers: a join gets the CPU that the call already held leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import time
import uuid
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))
from callsetup import CHROMIUM_FLAGS, HOLD_S, _open, _tree, form_call, stat_cpu_seconds  # noqa: E402

# Keeps the page's RTCPeerConnections, so that their statistics can be read.
KEEP_CONNECTIONS = """(() => {
    const Native = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = class extends Native {
        constructor(...args) { super(...args); window.__pcs.push(this); }
    };
})();"""

# Video encoding and decoding so far on the page's connected connections: seconds, frames, codecs.
CODEC_WORK = """async () => {
    const work = { encodeS: 0, encoded: 0, decodeS: 0, decoded: 0, codecs: [] };
    for (const pc of window.__pcs.filter((pc) => pc.connectionState === "connected")) {
        const stats = await pc.getStats();
        stats.forEach((r) => {
            if (r.kind !== "video") return;
            const codec = stats.get(r.codecId)?.mimeType ?? "?";
            if (r.type === "outbound-rtp") {
                work.encodeS += r.totalEncodeTime ?? 0;
                work.encoded += r.framesEncoded ?? 0;
                work.codecs.push(`${codec} encoder ${r.encoderImplementation}`);
            } else if (r.type === "inbound-rtp") {
                work.decodeS += r.totalDecodeTime ?? 0;
                work.decoded += r.framesDecoded ?? 0;
                work.codecs.push(`${codec} decoder ${r.decoderImplementation}`);
            }
        });
    }
    return work;
}"""


def _threads(root: int) -> dict[tuple[str, str], float]:
    """CPU seconds so far of every thread under `root`, keyed by (process type, thread name)."""
    seconds: dict[tuple[str, str], float] = collections.defaultdict(float)
    for pid in _tree(root):
        try:
            # Chromium rewrites its command line with spaces for separators.
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        kind = command.split("--type=", 1)[1].split()[0] if "--type=" in command else "browser"
        if "--utility-sub-type=" in command:
            kind = command.split("--utility-sub-type=", 1)[1].split()[0].rsplit(".", 1)[-1]
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                name = (task / "comm").read_text().strip()
            except OSError:
                continue
            seconds[(kind, name)] += stat_cpu_seconds(task / "stat")
    return seconds


async def measure(url: str, people: int, window: float) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_FLAGS
        )
        try:
            room = f"cpu-{uuid.uuid4().hex[:8]}"
            pages = [await _open(browser, url, room, f"P{i}", init_script=KEEP_CONNECTIONS) for i in range(people)]
            await form_call(pages)
            await asyncio.sleep(HOLD_S)  # the call settles (bitrates, camera sizes) before the reading
            codecs_before = [await page.evaluate(CODEC_WORK) for page in pages]
            before, start = _threads(os.getpid()), time.monotonic()
            await asyncio.sleep(window)  # the measuring window
            after, elapsed = _threads(os.getpid()), time.monotonic() - start
            codecs_after = [await page.evaluate(CODEC_WORK) for page in pages]
        finally:
            await browser.close()
    used = {key: (after[key] - before.get(key, 0.0)) / elapsed for key in after}
    by_kind: collections.Counter[str] = collections.Counter()
    for (kind, _), cores in used.items():
        by_kind[kind] += cores
    print(f"A call of {people} held idle, {elapsed:.1f} s: Chromium used {sum(used.values()):.2f} cores")
    for kind, cores in by_kind.most_common():
        if cores >= 0.005:
            print(f"  {cores:5.2f}  {kind}" + (f" ({people} pages)" if kind == "renderer" else ""))
    by_thread: collections.Counter[str] = collections.Counter()
    for (kind, name), cores in used.items():
        by_thread[f"{kind} / {name}"] += cores
    print("busiest threads (summed over the pages):")
    for name, cores in by_thread.most_common(10):
        print(f"  {cores:5.3f}  {name}")
    encode = sum(a["encodeS"] - b["encodeS"] for a, b in zip(codecs_after, codecs_before, strict=True))
    encoded = sum(a["encoded"] - b["encoded"] for a, b in zip(codecs_after, codecs_before, strict=True))
    decode = sum(a["decodeS"] - b["decodeS"] for a, b in zip(codecs_after, codecs_before, strict=True))
    decoded = sum(a["decoded"] - b["decoded"] for a, b in zip(codecs_after, codecs_before, strict=True))
    print(
        f"video: {encoded / elapsed:.0f} frames/s encoded, {1000 * encode / max(encoded, 1):.1f} ms each "
        f"(wall time, waits included); {decoded / elapsed:.0f} decoded, {1000 * decode / max(decoded, 1):.1f} ms each"
    )
    print("codecs:", ", ".join(sorted(set(c for work in codecs_after for c in work["codecs"]))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--people", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    asyncio.run(measure(args.url.rstrip("/"), args.people, args.seconds))


if __name__ == "__main__":
    main()
