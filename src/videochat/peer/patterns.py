"""Generated media for the Python peer: a moving test pattern and a steady tone, made with PyAV.

Each track paces itself in real time (like a camera or a microphone), so a peer connection sends
at a natural rate. One track instance feeds one peer connection: a mesh makes one per peer.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
from array import array

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK_RATE = 90_000
AUDIO_RATE = 48_000
AUDIO_FRAME_SAMPLES = 960  # 20 ms, Opus's usual frame
TONE_HZ = 400  # 48000 / 400 = 120 samples a period: every 20 ms frame holds whole periods


class _Paced(MediaStreamTrack):
    """Waits until frame number n is due at `rate` frames a second, counted from the first frame."""

    rate: float = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._started: float | None = None
        self._index = 0

    async def _next_index(self) -> tuple[int, float]:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._started is None:
            self._started = now
        due = self._started + self._index / self.rate
        if due > now:
            await asyncio.sleep(due - now)
        index, self._index = self._index, self._index + 1
        return index, index / self.rate


class PatternVideoTrack(_Paced):
    """A moving gradient with a colour that drifts: easy on the encoder, obviously alive."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        if width % 2 or height % 2:
            raise ValueError("width and height must be even (YUV 4:2:0)")
        self.width, self.height, self.rate = width, height, fps
        ramp = bytes(16 + (x * 219 // max(1, width - 1)) for x in range(width))
        self._luma_ramp = ramp + ramp  # sliced at a moving offset

    async def recv(self) -> av.VideoFrame:
        index, seconds = await self._next_index()
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        shift = (index * 4) % self.width
        luma, blue, red = frame.planes
        row = self._luma_ramp[shift : shift + self.width]
        luma.update(_rows(row, luma.line_size, self.height))
        hue = index * 2 * math.pi / (self.rate * 8)
        for plane, phase in ((blue, 0.0), (red, math.pi / 2)):
            value = int(128 + 60 * math.sin(hue + phase))
            plane.update(_rows(bytes([value]) * (self.width // 2), plane.line_size, self.height // 2))
        frame.pts = int(seconds * VIDEO_CLOCK_RATE)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK_RATE)
        return frame


class ToneAudioTrack(_Paced):
    """A quiet 400 Hz sine, mono 48 kHz, in 20 ms frames."""

    kind = "audio"
    rate = AUDIO_RATE / AUDIO_FRAME_SAMPLES

    def __init__(self, volume: float = 0.2) -> None:
        super().__init__()
        samples = array(
            "h",
            (
                int(volume * 32767 * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE))
                for n in range(AUDIO_FRAME_SAMPLES)
            ),
        )
        self._samples = samples.tobytes()

    async def recv(self) -> av.AudioFrame:
        index, _ = await self._next_index()
        frame = av.AudioFrame(format="s16", layout="mono", samples=AUDIO_FRAME_SAMPLES)
        frame.planes[0].update(self._samples)
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * AUDIO_FRAME_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


def _rows(row: bytes, line_size: int, height: int) -> bytes:
    """A plane of `height` copies of `row`, each padded to the plane's line size."""
    return (row + bytes(line_size - len(row))) * height
