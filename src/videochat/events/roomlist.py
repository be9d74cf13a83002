"""`room_change`: the seed's room list, sent to every connection when rooms change, merged when
changes come fast.

In the seed every join and leave sends the whole list to everyone: with 500 people connected a
join costs 1,000 frames, and busy servers spend their time on lists nobody reads. Here a change is
sent at once while changes are rare (a bucket of `2 × rate` sends refilled at `rate` a second); when
they come faster, the changes in between are merged and the newest list goes out as soon as the
bucket allows. Seed clients still receive `room_change` with the current list after every change
(possibly one list for several changes). Each process sends to its own connections only: with Redis
every process holds the whole room model and sends its own list (cluster.py).
"""

from __future__ import annotations

import asyncio
import logging

import socketio

from videochat.model.access import Access
from videochat.model.rooms import Registry

log = logging.getLogger(__name__)


class RoomList:
    def __init__(
        self, sio: socketio.AsyncServer, registry: Registry, access: Access, *, size: int, rate: float
    ) -> None:
        self.sio = sio
        self.registry = registry
        self.access = access
        self.size = size
        self.rate = rate
        self.burst = max(1.0, 2 * rate)
        self._tokens = self.burst
        self._updated: float | None = None
        self._later: asyncio.Task | None = None

    def public(self) -> list[dict[str, object]]:
        """The room list anyone may see (room_change, list_rooms, /api/rooms, the home page): the
        --room-list-size busiest public rooms, busiest first (rooms.Registry.busiest_rooms).
        Private rooms are reached by link only. Bounded, because every connection receives it."""
        busiest = self.registry.busiest_rooms(self.size, lambda room: not self.access.is_private(room))
        return [
            {**summary, "locked": self.access.policy(str(summary["name"])).password_hash is not None}
            for summary in busiest
        ]

    async def changed(self, *, after: float = 0.0) -> None:
        """The list changed: send it now if the rate allows, else once it does; `after` seconds at
        the earliest (a change heard from another process: the events that come with it, such as
        `bye`, go first, as they do on the process where it happened)."""
        if self._later is not None:
            return  # a send is already due; it will carry the newest list
        loop = asyncio.get_running_loop()
        self._refill(loop.time())
        if self._tokens >= 1 and after <= 0:
            self._tokens -= 1
            await self._send()
        else:
            delay = max(after, (1 - self._tokens) / self.rate)
            self._later = loop.create_task(self._send_later(delay), name="videochat-room-change")

    async def _send_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._later is asyncio.current_task():
            self._later = None  # from here on, a change schedules the next send
        self._refill(asyncio.get_running_loop().time())
        self._tokens = max(0.0, self._tokens - 1)
        try:
            await self._send()
        except Exception:
            log.exception("could not send room_change")

    def _refill(self, now: float) -> None:
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    async def _send(self) -> None:
        rooms = self.public()
        await self.sio.emit("room_change", ([room["name"] for room in rooms], rooms), ignore_queue=True)

    def close(self) -> None:
        if self._later is not None:
            self._later.cancel()
