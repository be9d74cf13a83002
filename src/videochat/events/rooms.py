"""Socket.IO room events: `enter_room`, `leave_room`, `list_rooms` (docs/protocol.md).

The seed's events keep their exact arguments; what is new rides in trailing arguments or in new
events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videochat.events.admission import Admission
from videochat.events.departures import Departures
from videochat.events.entry import Entry
from videochat.events.realtime import Event, Server, event_handler
from videochat.events.roomlist import RoomList
from videochat.model.errors import UserError, ok
from videochat.model.passwords import LONGEST_PASSWORD
from videochat.model.rooms import Registry
from videochat.model.validation import Limits


@dataclass(eq=False, repr=False)
class Rooms:
    sio: Server
    registry: Registry
    limits: Limits
    admission: Admission
    entry: Entry
    departures: Departures
    room_list: RoomList

    def register(self) -> None:
        for event, handler in (
            ("enter_room", self.enter_room),
            ("leave_room", self.leave_room),
            ("list_rooms", self.list_rooms),
        ):
            event_handler(self.sio, event)(handler)

    async def enter_room(self, event: Event, room: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self.limits.room(room)
        password, private = entry_options(room)
        await self.admission.admit(sid, name, password)
        count, is_new = self.registry.join(sid, name)
        reply = await self.entry.enter(sid, name, count, is_new, private=private)
        if is_new:

            async def announce() -> None:
                await self.entry.welcome(reply["you"], name, count, {})
                await self.entry.arrived(sid, name, count)

            event.after_ack(announce)
        return reply

    async def leave_room(self, event: Event, room: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        if not self.registry.is_member(event.sid, name) and await self.admission.waiting_room.give_up(event.sid, name):
            return ok(room=name)  # it was waiting at the door: it no longer does
        await self.departures.leave(event.sid, name)
        return ok(room=name)

    async def list_rooms(self, event: Event, *_: Any) -> dict:
        return ok(rooms=self.room_list.public())


def entry_options(room: Any) -> tuple[str | None, bool]:
    """The password and privacy asked for in `{payload, password?, private?}` (the seed's object form)."""
    if not isinstance(room, dict):
        return None, False
    password = room.get("password")
    if password is not None and (not isinstance(password, str) or not 0 < len(password) <= LONGEST_PASSWORD):
        raise UserError("invalid_password", f"A password is text of 1 to {LONGEST_PASSWORD} characters.")
    private = room.get("private", False)
    if not isinstance(private, bool):
        raise UserError("invalid_room", "`private` is true or false.")
    return password, private
