"""Chat history in Redis, for several processes (--redis): what history.py does in SQLite.

Each room's recent messages are a Redis list (`videochat:history:<room>`, newest last, trimmed to
--history-size). While a room has members its list stays; once it empties the list expires after
--history-retention seconds, unless someone enters again first (Redis does the expiry).

All rooms together are held to --history-max-mb (docs/security.md: many rooms filled at the allowed rate
filled Redis's memory). A message is added by one Lua script (APPEND), atomic among the processes,
which keeps each room's bytes in a hash and the total in a counter; over the bound it deletes, down
to LOW_WATER of it, the lists of the rooms empty the longest (those with the least time to live
left), then the oldest messages of the largest rooms (each keeps its newest up to an equal share).

Writes go through the bus's ordered outbox (bus.py). While Redis is away, newcomers get the
messages this process saw itself.
"""

from __future__ import annotations

import collections
import json
import logging
import math
from collections.abc import Callable

from videochat.storage.base import Message
from videochat.storage.bus import RedisBus

log = logging.getLogger(__name__)

READ_TIMEOUT = 1.0
HISTORY_PREFIX = "videochat:history:"
ROOM_BYTES_KEY = "videochat:history-bytes"  # hash: room -> bytes of its list
TOTAL_BYTES_KEY = "videochat:history-total"
LOW_WATER = 0.9  # as in history.py

# KEYS: the room's list, ROOM_BYTES_KEY, TOTAL_BYTES_KEY. ARGV: room, message, --history-size, the
# bound in bytes, HISTORY_PREFIX, LOW_WATER. A list Redis expired left its bytes in the hash: they
# are taken off when the room is written again, or when the bound is enforced.
APPEND = """
local list, sizes, total_key = KEYS[1], KEYS[2], KEYS[3]
local room, message, keep, bound, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local total = tonumber(redis.call('GET', total_key) or '0')
if redis.call('EXISTS', list) == 0 then
  total = total - tonumber(redis.call('HGET', sizes, room) or '0')
  redis.call('HDEL', sizes, room)
end
local size = tonumber(redis.call('HGET', sizes, room) or '0') + #message
redis.call('RPUSH', list, message)
while redis.call('LLEN', list) > keep do size = size - #redis.call('LPOP', list) end
redis.call('PERSIST', list)
total = total + size - tonumber(redis.call('HGET', sizes, room) or '0')
redis.call('HSET', sizes, room, size)
if total > bound then
  local target = math.floor(bound * tonumber(ARGV[6]))
  local flat, rooms = redis.call('HGETALL', sizes), {}
  for i = 1, #flat, 2 do
    local key, bytes = prefix .. flat[i], tonumber(flat[i + 1])
    local ttl = redis.call('TTL', key)
    if ttl == -2 then
      redis.call('HDEL', sizes, flat[i]); total = total - bytes
    else
      rooms[#rooms + 1] = {name = flat[i], key = key, bytes = bytes, ttl = ttl}
    end
  end
  table.sort(rooms, function(a, b) return a.ttl < b.ttl end)
  local kept = {}
  for _, r in ipairs(rooms) do
    if r.ttl >= 0 and total > target then
      redis.call('DEL', r.key); redis.call('HDEL', sizes, r.name); total = total - r.bytes
    else
      kept[#kept + 1] = r
    end
  end
  if total > target then
    table.sort(kept, function(a, b) return a.bytes < b.bytes end)
    local left, share = target, nil
    for i, r in ipairs(kept) do
      if r.bytes * (#kept - i + 1) > left then share = math.floor(left / (#kept - i + 1)); break end
      left = left - r.bytes
    end
    for _, r in ipairs(kept) do
      if share and r.bytes > share then
        local bytes = r.bytes
        while bytes > share do
          local old = redis.call('LPOP', r.key)
          if not old then break end
          bytes = bytes - #old; total = total - #old
        end
        if bytes > 0 then redis.call('HSET', sizes, r.name, bytes) else redis.call('HDEL', sizes, r.name) end
      end
    end
  end
end
redis.call('SET', total_key, total)
"""


def history_key(room: str) -> str:
    return HISTORY_PREFIX + room


class RedisHistory:
    """The chat history shared by several processes, in Redis (a `base.History`)."""

    def __init__(self, bus: RedisBus, *, size: int, retention: float, max_bytes: int | None = None) -> None:
        self.bus = bus
        self.size = size
        self.max_bytes = max_bytes
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
            log.warning(
                "history unavailable from Redis; giving what this process saw",
                extra={"room": room, "error": error.__class__.__name__},
            )
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
        # the script also PERSISTs the list: a room being talked in is occupied, whatever a copy thought
        bound = self.max_bytes if self.max_bytes is not None else 2**62
        self.bus.command(
            "EVAL",
            APPEND,
            3,
            history_key(room),
            ROOM_BYTES_KEY,
            TOTAL_BYTES_KEY,
            room,
            json.dumps(message, separators=(",", ":")),
            self.size,
            bound,
            HISTORY_PREFIX,
            LOW_WATER,
        )

    def room_occupied(self, room: str) -> None:
        self.bus.command("PERSIST", history_key(room))

    def room_emptied(self, room: str, now: float | None = None) -> None:
        self._seen.pop(room, None)
        self.bus.command("EXPIRE", history_key(room), self.retention)

    async def expire(self, is_occupied: Callable[[str], bool], now: float | None = None) -> list[str]:
        return []  # Redis expires the lists itself
