"""What follows a join in the room model, by `enter_room` (rooms.py) or `join_room` (signaling.py).

`enter` puts a new member in the room's Socket.IO room (the first one creates the room) and makes
the ack: who is there, the history, the settings, who is in the call. What the others hear goes
out after that ack (the seed's order), called by each handler for what it did: `welcome` when
someone arrived (in the room, or in its call), `arrived` when the room gained a member.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import socketio

from videochat.events.channels import chat_room
from videochat.events.departures import Departures
from videochat.events.owners import Owners
from videochat.events.roomlist import RoomList
from videochat.model.access import Access
from videochat.model.directs import reader_key, visible_to
from videochat.model.errors import ok
from videochat.model.rooms import Registry
from videochat.storage.base import History

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Entry:
    sio: socketio.AsyncServer
    registry: Registry
    access: Access
    history: History
    owners: Owners
    departures: Departures
    room_list: RoomList
    max_call_size: int
    # the room's recording under way, or None (events/recordings.py sets it)
    recording: Callable[[str], dict | None] = lambda room: None

    async def enter(self, sid: str, name: str, count: int, is_new: bool, *, private: bool = False) -> dict:
        """The ack of an entry the room model has made (`count` members now; `is_new`: `sid` was not
        one before). The first member creates the room (`private`: never listed). If anything
        fails, a new membership is taken back, quietly: nobody heard of it yet."""
        member = self.registry.member(sid)
        assert member is not None, sid
        you = member.as_dict()  # as it is now: the others' `welcome` says the same
        try:
            if is_new:
                if count == 1:  # before any await: other processes learn of the room and its policy together
                    # (a room whose history or bans outlived its members keeps its policy: the
                    # newcomer passed its lock, or is its owner back)
                    self.access.created(name, private=private, owner_key=self.owners.lasting_key(sid))
                    self.history.room_occupied(name)
                await self.sio.enter_room(sid, chat_room(name))
            history = visible_to(await self.history.recent(name), reader_key(sid, member.key))
            members = [m.as_dict() for m in self.registry.members(name)]
        except Exception:
            if is_new:
                await self._undo(sid, name)
            raise
        if is_new:
            log.info("enter_room", extra={"room": name, "sid": sid, "nickname": member.nickname, "count": count})
        return ok(
            room=name,
            you=you,
            count=len(members),
            members=members,
            history=history,
            settings=self.owners.settings(name),
            # who is in the room's call: the page shows it before joining, and opens the camera at
            # the size the call will need (docs/protocol.md)
            inCall=[p.member.id for p in self.registry.participants(name)],
            hands=[{"id": p.member.id, "hand": p.hand} for p in self.registry.raised_hands(name)],
            maxCallSize=self.max_call_size,
            # before joining the call, people see that it is recorded (docs/recording.md)
            recording=self.recording(name),
        )

    async def welcome(self, member: dict, name: str, count: int, info: dict) -> None:
        """The others in the room hear that `member` arrived (`info`: what else they should know)."""
        if count > 1:  # alone: nobody to tell
            await self.sio.emit(
                "welcome",
                (member["nickname"], count, {"room": name, "member": member, **info}),
                room=chat_room(name),
                skip_sid=member["id"],
            )

    async def arrived(self, sid: str, name: str, count: int) -> None:
        """The room gained a member: its owner back owns it again, and everyone hears `room_change`."""
        if count > 1 and self.owners.owner_of(name) == sid:
            await self.owners.announce(name)
        await self.room_list.changed()

    async def _undo(self, sid: str, name: str) -> None:
        if not self.registry.is_member(sid, name):
            return
        departure = self.registry.leave(sid, name)
        await self.sio.leave_room(sid, chat_room(name))
        if departure.count == 0:
            await self.departures.room_emptied(name)
