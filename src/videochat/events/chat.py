"""Socket.IO chat events: `nickname`, `new_message` and `direct_message` (docs/protocol.md), and the
message that shows a file (events/files.py). Kept thin on purpose: validate, update the room model,
store, emit."""

from __future__ import annotations

import itertools
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from videochat.events.channels import chat_room
from videochat.events.realtime import Event, Server, event_handler
from videochat.model.directs import AUDIENCE, reader_key
from videochat.model.errors import UserError, ok
from videochat.model.files import FILE
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.storage.base import History
from videochat.storage.uploads import StoredFile

log = logging.getLogger(__name__)


@dataclass(eq=False, repr=False)
class Chat:
    sio: Server
    registry: Registry
    limits: Limits
    history: History

    def __post_init__(self) -> None:
        # message ids: 32 hex digits, unique across processes and restarts (a random half per
        # process, a counter), without a system call per message (uuid4's showed in the profile)
        self._message_ids_prefix = os.urandom(8).hex()
        self._message_ids = itertools.count()

    def register(self) -> None:
        for event, handler, inline in (
            ("nickname", self.nickname, False),
            ("new_message", self.new_message, True),  # a relay: it awaits nothing but its emit
            ("direct_message", self.direct_message, True),
        ):
            event_handler(self.sio, event, inline=inline)(handler)

    async def nickname(self, event: Event, name: Any = None, *_: Any) -> dict:
        sid = event.sid
        nickname = self.limits.nickname(name)
        old, rooms = self.registry.rename(sid, nickname)
        if old != nickname:
            member = self._member(sid)
            for room in rooms:
                await self.sio.emit(
                    "nickname_change", {"room": room, "member": member, "old": old}, room=chat_room(room)
                )
            log.info("nickname", extra={"sid": sid, "nickname": nickname, "old": old, "rooms": len(rooms)})
        return ok(nickname=nickname)

    async def new_message(self, event: Event, text: Any = None, room: Any = None, *_: Any) -> dict:
        sid = event.sid
        body = self.limits.message(text)
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}; enter it first.")
        author = self._member(sid)
        message = self._message(name, author, body)
        self.history.append(message)
        await self.sio.emit(
            "new_message", (f"{author['nickname']}: {body}", message), room=chat_room(name), skip_sid=sid
        )
        self.sio.metrics.chat_relayed()
        if log.isEnabledFor(logging.DEBUG):
            # `text` is a sensitive field: logs.py drops it unless --log-sensitive
            log.debug(
                "new_message",
                extra={"room": name, "sid": sid, "nickname": author["nickname"], "id": message["id"], "text": body},
            )
        return ok(message=message)

    async def direct_message(
        self, event: Event, room: Any = None, member_id: Any = None, text: Any = None, *_: Any
    ) -> dict:
        """A message to one other member of the room: only the two see it, now and in the history."""
        sid = event.sid
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}; enter it first.")
        if not isinstance(member_id, str) or member_id == sid or not self.registry.is_member(member_id, name):
            raise UserError("unknown_member", f"There is no such other member in room {name!r}.")
        body = self.limits.message(text)
        sender, recipient = self.registry.member(sid), self.registry.member(member_id)
        assert sender is not None and recipient is not None
        message = {**self._message(name, sender.as_dict(), body), "to": recipient.as_dict()}
        audience = [reader_key(sid, sender.key), reader_key(member_id, recipient.key)]
        self.history.append({**message, AUDIENCE: audience})
        await self.sio.emit("direct_message", message, to=member_id)
        self.sio.metrics.chat_relayed()
        log.debug("direct_message", extra={"room": name, "sid": sid, "target": member_id, "id": message["id"]})
        return ok(message=message)

    async def file_message(self, sid: str, stored: StoredFile) -> dict[str, Any]:
        """Put a file just stored into its room's chat, as `sid`'s message (its id is the file's);
        the others get it as `new_message`, the uploader in the PUT's answer."""
        author = self._member(sid)
        message = {
            "id": stored.id,
            "room": stored.room,
            "author": author,
            "text": stored.name,
            "time": int(stored.time * 1000),
            FILE: {
                "id": stored.id,
                "name": stored.name,
                "size": stored.size,
                "type": stored.type,
                "url": f"/files/{stored.id}",
            },
        }
        self.history.append(message)
        await self.sio.emit(
            "new_message", (f"{author['nickname']}: {stored.name}", message), room=chat_room(stored.room), skip_sid=sid
        )
        self.sio.metrics.chat_relayed()
        log.info("file", extra={"room": stored.room, "sid": sid, "id": stored.id, "bytes": stored.size})
        return message

    def _message(self, room: str, author: dict[str, str], text: str) -> dict[str, Any]:
        return {
            "id": f"{self._message_ids_prefix}{next(self._message_ids):016x}",
            "room": room,
            "author": author,
            "text": text,
            "time": int(time.time() * 1000),
        }

    def _member(self, sid: str) -> dict[str, str]:
        member = self.registry.member(sid)
        assert member is not None, sid
        return member.as_dict()
