"""Socket.IO `raise_hand` and `lower_hand`: a call participant asks for the floor; the room sees the
raised hands in the order they went up; its owner may lower anyone's. The hand is part of the
participant's state (model/rooms.py), so it reaches newcomers in the join and entry acks and other
processes in member snapshots (cluster/sync.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from videochat.events.channels import chat_room
from videochat.events.owners import Owners
from videochat.events.realtime import Event, Server, event_handler
from videochat.model.errors import UserError, ok
from videochat.model.rooms import Registry
from videochat.model.validation import Limits

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Hands:
    sio: Server
    registry: Registry
    limits: Limits
    owners: Owners

    def register(self) -> None:
        for event, handler in (("raise_hand", self.raise_hand), ("lower_hand", self.lower_hand)):
            event_handler(self.sio, event)(handler)

    async def raise_hand(self, event: Event, room: Any = None, raised: Any = True, *_: Any) -> dict:
        name = self._call_of(event.sid, room)
        if not isinstance(raised, bool):
            raise UserError("invalid_hand", "raise_hand takes the room and true (raise) or false (lower).")
        before = self.registry.hand(event.sid, name)
        hand = self.registry.set_hand(event.sid, name, raised, time.time())
        if hand != before:
            await self._tell(name, event.sid, hand)
        return ok(room=name, hand=hand)

    async def lower_hand(self, event: Event, room: Any = None, member_id: Any = None, *_: Any) -> dict:
        """The owner lowers someone's hand (their own too)."""
        name = self.limits.room(room)
        if not self.registry.is_member(event.sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}.")
        if self.owners.owner_of(name) != event.sid:
            raise UserError("not_owner", f"Only the owner of room {name!r} may do that.")
        if not isinstance(member_id, str) or not self.registry.in_call(member_id, name):
            raise UserError("unknown_member", f"There is no such participant in the call of room {name!r}.")
        if self.registry.hand(member_id, name) is not None:  # a hand already down: no news
            self.registry.set_hand(member_id, name, False, 0.0)
            await self._tell(name, member_id, None, by=event.sid)
        log.info("lower_hand", extra={"room": name, "sid": event.sid, "target": member_id})
        return ok(room=name, member=member_id)

    def _call_of(self, sid: str, room: Any) -> str:
        name = self.limits.room(room)
        if not self.registry.in_call(sid, name):
            raise UserError("not_in_call", f"You are not in the call of room {name!r}; send join_room first.")
        return name

    async def _tell(self, room: str, member_id: str, hand: float | None, by: str | None = None) -> None:
        """Everyone in the room (the people list shows hands) hears of the change, the hand's owner too
        (its other pages, and an owner's lowering)."""
        info: dict[str, Any] = {"room": room, "id": member_id, "hand": hand}
        if by is not None:
            member = self.registry.member(by)
            info["by"] = member.as_dict() if member is not None else None
        await self.sio.emit("hand", info, room=chat_room(room))
