"""The processes that share Redis (--redis), as Redis keeps them: each process's id in one sorted
set, scored by the Redis time its next heartbeat must beat (cluster/sync.py beats and buries;
cluster/recordings.py asks who is alive)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from redis.asyncio import Redis


async def redis_now(redis: Redis) -> float:
    """Redis's clock: the one every process's deadlines are on."""
    seconds, micros = await redis.time()
    return seconds + micros / 1e6


async def deadlines(redis: Redis, procs: str) -> dict[str, float]:
    """Each registered process and the Redis time its next heartbeat must beat."""
    # (member, score) pairs; bytes, as the client does not decode replies (redis-py types any reply)
    rows = cast(list[tuple[bytes, float]], await redis.zrange(procs, 0, -1, withscores=True))
    return {pid.decode(): score for pid, score in rows}
