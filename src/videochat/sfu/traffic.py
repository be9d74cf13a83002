"""What each Janus carries for this server: bits per second received from publishers and forwarded
to subscribers, summed over this server's handles on it, read every few seconds from the admin API
(`list_handles`, then `handle_info`: each stream's bytes of the last second).

Only a Janus that videochat runs itself (`--janus auto`) has an admin API videochat knows; the
figures of instances run elsewhere are their operator's (docs/sfu.md, "Janus run elsewhere")."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from videochat.sfu.janus import Janus, JanusError

if TYPE_CHECKING:
    from videochat.sfu.instances import Instance

log = logging.getLogger(__name__)

TRAFFIC_SECONDS = 5.0
MOST_HANDLES = 600  # a poll reads at most this many handles (50 people: ~150)
AT_ONCE = 16  # handle_info requests in flight together


def _rate(figures: object) -> int:
    rate = figures.get("bytes_lastsec") if isinstance(figures, dict) else None
    return rate if isinstance(rate, int) and not isinstance(rate, bool) and rate >= 0 else 0


def stream_rates(answer: dict) -> tuple[int, int]:
    """(bytes received, bytes sent) in the last second by the streams of one `handle_info` answer.
    Janus gives a stream's figures as `in` and `out`; a simulcast sender's layers above the first
    are inside `in`, as `video-simulcast-1` and `video-simulcast-2`."""
    media = ((answer.get("info") or {}).get("webrtc") or {}).get("media")
    received = sent = 0
    for stream in media.values() if isinstance(media, dict) else ():
        stats = stream.get("stats") if isinstance(stream, dict) else None
        if not isinstance(stats, dict):
            continue
        for direction in ("in", "out"):
            figures = stats.get(direction)
            rate = _rate(figures)
            if isinstance(figures, dict):
                rate += sum(_rate(layer) for name, layer in figures.items() if name.startswith("video-simulcast-"))
            if direction == "in":
                received += rate
            else:
                sent += rate
    return received, sent


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


async def measure(admin: Janus, session: int) -> tuple[int, int]:
    """(bits/s received, bits/s forwarded) by the handles of `session`."""
    listed = await admin.admin_request({"janus": "list_handles", "session_id": session})
    handles = [h for h in listed.get("handles") or [] if isinstance(h, int)][:MOST_HANDLES]
    received = sent = 0
    for chunk in _chunks(handles, AT_ONCE):
        answers = await asyncio.gather(
            *(admin.admin_request({"janus": "handle_info", "session_id": session, "handle_id": h}) for h in chunk),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, dict):  # a handle detached meanwhile: an error, skipped
                got, gave = stream_rates(answer)
                received, sent = received + got, sent + gave
    return received * 8, sent * 8


class TrafficWatch:
    """Keeps `received_bps`/`forwarded_bps` of one instance fresh while it carries streams."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self._admin: Janus | None = None

    async def run(self) -> None:
        try:
            while True:
                await self._poll()
                await asyncio.sleep(TRAFFIC_SECONDS)
        finally:
            await self._close()

    async def _poll(self) -> None:
        instance = self.instance
        janus, where = instance.janus, instance.admin()
        if not instance.healthy or janus is None or janus.session is None or where is None:
            instance.received_bps = instance.forwarded_bps = 0
            return
        if not (instance.publishers or instance.subscribers):
            instance.received_bps = instance.forwarded_bps = 0
            return
        url, secret = where
        try:
            if self._admin is None or self._admin.closed.is_set() or self._admin.url != url:
                await self._close()
                self._admin = Janus(url, secret, admin=True)
                await self._admin.connect()
            instance.received_bps, instance.forwarded_bps = await measure(self._admin, janus.session)
        except (OSError, TimeoutError, JanusError) as error:
            log.info("Janus %s's traffic unknown for now: %s", instance.name, error)
            instance.received_bps = instance.forwarded_bps = 0
            await self._close()

    async def _close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
