"""What a room's owner may do: lock it, cap it, make it private, remove a member, ask someone to
mute, hand the room over. Thin handlers over access.py, owners.py and departures.py
(docs/protocol.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from videochat.events.departures import Departures
from videochat.events.knocks import WaitingRoom
from videochat.events.owners import Owners
from videochat.events.realtime import Event, Server, event_handler
from videochat.events.roomlist import RoomList
from videochat.model.access import MOST_MEMBERS, Access
from videochat.model.errors import UserError, ok
from videochat.model.passwords import LONGEST_PASSWORD, PasswordHash
from videochat.model.rooms import Registry
from videochat.model.validation import Limits

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Moderation:
    sio: Server
    registry: Registry
    limits: Limits
    access: Access
    owners: Owners
    departures: Departures
    room_list: RoomList
    waiting_room: WaitingRoom
    ban_seconds: float

    def register(self) -> None:
        for event, handler in (
            ("room_settings", self.room_settings),
            ("remove_member", self.remove_member),
            ("ask_mute", self.ask_mute),
            ("transfer_owner", self.transfer_owner),
        ):
            event_handler(self.sio, event)(handler)

    async def room_settings(self, event: Event, room: Any = None, changes: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self._owned_room(sid, room)
        if not isinstance(changes, dict) or not changes.keys() <= {"password", "maxMembers", "private", "knock"}:
            raise UserError(
                "invalid_settings", "Settings are an object with password, maxMembers, private and/or knock."
            )
        update: dict[str, Any] = {}
        if "password" in changes:
            password = changes["password"]
            if password is None:
                update["password_hash"] = None
            elif isinstance(password, str) and 0 < len(password) <= LONGEST_PASSWORD:
                update["password_hash"] = await asyncio.to_thread(PasswordHash, password)
            else:
                raise UserError(
                    "invalid_password", f"A password is text of 1 to {LONGEST_PASSWORD} characters, or null to unlock."
                )
        if "maxMembers" in changes:
            cap = changes["maxMembers"]
            if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MOST_MEMBERS):
                raise UserError(
                    "invalid_settings", f"maxMembers is a whole number from 1 to {MOST_MEMBERS}, or null for no cap."
                )
            update["max_members"] = cap
        if "private" in changes:
            if not isinstance(changes["private"], bool):
                raise UserError("invalid_settings", "private is true or false.")
            update["private"] = changes["private"]
        if "knock" in changes:
            if not isinstance(changes["knock"], bool):
                raise UserError("invalid_settings", "knock is true or false.")
            update["knock"] = changes["knock"]
            if changes["knock"]:
                self.waiting_room.let_in_members(name)
        self.access.configure(name, **update)
        if update.get("knock") is False:  # nobody waits any more: everyone waiting is let in
            waiting = [member.id for member, _ in self.registry.waiting(name)]
            await self.waiting_room.answer(name, waiting, True, self._member(sid))
        await self.owners.announce(name)
        await self.room_list.changed()  # locked and private show in the room list
        log.info("room_settings", extra={"room": name, "sid": sid, "changed": sorted(changes)})
        return ok(room=name, settings=self.owners.settings(name))

    async def remove_member(self, event: Event, room: Any = None, member_id: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self._owned_room(sid, room)
        target = self._other_member(sid, name, member_id)
        owner = self._member(sid)
        now = time.time()  # wall clock: other processes compare it with theirs
        for key in self.owners.ban_keys(target):  # the browser id and the address (identity.py)
            self.access.ban(name, key, now + self.ban_seconds, now)
        # told first, while still in the room; then out, with the usual bye to the others
        await self.sio.emit("removed", {"room": name, "by": owner, "seconds": self.ban_seconds}, to=target)
        await self.departures.leave(target, name)
        log.info("remove_member", extra={"room": name, "sid": sid, "target": target})
        return ok(room=name, member=target)

    async def ask_mute(self, event: Event, room: Any = None, member_id: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self._owned_room(sid, room)
        target = self._other_member(sid, name, member_id)
        # Only a request: the member's own page mutes the microphone; nobody can unmute anyone else.
        await self.sio.emit("mute_request", {"room": name, "by": self._member(sid)}, to=target)
        log.info("ask_mute", extra={"room": name, "sid": sid, "target": target})
        return ok(room=name, member=target)

    async def transfer_owner(self, event: Event, room: Any = None, member_id: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self._owned_room(sid, room)
        target = self._other_member(sid, name, member_id)
        self.access.hand_over(name, target, self.owners.lasting_key(target))
        await self.owners.announce(name)
        log.info("transfer_owner", extra={"room": name, "sid": sid, "target": target})
        return ok(room=name, settings=self.owners.settings(name))

    def _owned_room(self, sid: str, room: Any) -> str:
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}.")
        if self.owners.owner_of(name) != sid:
            raise UserError("not_owner", f"Only the owner of room {name!r} may do that.")
        return name

    def _other_member(self, sid: str, room: str, member_id: Any) -> str:
        if not isinstance(member_id, str) or not self.registry.is_member(member_id, room):
            raise UserError("unknown_member", f"There is no such member in room {room!r}.")
        if member_id == sid:
            raise UserError("unknown_member", "Choose another member than yourself.")
        return member_id

    def _member(self, sid: str) -> dict[str, str]:
        member = self.registry.member(sid)
        assert member is not None, sid
        return member.as_dict()
