"""Making a recording's one playable file from Janus's files of each stream, off the event loop (the
programs run as child processes; this only waits for them and reads their progress).

    raw/*.mjr  --janus-pp-rec-->  tracks/*.opus, tracks/*.webm  (each stream, playable; kept for
                                  anyone who wants to edit)
    tracks/*   --ffmpeg-->        recording.mp4 (compose.py: the grid, the mix)

Each stream's place in time is its .mjr header's creation time (`janus-pp-rec -j`, microseconds of
the clock of the machine Janus runs on) against the recording's start. The raw files are never
changed: a processing that fails can be run again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from videochat.recording.compose import Label, Track, ffmpeg_arguments

log = logging.getLogger(__name__)

PP_REC = "janus-pp-rec"  # Debian's janus-tools
FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"
# names are written with DejaVu Sans (Debian's fonts-dejavu-core: Latin, Greek, Cyrillic, ...),
# those with Korean, Chinese or Japanese letters with WenQuanYi Micro Hei (fonts-wqy-microhei: those
# and Latin too); a name whose font is missing is not written
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
CJK_RANGES = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x2E80, 0x9FFF),  # CJK radicals and symbols, kana, Hangul compatibility Jamo, CJK ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended-A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended-B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # half- and full-width forms
    (0x20000, 0x3FFFF),  # CJK ideographs, extensions B and beyond
)
LONGEST_LABEL = 64  # characters of a name on a tile
OUTPUT = "recording.mp4"
TRACKS = "tracks"
LABELS = "labels"  # the names on the tiles, a file each
TRACK_SHARE = 0.3  # of the progress: making the tracks; the rest is ffmpeg's
ERROR_TAIL = 600  # characters of a program's error output kept for the log
STEP_SECONDS = 600.0  # janus-pp-rec or ffprobe on one stream: longer is a program that hangs
COMPOSE_SECONDS_PER_SECOND = 10.0  # ffmpeg may take ten times the recording's length (and 10 minutes more)


class ProcessingFailed(Exception):
    """Why a recording could not be made into its file (said to its owner; the details are logged)."""


def available() -> bool:
    return shutil.which(PP_REC) is not None and shutil.which(FFMPEG) is not None


async def process(
    folder: Path,
    started: float,
    stopped: float,
    progress: Callable[[float], None],
    owners: dict[str, str] | None = None,
    names: dict[str, str] | None = None,
) -> Path:
    """Make `folder`'s recording.mp4 (the recording ran from `started` to `stopped`, Unix time).
    `owners`: whose each stream is, by its files' base name ("0001-camera"): their videos share a
    cell; `names`: what to write on each owner's cell."""
    if not available():
        raise ProcessingFailed("The server cannot process recordings: janus-tools and ffmpeg are not installed.")
    tracks_folder = folder / TRACKS
    await asyncio.to_thread(tracks_folder.mkdir, mode=0o700, exist_ok=True)
    raw = sorted((folder / "raw").glob("*.mjr"))
    tracks: list[Track] = []
    for number, mjr in enumerate(raw, 1):
        track = await _track(mjr, tracks_folder, started)
        if track is not None:
            base = "-".join(mjr.stem.split("-")[:2])
            tracks.append(Track(track.path, track.kind, track.offset, (owners or {}).get(base, base)))
        progress(TRACK_SHARE * number / len(raw))
    if not tracks:
        raise ProcessingFailed("Nothing was recorded: nobody sent sound or video while the call was recorded.")
    duration = max(1.0, stopped - started)
    labels = await asyncio.to_thread(_labels, folder / LABELS, names or {})
    partial = folder / f".part-{OUTPUT}"
    await _compose(tracks, duration, partial, progress, labels)
    output = folder / OUTPUT
    partial.replace(output)
    progress(1.0)
    return output


async def _track(mjr: Path, folder: Path, started: float) -> Track | None:
    """One stream made playable, or None if it holds nothing (a stream that never sent a packet)."""
    try:
        code, out, err = await _run(PP_REC, "-j", str(mjr))
    except TimeoutError:
        log.warning("reading a recorded stream's header took too long", extra={"file": mjr.name})
        return None
    header = next((line for line in reversed(out.splitlines()) if line.startswith("{")), "")
    try:
        info = json.loads(header)
        kind = {"a": "audio", "v": "video"}[info["t"]]
        began = int(info["s"]) / 1_000_000
    except (ValueError, KeyError, TypeError):
        log.warning("a recorded stream has no header", extra={"file": mjr.name, "reason": err[-ERROR_TAIL:]})
        return None
    target = folder / f"{mjr.stem}.{'opus' if kind == 'audio' else 'webm'}"
    try:
        code, _, err = await _run(PP_REC, str(mjr), str(target))
    except TimeoutError:
        code, err = 1, "timed out"
    if code != 0 or not target.exists() or target.stat().st_size == 0:
        log.warning("a recorded stream could not be converted", extra={"file": mjr.name, "reason": err[-ERROR_TAIL:]})
        target.unlink(missing_ok=True)
        return None
    try:
        code, out, _ = await _run(
            FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(target)
        )
    except TimeoutError:
        out = ""
    try:
        length: float | None = float(out.strip())
    except ValueError:
        length = None
    return Track(target, kind, max(0.0, began - started), duration=length)


def font_for(text: str) -> Path | None:
    """The font that has `text`'s letters (CJK_FONT for Korean, Chinese, Japanese), if installed."""
    wide = any(low <= ord(letter) <= high for letter in text for low, high in CJK_RANGES)
    font = CJK_FONT if wide else FONT
    return font if font.is_file() else None


def _labels(folder: Path, names: dict[str, str]) -> list[Label]:
    """A file with each owner's name (drawtext reads it verbatim: no escaping of what people typed)."""
    folder.mkdir(mode=0o700, exist_ok=True)
    labels = []
    for number, (owner, name) in enumerate(names.items()):
        text = " ".join(name.split())[:LONGEST_LABEL]  # one line
        font = font_for(text)
        if not text or font is None:
            continue
        path = folder / f"label-{number}.txt"
        path.write_text(text, encoding="utf-8")
        labels.append(Label(owner, path, font))
    return labels


async def _compose(
    tracks: list[Track], duration: float, output: Path, progress: Callable[[float], None], labels: list[Label]
) -> None:
    process = await asyncio.create_subprocess_exec(
        FFMPEG,
        *ffmpeg_arguments(tracks, duration, output, labels),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    errors = asyncio.create_task(process.stderr.read())
    try:
        async with asyncio.timeout(STEP_SECONDS + COMPOSE_SECONDS_PER_SECOND * duration):
            async for line in process.stdout:
                name, _, value = line.decode("ascii", "replace").strip().partition("=")
                if name == "out_time_us" and value.isdigit():
                    done = min(1.0, int(value) / 1_000_000 / duration)
                    progress(TRACK_SHARE + (1 - TRACK_SHARE) * done)
            code = await process.wait()
    except BaseException as error:
        if process.returncode is None:
            process.kill()
            await process.wait()
        errors.cancel()
        await asyncio.gather(errors, return_exceptions=True)
        output.unlink(missing_ok=True)
        if isinstance(error, TimeoutError):
            raise ProcessingFailed("Making the video file took far too long; its raw files are kept.") from None
        raise
    err = (await errors).decode("utf-8", "replace")
    if code != 0:
        output.unlink(missing_ok=True)
        log.warning("ffmpeg failed on a recording", extra={"code": code, "reason": err[-ERROR_TAIL:]})
        raise ProcessingFailed("The recording could not be made into a video file; its raw files are kept.")


async def _run(*command: str, timeout: float = STEP_SECONDS) -> tuple[int, str, str]:
    """Run a program to its end (killed if it takes longer than `timeout`, or if we are cancelled)."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return process.returncode or 0, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
