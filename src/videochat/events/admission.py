"""Who may enter a room: `enter_room` (rooms.py) and `join_room` (signaling.py) both ask here first.

Refused: a member removed from the room, a full room, a locked one without its password, and a
connection (or address) in as many rooms as allowed already (docs/security.md). Past all that, a
room that asks people to wait holds newcomers at its door until its owner lets them in (knocks.py).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from videochat.events.knocks import WaitingRoom
from videochat.events.owners import Owners
from videochat.model.access import Access, Refusal
from videochat.model.attempts import PasswordAttempts
from videochat.model.errors import RetryLater, UserError
from videochat.model.ratelimit import Limiter
from videochat.model.rooms import Registry


@dataclass(eq=False, repr=False)
class Admission:
    registry: Registry
    access: Access
    owners: Owners
    limiter: Limiter
    # password guesses per room and per address (attempts.py)
    password_attempts: PasswordAttempts
    waiting_room: WaitingRoom
    wrong_password_delay: float = 1.0
    # how many rooms one connection, and the connections of one address together (0: any), may be in
    max_rooms_per_connection: int = 10
    max_rooms_per_address: int = 100
    # the connections with a password being checked
    _checking_password: set[str] = field(default_factory=set, init=False)

    async def admit(self, sid: str, room: str, password: str | None) -> None:
        """Raise a UserError unless `sid` may enter `room` (a member already in it may)."""
        if self.registry.is_member(sid, room):
            return
        await self._admit(sid, room, password)
        await self.waiting_room.door(sid, room)

    async def _admit(self, sid: str, room: str, password: str | None) -> None:
        """Refuse entry to a banned member, a full room, or without the room's password.

        The lock holds while the room's policy lasts, members or not (its history stays behind it);
        the room's owner, recognised by its lasting key, comes back without the password."""
        self._check_admission(sid, room)
        lock = self.access.policy(room).password_hash
        if lock is None or self.access.is_owner_key(room, self.owners.lasting_key(sid)):
            return
        if password is None:
            raise UserError("password_required", f"Room {room!r} is locked; enter its password.")
        self._take_password_attempt(sid, room)
        self._checking_password.add(sid)
        try:
            if not await asyncio.to_thread(lock.matches, password):
                await asyncio.sleep(self.wrong_password_delay)  # guessing stays slow
                raise UserError("wrong_password", f"That is not the password of room {room!r}.")
        finally:
            self._checking_password.discard(sid)
        self._check_admission(sid, room)  # the room may have filled up while the password was checked

    def _check_room_bounds(self, sid: str) -> None:
        """Rooms held are bounded: each room costs every connection a line of the room list, and
        without a bound one address could make the list longer than any client may lag behind."""
        member = self.registry.member(sid)
        held = len(member.rooms) if member is not None else 0
        if held >= self.max_rooms_per_connection:
            raise UserError(
                "too_many_rooms",
                f"You are in {held} rooms already, the most one connection may be in; leave one first.",
            )
        if self.max_rooms_per_address:
            address = self.limiter.address_of(sid)
            if address is None:
                return
            members = (self.registry.member(key) for key in self.limiter.keys_from(address))
            if sum(len(m.rooms) for m in members if m is not None) >= self.max_rooms_per_address:
                raise UserError(
                    "too_many_rooms",
                    f"The connections from your network address are in "
                    f"{self.max_rooms_per_address} rooms already, the most "
                    "allowed; leave one first.",
                )

    def _take_password_attempt(self, sid: str, room: str) -> None:
        """Guesses are bounded before any is hashed: one at a time per connection, and so many per
        room and per address in --password-attempt-window (attempts.py)."""
        if sid in self._checking_password:
            raise RetryLater(
                "too_many_attempts",
                "One password at a time: wait for the answer to the last one.",
                self.wrong_password_delay,
            )
        refused = self.password_attempts.take(room, self.limiter.address_of(sid), time.monotonic())
        if refused is not None:
            which, seconds = refused
            whose = f"room {room!r}" if which == "room" else "your network address"
            raise RetryLater(
                "too_many_attempts",
                f"Too many password attempts for {whose}; try again in {max(1, round(seconds))} seconds.",
                seconds,
            )

    def _check_admission(self, sid: str, room: str) -> None:
        self._check_room_bounds(sid)
        member = self.registry.member(sid)
        try:
            self.access.admit(
                room,
                self.owners.ban_key(sid),
                count=self.registry.count_members(room),
                already_member=self.registry.is_member(sid, room),
                now=time.time(),
                address=member.address if member is not None else None,
                known_since=member.known_since if member is not None else None,
            )
        except Refusal as refusal:
            raise UserError(refusal.code, refusal.message) from None
