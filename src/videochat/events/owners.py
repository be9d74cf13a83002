"""Who a member is across connections, and who owns a room: what admission, moderation and
departures all ask of the room model and the access policy, answered in one place."""

from __future__ import annotations

from dataclasses import dataclass

import socketio

from videochat.events.channels import chat_room
from videochat.model.access import Access
from videochat.model.rooms import Registry

# ban keys (Owners.ban_key) that name a browser across its connections (server-signed ids,
# identity.py): such a key may own a room
LASTING_KEYS = ("browser:",)


@dataclass(eq=False, repr=False)
class Owners:
    sio: socketio.AsyncServer
    registry: Registry
    access: Access

    def ban_key(self, sid: str) -> str:
        """Who the connection is across connections: its browser id, verified by the server."""
        member = self.registry.member(sid)
        return member.key if member is not None and member.key else f"sid:{sid}"

    def ban_keys(self, sid: str) -> list[str]:
        """What a removal holds: the browser id and the address (address bans admit the ids issued
        before them: Admission)."""
        member = self.registry.member(sid)
        return [self.ban_key(sid), *([member.address] if member is not None and member.address else [])]

    def lasting_key(self, sid: str) -> str | None:
        """The member's key when it names one browser across connections, so that it may own a room
        beyond its socket; None for an address (neighbours share it) or a bare socket."""
        key = self.ban_key(sid)
        return key if key.startswith(LASTING_KEYS) else None

    def owner_of(self, room: str) -> str | None:
        return self.access.owner_of(room, [m.id for m in self.registry.members(room)], key_of=self.lasting_key)

    def owners_of_rooms(self, sid: str) -> dict[str, str | None]:
        """The owner of each room `sid` is in: taken before it leaves them, to tell whether that
        changed the owner."""
        member = self.registry.member(sid)
        return {room: self.owner_of(room) for room in (member.rooms if member is not None else ())}

    def settings(self, room: str) -> dict[str, object]:
        """Who owns the room and how it is set, as members see it (`room_update`, entry acks)."""
        return self.access.policy(room).as_dict(self.owner_of(room))

    async def announce(self, room: str, *, local: bool = False) -> None:
        """Everyone in the room learns who owns it and how it is set (`room_update`); `local`: this
        process's connections only. The owner (a new one too) learns who is waiting to enter."""
        await self.sio.emit(
            "room_update", {"room": room, **self.settings(room)}, room=chat_room(room), ignore_queue=local
        )
        if self.registry.count_waiting(room):
            await self.tell_waiting(room, local=local)

    def waiting(self, room: str) -> list[dict[str, object]]:
        """Who asks to enter the room, the first first, as its owner sees them."""
        return [{**member.as_dict(), "since": since} for member, since in self.registry.waiting(room)]

    async def tell_waiting(self, room: str, *, local: bool = False) -> None:
        """The room's owner learns who is waiting to enter now (`knock`, the whole list). With
        several processes each change is told `local`ly by every process that learns of it
        (cluster/sync.py): only the owner's own process, whose list has every knock, reaches it."""
        owner = self.owner_of(room)
        if owner is not None:
            await self.sio.emit("knock", {"room": room, "waiting": self.waiting(room)}, to=owner, ignore_queue=local)
