"""Leaving a room's call: by `leave_call` (signaling.py), or by leaving the room (departures.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import socketio

from videochat.events.channels import call_room, chat_room
from videochat.events.sfu import SfuSignaling
from videochat.model.rooms import Registry

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Calls:
    sio: socketio.AsyncServer
    registry: Registry
    sfu: SfuSignaling | None = None

    async def left(self, member: dict, room: str, *, local: bool = False) -> None:
        """`member` (its public fields) is out of the room's call, in the room model already: out of
        the call's Socket.IO room, and the whole room hears `peer_left` (those not in the call keep
        their view of who is, `inCall`). `local`: this process's connections only."""
        await self.sio.leave_room(member["id"], call_room(room))
        if self.sfu is not None:
            await self.sfu.left(room, member["id"])
        await self.sio.emit(
            "peer_left",
            {"room": room, "id": member["id"], "nickname": member["nickname"]},
            room=chat_room(room),
            skip_sid=member["id"],
            ignore_queue=local,
        )
        log.info(
            "leave_call",
            extra={"room": room, "sid": member["id"], "participants": self.registry.count_participants(room)},
        )
