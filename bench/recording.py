"""Recording measured: what recording costs the server while a call is recorded, and how long its
one file takes to make against the recording's length. aiortc peers (videochat.peer, each sending a
moving test pattern and a tone) in a call on a local Janus, inside a network namespace of its own:
`bash bench/recording` (bash tests/sfu/netns .venv/bin/python bench/recording.py). Prints a
markdown report and writes it to bench/results/recording-<time>.md.

1. CPU, in cores, of videochat and of Janus while a call of `--people` is held for `--window`
   seconds without recording, then while it is recorded (Janus writing every stream to disk).
2. The recording's `--seconds`, its raw size, and the time its file took (janus-pp-rec and ffmpeg:
   recording/process.py), as a share of the recording's length.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).parent))
from callsetup import _tree, stat_cpu_seconds  # noqa: E402

from videochat.peer import Peer  # noqa: E402

from support import SHARED_ADDRESS, Recorder, ServerProcess  # noqa: E402


def cpu_seconds(pids: list[int]) -> float:
    return sum(stat_cpu_seconds(Path(f"/proc/{pid}/stat")) for pid in pids)


async def cores_over(pids: list[int], window: float) -> float:
    before, started = cpu_seconds(pids), time.monotonic()
    await asyncio.sleep(window)  # the window measured
    return (cpu_seconds(pids) - before) / (time.monotonic() - started)


async def main(people: int, seconds: float, window: float) -> str:
    data = Path(tempfile.mkdtemp(prefix="videochat-bench-recording-"))
    server = ServerProcess(data, *SHARED_ADDRESS, "--sfu-from", "2", env={"VIDEOCHAT_JANUS": "auto"}).start()
    owner = await Recorder(server.url).connect()
    peers = [Peer(server.url, "bench", name=f"P{i}") for i in range(people)]
    try:
        assert (await owner.call("enter_room", "bench"))["ok"]
        for peer in peers:
            await peer.start()
        while not all(peer.mode == "sfu" and len(peer.peers) == people - 1 for peer in peers):
            await asyncio.sleep(0.2)  # polling the call's set-up
        await asyncio.sleep(3)  # the media settles
        assert server.process is not None
        videochat = [server.process.pid]
        janus = [pid for pid in _tree(server.process.pid) if pid != server.process.pid]
        idle = {"videochat": await cores_over(videochat, window)}
        idle["janus"] = (await cores_over(janus, window)) if janus else 0.0
        recording = (await owner.call("start_recording", "bench"))["recording"]
        started = time.monotonic()
        recorded = {"videochat": await cores_over(videochat, window)}
        recorded["janus"] = (await cores_over(janus, window)) if janus else 0.0
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - started)))  # the recording's length
        assert (await owner.call("stop_recording", "bench"))["ok"]
        stopped = time.monotonic()
        (ready,) = await owner.wait_for("recording_file", lambda info: info["state"] != "processing", timeout=600)
        processing = time.monotonic() - stopped
        folder = data / "recordings" / recording["id"]
        raw = sum(p.stat().st_size for p in (folder / "raw").glob("*.mjr"))
        output = folder / "recording.mp4"
        size = output.stat().st_size if output.exists() else 0
    finally:
        for peer in peers:
            await peer.stop()
        await owner.disconnect()
        server.stop()
    length = ready.get("duration") or seconds
    return "\n".join(
        [
            f"# Recording: {people} people, {length:.0f} s ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores)",
            "",
            "| | videochat (cores) | Janus (cores) |",
            "|---|---|---|",
            f"| call held, not recorded ({window:.0f} s) | {idle['videochat']:.3f} | {idle['janus']:.3f} |",
            f"| call recorded ({window:.0f} s) | {recorded['videochat']:.3f} | {recorded['janus']:.3f} |",
            "",
            f"- state: {ready['state']}{' (' + ready.get('error', '') + ')' if ready['state'] != 'ready' else ''}",
            f"- raw files: {raw / 1e6:.1f} MB ({raw / 1e6 / length * 60:.1f} MB a minute for {people} people)",
            f"- the file: {size / 1e6:.1f} MB, made in {processing:.1f} s: {processing / length:.2f} of the recording's length",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=60.0, help="the recording's length")
    parser.add_argument("--window", type=float, default=10.0, help="seconds of each CPU measure")
    options = parser.parse_args()
    report = asyncio.run(main(options.people, options.seconds, options.window))
    print(report)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"recording-{time.strftime('%Y%m%d-%H%M%S')}.md").write_text(report + "\n")
