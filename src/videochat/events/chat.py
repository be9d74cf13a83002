"""Socket.IO chat events: validate, update the room model, store, emit. Kept thin on purpose.

The seed's events keep their exact arguments; what is new rides in trailing arguments or in new
events (docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from videochat.events.identity import BrowserIds, address_key
from videochat.events.realtime import Server, after_ack, event_handler, locally, refusal, report_error
from videochat.events.roomlist import RoomList
from videochat.model.access import Access, Refusal
from videochat.model.attempts import PasswordAttempts
from videochat.model.errors import RetryLater, UserError, ok
from videochat.model.passwords import LONGEST_PASSWORD
from videochat.model.ratelimit import Limiter
from videochat.model.rooms import Departure, Member, NotInRoom, Registry
from videochat.model.validation import Limits
from videochat.storage.history import HistoryStore

log = logging.getLogger(__name__)


CLIENT_ID = re.compile(r"[0-9A-Za-z_-]{8,128}")
CHAT_ROOM_PREFIX = "#"
# ban keys (chat.ban_key) that name a browser across its connections (server-signed ids, identity.py):
# such a key may own a room
LASTING_KEYS = ("browser:",)


def chat_room(room: str) -> str:
    """The Socket.IO room of a chat room's members.

    python-socketio puts every socket in a room named after its sid, so a chat room that used its own
    name there could be named after another socket's sid: whoever entered it would then speak to
    that socket. Sids are base64url (letters, digits, `-`, `_`), so a `#` in front keeps every chat
    room apart from every sid, and from the call rooms (`\\x00call\\x00...`, signaling.call_room).
    The Admin UI shows these names (`#lobby`)."""
    return CHAT_ROOM_PREFIX + room


def chat_room_name(sio_room: str) -> str | None:
    """The chat room of a Socket.IO room made by chat_room(), else None."""
    return sio_room[len(CHAT_ROOM_PREFIX) :] if sio_room.startswith(CHAT_ROOM_PREFIX) else None


# Called for each room a member left (by leave_room or disconnecting), after `bye` went out.
DepartureHook = Callable[[dict, Departure], Awaitable[None]]
# Adds fields to every enter_room ack (the room's name given): what other parts of the server show
# of a room to whoever enters it.
EntryFields = Callable[[str], dict[str, Any]]


class Chat:
    def __init__(
        self,
        sio: Server,
        registry: Registry,
        history: HistoryStore,
        limits: Limits,
        limiter: Limiter,
        access: Access,
        *,
        wrong_password_delay: float = 1.0,
        room_list_rate: float = 4.0,
        identities: BrowserIds | None = None,
        max_rooms_per_connection: int = 10,
        max_rooms_per_address: int = 100,
        room_list_size: int = 50,
        password_attempts: PasswordAttempts | None = None,
    ) -> None:
        self.sio = sio
        # who each connection is: the browser id it proves, else one issued now (identity.py)
        self.identities = identities or BrowserIds()
        self.limiter = limiter
        self.registry = registry
        self.history = history
        self.limits = limits
        self.access = access
        self.wrong_password_delay = wrong_password_delay
        # how many rooms one connection, and the connections of one address together (0: any), may
        # be in; and how many rooms a room list shows (docs/security.md)
        self.max_rooms_per_connection = max_rooms_per_connection
        self.max_rooms_per_address = max_rooms_per_address
        self.room_list_size = room_list_size
        # password guesses per room and per address (attempts.py), and the connections with one in progress
        self.password_attempts = password_attempts or PasswordAttempts(per_room=30, per_address=10, window=60)
        self._checking_password: set[str] = set()
        self.departure_hooks: list[DepartureHook] = []
        self.entry_fields: list[EntryFields] = []
        # message ids: 32 hex digits, unique across processes and restarts (a random half per
        # process, a counter), without a system call per message (uuid4's showed in the profile)
        self._message_ids_prefix = os.urandom(8).hex()
        self._message_ids = itertools.count()
        # the process that holds this server's connections, when several share rooms (cluster.py)
        self.origin: str | None = None
        self.room_list = RoomList(sio, self.public_rooms, rate=room_list_rate)

    def register(self) -> None:
        sio, on = self.sio, self._on
        sio.on("connect", self.connect)
        sio.on("disconnect", self.disconnect)
        sio.on("*", self.unknown_event)
        on("nickname", self.nickname)
        on("enter_room", self.enter_room)
        on("new_message", self.new_message, inline=True)
        on("leave_room", self.leave_room)
        on("list_rooms", self.list_rooms)
        on("browser_id", self.browser_id)

    def _on(self, event: str, fn: Any, *, inline: bool = False) -> None:
        event_handler(self.sio, event, inline=inline)(fn)

    # connection lifecycle

    async def connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        address = client_address(environ)
        if not self.limiter.connect(sid, address):
            log.warning(
                "refused a connection: too many from its address",
                extra={"address": address, "connections": self.limiter.connections_from(address)},
            )
            self.sio.metrics.rejected("too_many_connections")
            # the browser's connect_error carries err.message and err.data
            raise socketio.exceptions.ConnectionRefusedError(
                "Too many connections from your network address; close some tabs and try again.",
                {"code": "too_many_connections"},
            )
        try:
            client_id = _client_id(auth)
        except socketio.exceptions.ConnectionRefusedError:
            self.limiter.disconnect(sid)
            raise
        holder = self.registry.holder_of_client_id(client_id) if client_id else None
        if holder is not None:
            # The same client is back on a new socket (its old one has not timed out yet): drop the
            # old one now, so that the others hear `bye`/`peer_left` at once and see no ghost.
            log.info("client reconnected: dropping its old socket", extra={"sid": sid, "old_sid": holder})
            await self.sio.disconnect(holder)
        # Whom a removal keeps out, and whom an owner is: the browser id the server signed (a new one
        # for a client without a valid one, issued now), and the address (identity.py).
        browser = self.identities.recognise(auth)
        self.registry.connect(
            sid,
            client_id=client_id,
            key=browser.key,
            address=address_key(address),
            known_since=browser.issued,
            origin=self.origin,
        )
        log.debug("connected", extra={"sid": sid, "transport": _transport(environ)})

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.disconnect(sid)
        owners = {room: self.owner_of(room) for room in self._rooms_of(sid)}
        member, departures = self.registry.disconnect(sid)
        if member is None:
            return
        for departure in departures:
            await self._announce_departure(
                member.as_dict(), departure, skip_sid=sid, owner_before=owners[departure.room]
            )
        if departures:
            await self.broadcast_room_change()
        log.debug(
            "disconnected",
            extra={"sid": sid, "nickname": member.nickname, "rooms": len(departures), "reason": str(reason)},
        )

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
                await self.sio.emit(
                    "nickname_change", {"room": room, "member": member, "old": old}, room=chat_room(room)
                )
            log.info("nickname", extra={"sid": sid, "nickname": nickname, "old": old, "rooms": len(rooms)})
        return ok(nickname=nickname)

    async def enter_room(self, sid: str, room: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        password, private = entry_options(room)
        await self.admit(sid, name, password)
        count, is_new = self.registry.join(sid, name)
        return await self.entered(sid, name, count, is_new, welcome={} if is_new else None, private=private)

    async def entered(
        self, sid: str, name: str, count: int, is_new: bool, *, welcome: dict | None, private: bool = False
    ) -> dict:
        """What follows a join in the room model (by enter_room or join_room); returns the ack.

        A new member is put in the Socket.IO room and, after the ack, everyone hears `room_change`.
        With `welcome` (extra fields of its info), the others in the room hear `welcome` after the ack.
        The first member creates the room (`private`: never listed).
        """
        member = self._member(sid)
        try:
            if is_new:
                if count == 1:  # before any await: other processes learn of the room and its policy together
                    # (a room whose history or bans outlived its members keeps its policy: the
                    # newcomer passed its lock, or is its owner back)
                    self.access.created(name, private=private, owner_key=self.lasting_key(sid))
                    self.history.room_occupied(name)
                await self.sio.enter_room(sid, chat_room(name))
            history = await self.history.recent(name)
            members = [m.as_dict() for m in self.registry.members(name)]
            extra = {k: v for fields in self.entry_fields for k, v in fields(name).items()}
        except Exception:
            if is_new:  # nobody heard of this entry yet: take it back, so that a failure changes nothing
                await self._undo_entry(sid, name)
            raise
        if is_new:
            log.info("enter_room", extra={"room": name, "sid": sid, "nickname": member["nickname"], "count": count})
        if welcome is not None or is_new:

            async def announce() -> None:
                # the ack first, then the others hear of it (the seed's order)
                if welcome is not None and count > 1:  # alone: nobody to tell
                    info = {"room": name, "member": member, **welcome}
                    await self.sio.emit(
                        "welcome", (member["nickname"], count, info), room=chat_room(name), skip_sid=sid
                    )
                if is_new and count > 1 and self.owner_of(name) == sid:
                    await self.announce_settings(name)  # the room's owner is back: it owns the room again
                if is_new:
                    await self.broadcast_room_change()

            after_ack(announce)
        return ok(
            room=name,
            you=member,
            count=len(members),
            members=members,
            history=history,
            settings=self.room_settings(name),
            **extra,
        )

    async def _undo_entry(self, sid: str, name: str) -> None:
        """Take back a membership whose entry failed half-way, quietly: nobody was told of it."""
        if not self.registry.is_member(sid, name):
            return
        departure = self.registry.leave(sid, name)
        await self.sio.leave_room(sid, chat_room(name))
        if departure.count == 0:
            await self._room_emptied(name)

    async def admit(self, sid: str, room: str, password: str | None) -> None:
        """Refuse a newcomer who was removed, a full room, or a locked one without its password, and
        one who is in as many rooms as allowed already."""
        if self.registry.is_member(sid, room):
            return
        await self._admit(sid, room, password)

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

    async def _admit(self, sid: str, room: str, password: str | None) -> None:
        """Refuse entry to a banned member, a full room, or without the room's password.

        The lock holds while the room's policy lasts, members or not (its history stays behind it);
        the room's owner, recognised by its lasting key, comes back without the password."""
        self._check_admission(sid, room)
        lock = self.access.policy(room).password_hash
        if lock is None or self.access.is_owner_key(room, self.lasting_key(sid)):
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
        try:
            self.access.admit(
                room,
                self.ban_key(sid),
                count=self.registry.count_members(room),
                already_member=self.registry.is_member(sid, room),
                now=time.time(),
                **self._identity(sid),
            )
        except Refusal as refusal_:
            raise UserError(refusal_.code, refusal_.message) from None

    async def new_message(self, sid: str, text: Any = None, room: Any = None, *_: Any) -> dict:
        body = self.limits.message(text)
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}; enter it first.")
        author = self._member(sid)
        message = {
            "id": f"{self._message_ids_prefix}{next(self._message_ids):016x}",
            "room": name,
            "author": author,
            "text": body,
            "time": int(time.time() * 1000),
        }
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

    async def leave_room(self, sid: str, room: Any = None, *_: Any) -> dict:
        name = self.limits.room(room)
        await self.remove_from_room(sid, name)
        return ok(room=name)

    async def remove_from_room(self, sid: str, name: str) -> None:
        """Take a member out of a room (leaving it, or removed by its owner) and tell everyone."""
        owner_before = self.owner_of(name)
        try:
            departure = self.registry.leave(sid, name)
        except NotInRoom:
            raise UserError("not_in_room", f"You are not in room {name!r}.") from None
        await self.sio.leave_room(sid, chat_room(name))
        member = self._member(sid)
        await self._announce_departure(member, departure, skip_sid=sid, owner_before=owner_before)
        await self.broadcast_room_change()
        log.info(
            "leave_room", extra={"room": name, "sid": sid, "nickname": member["nickname"], "count": departure.count}
        )

    async def list_rooms(self, sid: str, *_: Any) -> dict:
        return ok(rooms=self.public_rooms())

    async def browser_id(self, sid: str, *_: Any) -> dict:
        """The signed browser id this connection holds, for the page to keep and send back in
        `auth.browserId` (a bearer credential of this browser: never logged)."""
        member = self.registry.member(sid)
        assert member is not None and member.key is not None and member.known_since is not None, sid
        return ok(browserId=self.identities.token(member.key, member.known_since))

    # helpers

    def _member(self, sid: str) -> dict[str, str]:
        member = self.registry.member(sid)
        assert member is not None, sid
        return member.as_dict()

    async def _announce_departure(
        self, member: dict, departure: Departure, *, skip_sid: str, owner_before: str | None
    ) -> None:
        room, count = departure.room, departure.count
        await self.sio.emit(
            "bye",
            (member["nickname"], count, {"room": room, "member": member}),
            room=chat_room(room),
            skip_sid=skip_sid,
        )
        for hook in self.departure_hooks:
            await hook(member, departure)
        if count == 0:
            await self._room_emptied(room)
        elif self.owner_of(room) != owner_before:
            await self.announce_settings(room)

    async def _room_emptied(self, room: str) -> None:
        """The last member left: the history's countdown starts (--history-retention), and the
        room's policy stays while anything of the room does."""
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

    async def departed_elsewhere(
        self, member: Member, departures: list[Departure], owners_before: dict[str, str | None]
    ) -> None:
        """A member of another process is gone without a word (that process died or lost Redis):
        this process tells its own clients, as the member's process would have told everyone."""
        with locally():
            for departure in departures:
                await self._announce_departure(
                    member.as_dict(), departure, skip_sid=member.id, owner_before=owners_before.get(departure.room)
                )

    def ban_key(self, sid: str) -> str:
        """Who the connection is across connections: its browser id, verified by the server."""
        member = self.registry.member(sid)
        return member.key if member is not None and member.key else f"sid:{sid}"

    def ban_keys(self, sid: str) -> list[str]:
        """What a removal holds: the browser id and the address (address bans admit the ids issued
        before them: `_check_admission`)."""
        member = self.registry.member(sid)
        return [self.ban_key(sid), *([member.address] if member is not None and member.address else [])]

    def _identity(self, sid: str) -> dict[str, Any]:
        member = self.registry.member(sid)
        return {"address": member.address, "known_since": member.known_since} if member is not None else {}

    def lasting_key(self, sid: str) -> str | None:
        """The member's key when it names one browser across connections, so that it may
        own a room beyond its socket; None for an address (neighbours share it) or a bare socket."""
        key = self.ban_key(sid)
        return key if key.startswith(LASTING_KEYS) else None

    def _rooms_of(self, sid: str) -> list[str]:
        member = self.registry.member(sid)
        return list(member.rooms) if member else []

    def owner_of(self, room: str) -> str | None:
        return self.access.owner_of(room, [m.id for m in self.registry.members(room)], key_of=self.lasting_key)

    def room_settings(self, room: str) -> dict[str, object]:
        return self.access.policy(room).as_dict(self.owner_of(room))

    async def announce_settings(self, room: str) -> None:
        """Everyone in the room learns who owns it and how it is set (`room_update`)."""
        await self.sio.emit("room_update", {"room": room, **self.room_settings(room)}, room=chat_room(room))

    def public_rooms(self) -> list[dict[str, object]]:
        """The room list anyone may see (room_change, list_rooms, /api/rooms, the home page): the
        --room-list-size busiest public rooms, busiest first (rooms.Registry.busiest_rooms).
        Private rooms are reached by link only. Bounded, because every connection receives it."""
        busiest = self.registry.busiest_rooms(self.room_list_size, lambda room: not self.access.is_private(room))
        return [
            {**summary, "locked": self.access.policy(str(summary["name"])).password_hash is not None}
            for summary in busiest
        ]

    async def broadcast_room_change(self) -> None:
        """Everyone hears `room_change` (the seed's event), merged when changes come faster than
        --room-list-rate (roomlist.py). Each process tells its own connections."""
        await self.room_list.changed()


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


def client_address(environ: dict) -> str:
    """The client's address from the ASGI scope: python-engineio's environ says REMOTE_ADDR=127.0.0.1
    for everyone. uvicorn puts the X-Forwarded-For address there for trusted proxies only."""
    client = (environ.get("asgi.scope") or {}).get("client")
    return client[0] if client else ""


def _client_id(auth: Any) -> str | None:
    """The `clientId` of the connection's auth payload, if any; a malformed one refuses the connection."""
    if not isinstance(auth, dict) or auth.get("clientId") is None:
        return None
    client_id = auth["clientId"]
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise socketio.exceptions.ConnectionRefusedError(
            "auth.clientId must be 8 to 128 letters, digits, '-' or '_' (a random hex string)"
        )
    return client_id


def _transport(environ: dict) -> str:
    query = environ.get("QUERY_STRING", "")
    return "websocket" if "transport=websocket" in query else "polling"
