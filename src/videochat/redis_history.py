"""Chat history in Redis, for several processes (--redis): what history.py does in SQLite.

Each room's recent messages are a Redis list (`videochat:history:<room>`, newest last, trimmed to
--history-size). While a room has members its list stays; once it empties the list expires after
--history-retention seconds, unless someone enters again first (Redis does the expiry).

Writes go through the bus's ordered outbox (bus.py). While Redis is away, newcomers get the
messages this process saw itself.
"""

from __future__ import annotations

import collections
import json
import logging
import math
from typing import Any, Callable

from .bus import Bus

log = logging.getLogger(__name__)

Message = dict[str, Any]
READ_TIMEOUT = 1.0


def history_key(room: str) -> str:
    return f"videochat:history:{room}"


class RedisHistory:
    def __init__(self, bus: Bus, *, size: int, retention: float) -> None:
        self.bus = bus
        self.size = size
        self.retention = max(1, math.ceil(retention))
        self._seen: dict[str, collections.deque[Message]] = {}  # this process's fallback

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        await self.bus.flush()

    async def flush(self) -> None:
        await self.bus.flush()

    async def ping(self) -> None:
        await self.bus.redis.ping()

    async def recent(self, room: str) -> list[Message]:
        if not self.bus.up:  # Redis is away: no waiting for its timeout
            return list(self._seen.get(room, ()))
        try:
            raw = await self.bus.redis.lrange(history_key(room), -self.size, -1)
        except Exception as error:
            log.warning("history unavailable from Redis; giving what this process saw",
                        extra={"room": room, "error": error.__class__.__name__})
            return list(self._seen.get(room, ()))
        return [json.loads(item) for item in raw]

    async def holds(self, room: str) -> bool:
        """Whether any message of `room` is kept; when Redis cannot say, True (a room's policy stays
        rather than let its history out; the next sweep asks again)."""
        if self._seen.get(room) or not self.bus.up:
            return True
        try:
            await self.bus.flush()
            return bool(await self.bus.redis.exists(history_key(room)))
        except Exception:
            return True

    def append(self, message: Message) -> None:
        room = message["room"]
        self._seen.setdefault(room, collections.deque(maxlen=self.size)).append(message)
        key = history_key(room)
        self.bus.command("RPUSH", key, json.dumps(message, separators=(",", ":")))
        self.bus.command("LTRIM", key, -self.size, -1)
        self.bus.command("PERSIST", key)  # a room being talked in is occupied, whatever a copy thought

    def room_occupied(self, room: str) -> None:
        self.bus.command("PERSIST", history_key(room))

    def room_emptied(self, room: str, now: float | None = None) -> None:
        self._seen.pop(room, None)
        self.bus.command("EXPIRE", history_key(room), self.retention)

    async def expire(self, is_occupied: Callable[[str], bool], now: float | None = None) -> list[str]:
        return []  # Redis expires the lists itself
