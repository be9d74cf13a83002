"""Members leaving rooms: by `leave_room`, removed by the room's owner, disconnected, or gone with
their process (cluster). Whoever stays hears `bye` (and `peer_left` when it was in the call); an
owner gone hands the room on (`room_update`); the last member out starts the room's end."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import socketio

from videochat.events.calls import Calls
from videochat.events.channels import chat_room
from videochat.events.owners import Owners
from videochat.events.roomlist import RoomList
from videochat.model.access import Access
from videochat.model.errors import UserError
from videochat.model.rooms import Departure, Member, NotInRoom, Registry
from videochat.storage.base import History

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Departures:
    sio: socketio.AsyncServer
    registry: Registry
    access: Access
    history: History
    owners: Owners
    calls: Calls
    room_list: RoomList
    # what else ends with the room's last member (a recording under way: events/recordings.py)
    on_emptied: Callable[[str], Awaitable[None]] | None = None

    async def leave(self, sid: str, name: str) -> None:
        """Take a member out of a room (leaving it, or removed by its owner) and tell everyone."""
        owner_before = self.owners.owner_of(name)
        try:
            departure = self.registry.leave(sid, name)
        except NotInRoom:
            raise UserError("not_in_room", f"You are not in room {name!r}.") from None
        await self.sio.leave_room(sid, chat_room(name))
        member = self.registry.member(sid)
        assert member is not None, sid
        await self._announce(member.as_dict(), departure, owner_before=owner_before)
        await self.room_list.changed()
        log.info("leave_room", extra={"room": name, "sid": sid, "nickname": member.nickname, "count": departure.count})

    async def disconnected(self, sid: str) -> tuple[Member | None, list[Departure]]:
        """A connection of this process is gone: out of every room it was in. The member it was (None
        if it never was one) and the rooms it left."""
        owners = self.owners.owners_of_rooms(sid)
        member, departures = self.registry.disconnect(sid)
        if member is None:
            return None, []
        for departure in departures:
            await self._announce(member.as_dict(), departure, owner_before=owners[departure.room])
        for room in member.knocks:  # it was waiting to enter: its owner's list is shorter
            await self.owners.tell_waiting(room, local=True)
        if departures:
            await self.room_list.changed()
        return member, departures

    async def gone_elsewhere(self, member_id: str) -> bool:
        """A member of another process is gone without a word (that process died or lost Redis):
        this process forgets it and tells its own clients, as the member's process would have told
        everyone. True if the member was known here."""
        owners = self.owners.owners_of_rooms(member_id)
        member, departures = self.registry.forget(member_id)
        if member is None:
            return False
        for departure in departures:
            await self._announce(member.as_dict(), departure, owner_before=owners.get(departure.room), local=True)
        for room in member.knocks:
            await self.owners.tell_waiting(room, local=True)
        return True

    async def _announce(
        self, member: dict, departure: Departure, *, owner_before: str | None, local: bool = False
    ) -> None:
        """The others in the room hear that `member` left (`local`: on this process's connections)."""
        room, count = departure.room, departure.count
        await self.sio.emit(
            "bye",
            (member["nickname"], count, {"room": room, "member": member}),
            room=chat_room(room),
            skip_sid=member["id"],
            ignore_queue=local,
        )
        if departure.left_call:
            await self.calls.left(member, room, local=local)
        if count == 0:
            await self.room_emptied(room)
        elif self.owners.owner_of(room) != owner_before:
            await self.owners.announce(room, local=local)

    async def room_emptied(self, room: str) -> None:
        """The last member left: the history's countdown starts (--history-retention), and the
        room's policy stays while anything of the room does."""
        if self.on_emptied is not None:
            await self.on_emptied(room)
        remains = await self._remains(room)  # before room_emptied: the history may forget what it saw
        if self.registry.has_room(room):
            return  # someone entered while the history was asked
        self.history.room_emptied(room)
        if not remains:
            self.access.emptied(room)

    async def _remains(self, room: str) -> bool:
        """Whether anything of an empty room remains: history, or a ban still running."""
        return self.access.has_bans(room, time.time()) or await self.history.holds(room)

    async def release_unused_rooms(self) -> list[str]:
        """Drop the policy of every empty room of which nothing remains any more (its history expired,
        its bans ran out): its name is free again. Run now and then (app.py, with history expiry)."""
        self.access.forget_expired_bans(time.time())
        released = []
        for room in self.access.rooms():
            if self.registry.has_room(room) or await self._remains(room):
                continue
            if not self.registry.has_room(room):  # nobody entered while the history was asked
                self.access.emptied(room)
                released.append(room)
        if released:
            log.info("released %d empty room(s): nothing of them remains", len(released))
        return released
