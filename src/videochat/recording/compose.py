"""The one file of a recording, as ffmpeg is asked to make it: every video in a grid, each in its
own cell from the moment its stream began to its end (people who came and went appear and
disappear then), every voice mixed, on a canvas as long as the recording. Pure: the arguments are
built here and run by process.py.

H.264 and AAC in MP4 (with the index at the start, so that playing starts before the download
ends): what every browser and VLC plays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

WIDTH, HEIGHT = 1280, 720
FRAME_RATE = 15


@dataclass(frozen=True)
class Track:
    """One stream made playable (janus-pp-rec): `offset` seconds after the recording began."""

    path: Path
    kind: str  # "audio" or "video"
    offset: float
    # whose it is (a connection's camera, or screen): the videos of one owner share a cell, so that
    # a stream sent again (its camera restarted, the call moved to another Janus) goes on in place
    owner: str = ""
    duration: float | None = None  # seconds, if known (ffprobe): how long its owner's name shows


@dataclass(frozen=True)
class Label:
    """A name written at the foot of its owner's cell while their video is there."""

    owner: str
    textfile: Path  # the name, in a file of its own: drawtext reads it as it is (no escaping)
    font: Path  # a font file that has the name's letters


def grid(count: int) -> list[tuple[int, int, int, int]]:
    """Cells (x, y, width, height) for `count` videos: as square a grid as fits, even sizes."""
    if count <= 0:
        return []
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    width, height = WIDTH // columns // 2 * 2, HEIGHT // rows // 2 * 2
    return [((i % columns) * width, (i // columns) * height, width, height) for i in range(count)]


def ffmpeg_arguments(tracks: list[Track], duration: float, output: Path, labels: Sequence[Label] = ()) -> list[str]:
    """ffmpeg's arguments (without the program) that compose `tracks` into `output`, `duration`
    seconds long, writing its progress to standard output (`-progress pipe:1`), each owner's
    `labels` at the foot of their cell."""
    videos = [t for t in tracks if t.kind == "video"]
    audios = [t for t in tracks if t.kind == "audio"]
    owners = list(dict.fromkeys(t.owner or str(t.path) for t in videos))  # in order of first appearance
    cells = dict(zip(owners, grid(len(owners)), strict=True))
    ordered = videos + audios
    arguments = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    for track in ordered:
        arguments += ["-i", str(track.path)]
    filters = [f"color=c=black:s={WIDTH}x{HEIGHT}:r={FRAME_RATE}:d={duration:.3f}[base]"]
    canvas = "base"
    for index, track in enumerate(videos):
        x, y, width, height = cells[track.owner or str(track.path)]
        filters.append(
            f"[{index}:v]setpts=PTS-STARTPTS+{track.offset:.3f}/TB,"
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2[v{index}]"
        )
        filters.append(f"[{canvas}][v{index}]overlay=x={x}:y={y}:eof_action=pass[c{index}]")
        canvas = f"c{index}"
    for number, label in enumerate(labels):
        owned = [t for t in videos if (t.owner or str(t.path)) == label.owner]
        if not owned:
            continue
        x, y, width, height = cells[label.owner]
        start = min(t.offset for t in owned)
        end = max(t.offset + (t.duration if t.duration is not None else duration) for t in owned)
        size = max(12, height // 14)
        filters.append(
            f"[{canvas}]drawtext=fontfile='{label.font}':textfile='{label.textfile}':expansion=none:"
            f"fontsize={size}:fontcolor=white:box=1:boxcolor=black@0.55:boxborderw={size // 3}:"
            f"x={x + size // 2}:y={y + height - size * 2}:enable='between(t,{start:.3f},{end:.3f})'[n{number}]"
        )
        canvas = f"n{number}"
    mixed = ""
    if audios:
        for index, track in enumerate(audios):
            filters.append(f"[{len(videos) + index}:a]adelay={round(track.offset * 1000)}:all=1[a{index}]")
        inputs = "".join(f"[a{index}]" for index in range(len(audios)))
        filters.append(f"{inputs}amix=inputs={len(audios)}:duration=longest:normalize=0[mix]")
        mixed = "mix"
    arguments += ["-filter_complex", ";".join(filters), "-map", f"[{canvas}]"]
    if mixed:
        arguments += ["-map", f"[{mixed}]", "-c:a", "aac", "-b:a", "96k"]
    arguments += [
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p",
        "-t", f"{duration:.3f}", "-movflags", "+faststart", "-progress", "pipe:1", "-nostats",
        str(output),
    ]  # fmt: skip
    return arguments
