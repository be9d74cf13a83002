"""Socket.IO chat events: validate, update the room model, store, emit. Kept thin on purpose.

The seed's events keep their exact arguments; what is new rides in trailing arguments or in new
events (docs/protocol.md).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import socketio

from .errors import UserError, ok
from .history import HistoryStore
from .ratelimit import Limiter
from .realtime import Server, after_ack, event_handler, refusal, report_error
from .rooms import NotInRoom, Registry
from .validation import Limits

log = logging.getLogger(__name__)


class Chat:
    def __init__(self, sio: Server, registry: Registry, history: HistoryStore, limits: Limits,
                 limiter: Limiter) -> None:
        self.sio = sio
        self.limiter = limiter
        self.registry = registry
        self.history = history
        self.limits = limits

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
        address = client_address(environ)
        if not self.limiter.connect(sid, address):
            log.warning("refused a connection: too many from its address",
                        extra={"address": address, "connections": self.limiter.connections_from(address)})
            self.sio.metrics.rejected("too_many_connections")
            # the browser's connect_error carries err.message and err.data
            raise socketio.exceptions.ConnectionRefusedError(
                "Too many connections from your network address; close some tabs and try again.",
                {"code": "too_many_connections"})
        self.registry.connect(sid)
        log.info("connected", extra={"sid": sid, "transport": _transport(environ)})

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.disconnect(sid)
        member, departures = self.registry.disconnect(sid)
        if member is None:
            return
        for departure in departures:
            await self._announce_departure(member.as_dict(), departure.room, departure.count, skip_sid=sid)
        if departures:
            await self.broadcast_room_change()
        log.info("disconnected", extra={"sid": sid, "nickname": member.nickname, "rooms": len(departures),
                                        "reason": str(reason)})

    async def unknown_event(self, event: str, sid: str, *args: Any) -> Any:
        error = refusal() or UserError("unknown_event", f"Unknown event {str(event)[:64]!r}.")
        log.warning("refused event", extra={"sid": sid, "event": str(event)[:64], "code": error.code})
        return await report_error(self.sio, sid, str(event), error)

    # events

    async def nickname(self, sid: str, name: Any = None, *_: Any) -> dict:
        nickname = self.limits.nickname(name)
        old, rooms = self.registry.rename(sid, nickname)
        if old != nickname:
            member = self._member(sid)
            for room in rooms:
                await self.sio.emit("nickname_change", {"room": room, "member": member, "old": old}, room=room)
            log.info("nickname", extra={"sid": sid, "nickname": nickname, "old": old, "rooms": len(rooms)})
        return ok(nickname=nickname)

    async def enter_room(self, sid: str, room: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        count, is_new = self.registry.join(sid, name)
        member = self._member(sid)
        if is_new:
            await self.sio.enter_room(sid, name)
            if count == 1:
                self.history.room_occupied(name)

            async def announce() -> None:
                # the ack first, then the others hear of it (the seed's order)
                await self.sio.emit("welcome", (member["nickname"], count, {"room": name, "member": member}),
                                    room=name, skip_sid=sid)
                await self.broadcast_room_change()

            after_ack(announce)
            log.info("enter_room", extra={"room": name, "sid": sid, "nickname": member["nickname"], "count": count})
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
        self.sio.metrics.chat_relayed()
        # `text` is a sensitive field: logs.py drops it unless --log-sensitive
        log.debug("new_message", extra={"room": name, "sid": sid, "nickname": author["nickname"],
                                        "id": message["id"], "text": body})
        return ok(message=message)

    async def leave_room(self, sid: str, room: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        try:
            departure = self.registry.leave(sid, name)
        except NotInRoom:
            raise UserError("not_in_room", f"You are not in room {name!r}.") from None
        await self.sio.leave_room(sid, name)
        member = self._member(sid)
        await self._announce_departure(member, name, departure.count, skip_sid=sid)
        await self.broadcast_room_change()
        log.info("leave_room", extra={"room": name, "sid": sid, "nickname": member["nickname"],
                                      "count": departure.count})
        return ok(room=name)

    async def list_rooms(self, sid: str, *_: Any) -> dict:
        return ok(rooms=self.registry.room_summaries())

    # helpers

    def _member(self, sid: str) -> dict[str, str]:
        member = self.registry.member(sid)
        assert member is not None, sid
        return member.as_dict()

    async def _announce_departure(self, member: dict, room: str, count: int, *, skip_sid: str) -> None:
        await self.sio.emit("bye", (member["nickname"], count, {"room": room, "member": member}),
                            room=room, skip_sid=skip_sid)
        if count == 0:
            self.history.room_emptied(room)

    async def broadcast_room_change(self) -> None:
        await self.sio.emit("room_change", (self.registry.room_names(), self.registry.room_summaries()))


def client_address(environ: dict) -> str:
    """The client's address from the ASGI scope: python-engineio's environ says REMOTE_ADDR=127.0.0.1
    for everyone. uvicorn puts the X-Forwarded-For address there for trusted proxies only."""
    client = (environ.get("asgi.scope") or {}).get("client")
    return client[0] if client else ""


def _transport(environ: dict) -> str:
    query = environ.get("QUERY_STRING", "")
    return "websocket" if "transport=websocket" in query else "polling"
