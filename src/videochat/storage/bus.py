"""The Redis channel several videochat processes talk over (docs/deploy.md, "Several processes on Redis").

It is python-socketio's Redis client manager (emits, disconnects and room changes for sockets held
by other processes travel over the channel as that library does it), with two changes:

- One ordered outbox. Everything this process sends to Redis (the library's messages, our state
  changes, our writes) is queued in order and written by one task, in pipelines. So a member's new
  state always reaches the other processes before an event that follows it (a `welcome`, an offer
  addressed to that member), and a burst of changes costs one round trip.
- Our own messages (`method: "videochat"`) ride on the same channel, so they keep that order on
  the receiving side too, and are handed to `on_ops` instead of the library.

Both are behaviour the cluster needs (sync.py: a state change before the event that depends on it),
not speed: `RedisBus` serves both paths (--fast-path on and off); cluster/sync.py's `FastBus` adds
the fast path's managers under it (rooms indexed per socket, broadcasts framed once). It overrides
two private methods of python-socketio's pub/sub manager (`_publish`, `_listen`; docs/internals.md).
The history in Redis (redis_history.py) writes through its outbox too.

While Redis is unreachable nothing is queued (the state is sent again in full once it is back,
cluster.py) and the library's local delivery keeps working: a process's own clients still hear each
other. Subscribing is retried every second or two, not with the library's back-off of up to a minute.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
from redis import asyncio as aioredis

from videochat.settings import redact_url
from videochat.transport.manager import ConnectedOnly

log = logging.getLogger(__name__)

METHOD = "videochat"
RETRY_SECONDS = (0.2, 0.5, 1.0, 2.0)
OUTBOX_LIMIT = 100_000  # items; past it Redis cannot keep up: drop and send everything again


class RedisBus(socketio.AsyncRedisManager, ConnectedOnly):
    """The library's Redis manager with one ordered outbox and our messages on its channel; each
    process delivers to its own sockets through the library's AsyncManager (the pub/sub manager
    calls `super().emit` for local delivery: next in this order)."""

    name = "videochat-redis"

    def __init__(self, url: str, *, channel: str) -> None:
        super().__init__(
            url,
            channel=channel,
            redis_options={"socket_connect_timeout": 2, "socket_timeout": 5, "health_check_interval": 5},
        )
        self.safe_url = redact_url(url)
        self.redis = aioredis.Redis.from_url(url, **self.redis_options)
        self.connected = True  # the library's own lazy connect is not used: _publish is ours
        # set by the cluster: apply other processes' changes; (re)subscribed; Redis failed
        self.on_ops: Callable[[list], Awaitable[None]] | None = None
        self.on_subscribed: Callable[[], Awaitable[None]] | None = None
        self.on_lost: Callable[[str], None] | None = None
        self.up = False  # writes are queued only while Redis answers
        self.subscribed = False
        self._outbox: collections.deque[tuple[str, Any]] = collections.deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._writer: asyncio.Task | None = None

    # sending

    async def _publish(self, data: dict) -> None:
        """The library's messages (emits, disconnects, room changes of other processes' sockets)."""
        self._put(("publish", data))

    def send_ops(self, *ops: Any) -> None:
        """State changes for the other processes' on_ops, in order with everything else."""
        self._put(("ops", list(ops)))

    def command(self, *args: Any) -> None:
        """A Redis write (HSET, RPUSH, ...), in order with everything else."""
        self._put(("command", args))

    def _put(self, item: tuple[str, Any]) -> None:
        if not self.up:
            return  # Redis is away; the state goes again in full when it is back
        if len(self._outbox) >= OUTBOX_LIMIT:
            self._lost(f"more than {OUTBOX_LIMIT} writes waiting")
            return
        self._outbox.append(item)
        self._idle.clear()
        self._wake.set()

    async def flush(self) -> None:
        """Wait until everything queued so far was written (or dropped because Redis failed)."""
        await self._idle.wait()

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_forever(), name="videochat-redis-writer")

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Task):
            thread.cancel()
            await asyncio.gather(thread, return_exceptions=True)
        await self.redis.aclose()

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                batch = list(self._outbox)
                self._outbox.clear()
                try:
                    await self._write(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    self._lost(f"write failed: {error.__class__.__name__}: {error}")
            self._idle.set()

    async def _write(self, batch: list[tuple[str, Any]]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        ops: list = []
        for kind, item in batch:
            if kind == "ops":
                ops.extend(item)
                continue
            if ops:
                pipe.publish(self.channel, self._ops_message(ops))
                ops = []
            if kind == "publish":
                pipe.publish(self.channel, self.json.dumps(item))
            else:
                pipe.execute_command(*item)
        if ops:
            pipe.publish(self.channel, self._ops_message(ops))
        await pipe.execute()

    def _ops_message(self, ops: list) -> str:
        return json.dumps({"method": METHOD, "host_id": self.host_id, "ops": ops}, separators=(",", ":"))

    def _lost(self, reason: str) -> None:
        self.up = False
        self._outbox.clear()
        if self.on_lost is not None:
            self.on_lost(reason)

    # receiving: the library's _thread iterates this

    async def _listen(self) -> AsyncIterator[Any]:
        channel = self.channel.encode()
        failures = 0
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed = True
                failures = 0
                if self.on_subscribed is not None:
                    await self.on_subscribed()
                async for message in pubsub.listen():
                    if message.get("type") != "message" or message.get("channel") != channel:
                        continue
                    try:
                        data = json.loads(message["data"])
                    except ValueError:
                        log.warning("ignored a message on the Redis channel that is not JSON")
                        continue
                    if isinstance(data, dict) and data.get("method") == METHOD:
                        if data.get("host_id") != self.host_id and self.on_ops is not None:
                            try:
                                await self.on_ops(data.get("ops") or [])
                            except Exception:
                                log.exception("could not apply another process's changes")
                        continue
                    yield data
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.subscribed = False
                self._lost(f"subscription failed: {error.__class__.__name__}: {error}")
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
            finally:
                try:
                    await pubsub.aclose()
                except Exception:
                    pass
