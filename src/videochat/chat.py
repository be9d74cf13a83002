"""Socket.IO chat events: validate, update the room model, store, emit. Kept thin on purpose.

The seed's events keep their exact arguments; what is new rides in trailing arguments or in new
events (docs/protocol.md).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Awaitable, Callable

import socketio

from .errors import UserError, ok
from .history import HistoryStore
from .realtime import after_ack, event_handler, report_error
from .rooms import Departure, NotInRoom, Registry
from .validation import Limits

log = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"[0-9A-Za-z_-]{8,128}")

# Called for each room a member left (by leave_room or disconnecting), after `bye` went out.
DepartureHook = Callable[[dict, Departure], Awaitable[None]]


class Chat:
    def __init__(self, sio: socketio.AsyncServer, registry: Registry, history: HistoryStore, limits: Limits) -> None:
        self.sio = sio
        self.registry = registry
        self.history = history
        self.limits = limits
        self.departure_hooks: list[DepartureHook] = []

    def register(self) -> None:
        sio, on = self.sio, self._on
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("*", self.unknown_event)
        on("nickname", self.nickname)
        on("enter_room", self.enter_room)
        on("new_message", self.new_message)
        on("leave_room", self.leave_room)
        on("list_rooms", self.list_rooms)

    def _on(self, event: str, fn: Any) -> None:
        event_handler(self.sio, event)(fn)

    # connection lifecycle

    async def connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        client_id = _client_id(auth)
        holder = self.registry.holder_of_client_id(client_id) if client_id else None
        if holder is not None:
            # The same client is back on a new socket (its old one has not timed out yet): drop the
            # old one now, so that the others hear `bye`/`peer_left` at once and see no ghost.
            log.info("client reconnected: dropping its old socket sid=%s for sid=%s", holder, sid)
            await self.sio.disconnect(holder)
        self.registry.connect(sid, client_id=client_id)
        log.info("connected sid=%s transport=%s", sid, _transport(environ))

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        member, departures = self.registry.disconnect(sid)
        if member is None:
            return
        for departure in departures:
            await self._announce_departure(member.as_dict(), departure, skip_sid=sid)
        if departures:
            await self.broadcast_room_change()
        log.info("disconnected sid=%s nickname=%s rooms=%d", sid, member.nickname, len(departures))

    async def unknown_event(self, event: str, sid: str, *args: Any) -> Any:
        log.warning("refused unknown event %r from %s", event, sid)
        error = UserError("unknown_event", f"Unknown event {event!r}.")
        return await report_error(self.sio, sid, str(event), error)

    # events

    async def nickname(self, sid: str, name: Any = None, *_: Any) -> dict:
        nickname = self.limits.nickname(name)
        old, rooms = self.registry.rename(sid, nickname)
        if old != nickname:
            member = self._member(sid)
            for room in rooms:
                await self.sio.emit("nickname_change", {"room": room, "member": member, "old": old}, room=room)
            log.info("nickname sid=%s nickname=%s rooms=%d", sid, nickname, len(rooms))
        return ok(nickname=nickname)

    async def enter_room(self, sid: str, room: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        count, is_new = self.registry.join(sid, name)
        return await self.entered(sid, name, count, is_new, welcome={} if is_new else None)

    async def entered(self, sid: str, name: str, count: int, is_new: bool, *, welcome: dict | None) -> dict:
        """What follows a join in the room model (by enter_room or join_room); returns the ack.

        A new member is put in the Socket.IO room and, after the ack, everyone hears `room_change`.
        With `welcome` (extra fields of its info), the others in the room hear `welcome` after the ack.
        """
        member = self._member(sid)
        if is_new:
            await self.sio.enter_room(sid, name)
            if count == 1:
                self.history.room_occupied(name)
            log.info("enter_room room=%s sid=%s nickname=%s count=%d", name, sid, member["nickname"], count)
        if welcome is not None or is_new:

            async def announce() -> None:
                # the ack first, then the others hear of it (the seed's order)
                if welcome is not None:
                    info = {"room": name, "member": member, **welcome}
                    await self.sio.emit("welcome", (member["nickname"], count, info), room=name, skip_sid=sid)
                if is_new:
                    await self.broadcast_room_change()

            after_ack(announce)
        history = await self.history.recent(name)
        members = [m.as_dict() for m in self.registry.members(name)]
        return ok(room=name, you=member, count=len(members), members=members, history=history)

    async def new_message(self, sid: str, text: Any = None, room: Any = None, *_: Any) -> dict:
        body = self.limits.message(text)
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}; enter it first.")
        author = self._member(sid)
        message = {
            "id": uuid.uuid4().hex,
            "room": name,
            "author": author,
            "text": body,
            "time": int(time.time() * 1000),
        }
        self.history.append(message)
        await self.sio.emit("new_message", (f"{author['nickname']}: {body}", message), room=name, skip_sid=sid)
        return ok(message=message)

    async def leave_room(self, sid: str, room: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        try:
            departure = self.registry.leave(sid, name)
        except NotInRoom:
            raise UserError("not_in_room", f"You are not in room {name!r}.") from None
        await self.sio.leave_room(sid, name)
        member = self._member(sid)
        await self._announce_departure(member, departure, skip_sid=sid)
        await self.broadcast_room_change()
        log.info("leave_room room=%s sid=%s nickname=%s count=%d", name, sid, member["nickname"], departure.count)
        return ok(room=name)

    async def list_rooms(self, sid: str, *_: Any) -> dict:
        return ok(rooms=self.registry.room_summaries())

    # helpers

    def _member(self, sid: str) -> dict[str, str]:
        member = self.registry.member(sid)
        assert member is not None, sid
        return member.as_dict()

    async def _announce_departure(self, member: dict, departure: Departure, *, skip_sid: str) -> None:
        room, count = departure.room, departure.count
        await self.sio.emit("bye", (member["nickname"], count, {"room": room, "member": member}),
                            room=room, skip_sid=skip_sid)
        for hook in self.departure_hooks:
            await hook(member, departure)
        if count == 0:
            self.history.room_emptied(room)

    async def broadcast_room_change(self) -> None:
        await self.sio.emit("room_change", (self.registry.room_names(), self.registry.room_summaries()))


def _client_id(auth: Any) -> str | None:
    """The `clientId` of the connection's auth payload, if any; a malformed one refuses the connection."""
    if not isinstance(auth, dict) or auth.get("clientId") is None:
        return None
    client_id = auth["clientId"]
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise socketio.exceptions.ConnectionRefusedError(
            "auth.clientId must be 8 to 128 letters, digits, '-' or '_' (a random hex string)")
    return client_id


def _transport(environ: dict) -> str:
    query = environ.get("QUERY_STRING", "")
    return "websocket" if "transport=websocket" in query else "polling"
