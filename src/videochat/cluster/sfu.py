"""Calls on the SFU shared by several processes (--redis; docs/sfu.md, "Several processes").

Where each call lives (its Janus instance, room number, pin and secret) is one Redis hash field
that a process sets only if it is unset (or still names the placement it replaces, whose Janus
died), so two processes that move a call at the same moment agree on one:

    videochat:sfu-calls      hash: room -> {instance, number, pin, secret} (JSON)

Every other change goes over the Redis channel in order with the Socket.IO events (an op is
`[kind, room, ...]`, given to events/sfu.py's `SfuSignaling.elsewhere`): a call placed
(`sfu_call`), off the SFU (`sfu_off`), the feeds a process's people publish (`sfu_feeds`) and the
camera layers they need of the others' people (`sfu_needs`, both with the process's id in front),
and a newcomer's question for them (`sfu_ask`).

The pins and secrets stay between the processes and Redis, like the room policies and the
history: never on the wire to a browser.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from videochat.storage.bus import RedisBus

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from videochat.events.sfu import SfuSignaling

log = logging.getLogger(__name__)

PLACEMENTS = "videochat:sfu-calls"
OPS = ("sfu_call", "sfu_off", "sfu_feeds", "sfu_needs", "sfu_ask")
MINE = ("sfu_feeds", "sfu_needs")  # ops that carry the telling process's id

# KEYS[1] the hash; ARGV: room, the new placement, the placement it may replace ("" for none)
CLAIM = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current and current ~= ARGV[3] then return current end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return ARGV[2]
"""
# KEYS[1] the hash; ARGV: room, the placement to free
RELEASE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""


def _text(placement: dict) -> str:
    """A placement as stored: one spelling for one placement (the scripts compare texts)."""
    return json.dumps(placement, sort_keys=True, separators=(",", ":"))


class SharedSfu:
    def __init__(self, pid: str, bus: RedisBus, redis: Redis) -> None:
        self.pid = pid
        self.bus = bus
        self.redis = redis
        self.sfu: SfuSignaling | None = None

    # events/sfu.py's Shared

    async def claim(self, room: str, placement: dict, replacing: dict | None = None) -> dict:
        await self.bus.flush()  # what this process told before goes first
        won = await self.redis.eval(CLAIM, 1, PLACEMENTS, room, _text(placement), _text(replacing) if replacing else "")
        chosen: dict = json.loads(won)
        return chosen

    async def release(self, room: str, placement: dict) -> None:
        await self.redis.eval(RELEASE, 1, PLACEMENTS, room, _text(placement))

    def tell(self, *op: Any) -> None:
        if op[0] in MINE:
            op = (op[0], self.pid, *op[1:])
        self.bus.send_ops(list(op))

    # the others' changes (cluster/sync.py hands them over)

    def apply(self, op: list) -> None:
        if self.sfu is None:
            return
        try:
            if op[0] in MINE:
                self.sfu.elsewhere(str(op[1]), [op[0], *op[2:]])
            else:
                self.sfu.elsewhere("", op)
        except (IndexError, KeyError, TypeError, ValueError, AttributeError) as error:
            log.warning("ignored an SFU change of another process: %r", error)

    async def read(self) -> None:
        """(Re)joining the others: the calls in progress on the SFU, as Redis has them."""
        if self.sfu is None:
            return
        for room, raw in (await self.redis.hgetall(PLACEMENTS)).items():
            try:
                placement = json.loads(raw)
                self.sfu.placed(room.decode() if isinstance(room, bytes) else room, placement)
            except (KeyError, TypeError, ValueError) as error:
                log.warning("ignored a call placement in Redis: %r", error)

    async def emptied(self, room: str) -> None:
        if self.sfu is not None:
            await self.sfu.call_emptied(room)
