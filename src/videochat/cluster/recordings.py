"""Recordings shared by several processes (--redis; docs/recording.md, "Several processes").

The process that starts a recording is its home (events/recordings.py): the others hear of it, and
of its end, on the Redis channel in order with the events, and tell its home what they record.
An op is `[kind, ...]`, given to `Recordings.elsewhere`:

    ["rec_on", room, the recording (as recording.json has it), its folder]   the home started it
    ["rec_off", room, id]                                                      the home stopped it
    ["rec_stop", room, id, who asked (a member id) or null, reason or null]   please stop it
    ["rec_stream", id, {sid, nickname, source, base, started}]                 a stream recorded here
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from videochat.cluster.procs import deadlines, redis_now
from videochat.storage.bus import RedisBus

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from videochat.events.recordings import Recordings

log = logging.getLogger(__name__)

OPS = ("rec_on", "rec_off", "rec_stop", "rec_stream")


class SharedRecordings:
    def __init__(self, pid: str, bus: RedisBus, redis: Redis, procs: str) -> None:
        self.pid = pid
        self.bus = bus
        self.redis = redis
        self.procs = procs  # the sorted set of processes and their heartbeats' deadlines (sync.py)
        self.recordings: Recordings | None = None

    # events/recordings.py's Shared

    def tell(self, *op: Any) -> None:
        self.bus.send_ops(list(op))

    async def alive(self) -> set[str]:
        now = await redis_now(self.redis)
        return {pid for pid, deadline in (await deadlines(self.redis, self.procs)).items() if deadline > now} | {
            self.pid
        }

    async def homes_alive(self, alive: set[str]) -> None:
        if self.recordings is not None:
            await self.recordings.homes_alive(alive)

    # the others' changes (cluster/sync.py hands them over)

    async def apply(self, op: list) -> None:
        if self.recordings is None:
            return
        started = time.monotonic()
        try:
            await self.recordings.elsewhere(op)
        except (IndexError, KeyError, TypeError, ValueError, AttributeError) as error:
            log.warning("ignored a recording change of another process: %r", error)
        if time.monotonic() - started > 1.0:
            log.warning("a recording change of another process took %.1f s", time.monotonic() - started)
