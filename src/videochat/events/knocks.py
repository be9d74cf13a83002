"""The waiting room: a room whose owner turned on "ask to join" (`room_settings` `knock`) lets
newcomers in one by one (docs/protocol.md, "The waiting room").

A newcomer's `enter_room` (or `join_room`) that passes every other check of the door knocks
instead: it is refused with `waiting`, and the room's owner gets `knock` with everyone waiting. The
owner answers with `knock_answer`; the newcomer gets `admitted` (its next entry passes) or
`declined`. The knock is the member's state in the room model (rooms.Registry), so several
processes share it (cluster/sync.py); a knocker that leaves (`leave_room` of that room) or
disconnects gives up. The owner, back on a new connection, never knocks.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from videochat.events.owners import Owners
from videochat.events.realtime import Event, Server, event_handler
from videochat.model.access import Access
from videochat.model.errors import UserError, ok
from videochat.model.rooms import Registry
from videochat.model.validation import Limits

log = logging.getLogger(__name__)

MAX_WAITING = 50  # people waiting at one room's door at once: the owner's list stays readable
EVERYONE = "*"  # knock_answer's member id for everyone waiting


@dataclass(eq=False, repr=False)
class WaitingRoom:
    sio: Server
    registry: Registry
    limits: Limits
    access: Access
    owners: Owners
    max_knocks_per_connection: int = 10  # rooms one connection may wait at at once

    def register(self) -> None:
        event_handler(self.sio, "knock_answer")(self.knock_answer)

    async def door(self, sid: str, room: str) -> None:
        """Called once every other check of the door passed: raise `waiting` unless the room lets
        anyone in, `sid` is its owner (by its lasting key) or was let in."""
        if not self.access.policy(room).knock or self.registry.count_members(room) == 0:
            return  # (an empty room: nobody could answer; its first member enters and owns it)
        key = self.owners.lasting_key(sid)
        if self.access.is_owner_key(room, key) or self.access.was_let_in(room, key):
            return
        if self.registry.is_admitted(sid, room):
            if key is not None:
                self.access.let_in(room, [key])
            return
        member = self.registry.member(sid)
        assert member is not None, sid
        if room not in member.knocks:
            if len(member.knocks) >= self.max_knocks_per_connection:
                raise UserError("too_many_rooms", "You are waiting at as many rooms as one connection may.")
            if self.registry.count_waiting(room) >= MAX_WAITING:
                raise UserError("too_many_waiting", f"Too many people are waiting to enter {room!r}; try later.")
            self.registry.knock(sid, room, time.time())
            await self.owners.tell_waiting(room, local=True)
            log.info("knock", extra={"room": room, "sid": sid})
        raise UserError("waiting", f"Room {room!r} asks people to wait until its owner lets them in.")

    async def give_up(self, sid: str, room: str) -> bool:
        """The member no longer waits to enter `room` (leave_room); False if it was not waiting."""
        if not self.registry.end_knock(sid, room, admit=False):
            return False
        await self.owners.tell_waiting(room, local=True)
        return True

    def let_in_members(self, room: str) -> None:
        """The room starts asking people to wait: those in it now are let in (a reload, a reconnect)."""
        keys = [self.owners.lasting_key(member.id) for member in self.registry.members(room)]
        self.access.let_in(room, [key for key in keys if key is not None])

    async def answer(self, room: str, ids: list[str], admit: bool, by: dict[str, str] | None) -> list[str]:
        """Let in (or turn away) those of `ids` who wait; returns whom the answer reached."""
        answered = [member_id for member_id in ids if self.registry.end_knock(member_id, room, admit)]
        if admit:
            keys = [self.owners.lasting_key(member_id) for member_id in answered]
            self.access.let_in(room, [key for key in keys if key is not None])
        for member_id in answered:
            await self.sio.emit("admitted" if admit else "declined", {"room": room, "by": by}, to=member_id)
        if answered:
            await self.owners.tell_waiting(room, local=True)
        return answered

    async def knock_answer(
        self, event: Event, room: Any = None, member_id: Any = None, admit: Any = None, *_: Any
    ) -> dict:
        """The owner lets someone waiting in (admit true) or not (false); member id "*": everyone."""
        sid = event.sid
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}.")
        if self.owners.owner_of(name) != sid:
            raise UserError("not_owner", f"Only the owner of room {name!r} may do that.")
        if not isinstance(admit, bool):
            raise UserError("invalid_settings", 'knock_answer takes the room, a member id (or "*") and true or false.')
        waiting = [member.id for member, _ in self.registry.waiting(name)]
        if member_id == EVERYONE:
            ids = waiting
        elif isinstance(member_id, str) and member_id in waiting:
            ids = [member_id]
        else:
            raise UserError("unknown_member", f"Nobody of that id is waiting to enter {name!r}.")
        owner = self.registry.member(sid)
        answered = await self.answer(name, ids, admit, owner.as_dict() if owner is not None else None)
        log.info("knock_answer", extra={"room": name, "sid": sid, "admit": admit, "count": len(answered)})
        return ok(room=name, admit=admit, members=answered)
