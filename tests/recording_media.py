"""What a recording's files hold, read with ffprobe and ffmpeg (the recording tests)."""

from __future__ import annotations

import json
import subprocess


def raw_files(folder) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in folder.glob("*.mjr")} if folder.exists() else {}


def probe(path) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type,width,height", "-of", "json",
         str(path)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return json.loads(out)


def mean_volume(path) -> float:
    err = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr  # fmt: skip
    line = next(line for line in err.splitlines() if "mean_volume" in line)
    return float(line.split("mean_volume:")[1].split("dB")[0])


FRAME_WIDTH, FRAME_HEIGHT = 64, 36  # a frame shrunk to this for brightness measures


def gray_frame(path, at: float) -> bytes:
    """The frame at `at` seconds, FRAME_WIDTH x FRAME_HEIGHT, one byte of brightness a pixel."""
    raw = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-ss", f"{at}", "-i", str(path), "-frames:v", "1",
         "-vf", f"scale={FRAME_WIDTH}:{FRAME_HEIGHT}", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert len(raw) == FRAME_WIDTH * FRAME_HEIGHT, len(raw)
    return raw


def brightness(raw: bytes, rows: range, columns: range) -> float:
    values = [raw[y * FRAME_WIDTH + x] for y in rows for x in columns]
    return sum(values) / len(values)


def cell_brightness(path, at: float) -> list[float]:
    """The mean brightness (0-255) of each cell of the 2x2 grid in the frame at `at` seconds."""
    raw, width, height = gray_frame(path, at), FRAME_WIDTH, FRAME_HEIGHT
    return [
        brightness(
            raw,
            range(row * height // 2 + 2, (row + 1) * height // 2 - 2),
            range(column * width // 2 + 2, (column + 1) * width // 2 - 2),
        )
        for row in range(2)
        for column in range(2)
    ]
