"""Socket.IO `reaction`: a call participant's emoji, relayed to the others in the call (pages float
it over the sender's tile). Rate-limited as chat messages are; nothing is kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from videochat.events.channels import call_room
from videochat.events.realtime import Event, Server, event_handler
from videochat.model.errors import UserError, ok
from videochat.model.reactions import reaction
from videochat.model.rooms import Registry
from videochat.model.validation import Limits


@dataclass(eq=False, repr=False)
class Reactions:
    sio: Server
    registry: Registry
    limits: Limits

    def register(self) -> None:
        event_handler(self.sio, "reaction", inline=True)(self.reaction)  # a relay: it awaits only its emit

    async def reaction(self, event: Event, room: Any = None, emoji: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        if not self.registry.in_call(event.sid, name):
            raise UserError("not_in_call", f"You are not in the call of room {name!r}; send join_room first.")
        emoji = reaction(emoji)
        await self.sio.emit(
            "reaction", {"room": name, "id": event.sid, "emoji": emoji}, room=call_room(name), skip_sid=event.sid
        )
        return ok(room=name, emoji=emoji)
