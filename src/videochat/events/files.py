"""Socket.IO `upload_file`: a member asks to put a file into its room's chat, and gets a ticket for
the HTTP PUT that carries the bytes (model/files.py says why two steps; web/files.py takes the PUT).
Every bound is checked here, before a byte moves: the size, the uploads under way of the connection
and of its address, the bytes the address may upload, the room left on disk."""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from videochat.events.realtime import Event, Server, event_handler
from videochat.model.errors import UserError, ok
from videochat.model.files import (
    TICKET_SECONDS,
    UPLOADS_PER_ADDRESS,
    UPLOADS_PER_CONNECTION,
    Ticket,
    Tickets,
    UploadBudget,
    file_name,
    file_size,
    new_file_id,
)
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.storage.uploads import Uploads


@dataclass(eq=False, repr=False)
class Files:
    sio: Server
    registry: Registry
    limits: Limits
    uploads: Uploads
    tickets: Tickets
    max_bytes: int  # --max-upload-mb
    budget: UploadBudget = field(init=False)
    # uploads under way in this process, by connection and by address
    _under_way: collections.Counter[str] = field(default_factory=collections.Counter)

    def __post_init__(self) -> None:
        self.budget = UploadBudget(max(self.max_bytes, 1))

    def register(self) -> None:
        event_handler(self.sio, "upload_file")(self.upload_file)

    async def upload_file(self, event: Event, room: Any = None, info: Any = None, *_: Any) -> dict:
        """Leave to upload one file of `info` {name, size} into `room`'s chat: `upload` {id, url,
        ticket, expires} in the ack, for an HTTP PUT of exactly that many bytes."""
        sid = event.sid
        if self.max_bytes <= 0:
            raise UserError("files_off", "This server takes no files.")
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}; enter it first.")
        if not isinstance(info, dict):
            raise UserError("invalid_file", "upload_file takes the room and {name, size}.")
        shown_name = file_name(info.get("name"))
        size = file_size(info.get("size"), self.max_bytes)
        address = self._address(sid)
        self._check_under_way(sid, address)
        if not self.uploads.has_room_for(size):
            raise UserError("uploads_full", "The server has no more room for files now; try again later.")
        if not self.budget.take(address, size, time.monotonic()):
            raise UserError("too_many_uploads", "You have uploaded a lot in a short time; wait a minute and try again.")
        member = self.registry.member(sid)
        key = member.key if member is not None else None
        ticket = Ticket(new_file_id(), name, sid, shown_name, size, time.time() + TICKET_SECONDS, key)
        return ok(
            upload={
                "id": ticket.id,
                "url": f"/files/{ticket.id}",
                "ticket": self.tickets.issue(ticket),
                "name": shown_name,
                "size": size,
                "expires": int(ticket.expires * 1000),
            }
        )

    def check(self, token: object, file_id: str) -> Ticket:
        """The ticket of a PUT, if valid and its browser still in its room."""
        ticket = self.tickets.check(token, file_id, time.time())
        self.uploader(ticket)
        return ticket

    def uploader(self, ticket: Ticket) -> str:
        """The connection the file is from: the ticket's, or, if that page reconnected meanwhile,
        the new connection of the same browser in the room. not_in_room if the browser left."""
        if self.registry.is_member(ticket.sid, ticket.room):
            return ticket.sid
        if ticket.key is not None:
            for member in self.registry.members(ticket.room):
                if member.key == ticket.key:
                    return member.id
        raise UserError("not_in_room", f"You are no longer in room {ticket.room!r}.")

    @contextlib.contextmanager
    def under_way(self, ticket: Ticket) -> Iterator[None]:
        """Count an upload while its bytes come (too_many_uploads beyond the bounds)."""
        address = self._address(ticket.sid)
        self._check_under_way(ticket.sid, address)
        self._under_way.update((ticket.sid, address))
        try:
            yield
        finally:
            self._under_way.subtract((ticket.sid, address))
            for key in (ticket.sid, address):
                if self._under_way[key] <= 0:
                    del self._under_way[key]

    def _check_under_way(self, sid: str, address: str) -> None:
        if self._under_way[sid] >= UPLOADS_PER_CONNECTION or self._under_way[address] >= UPLOADS_PER_ADDRESS:
            raise UserError("too_many_uploads", "Too many uploads under way at once; wait for one to finish.")

    def _address(self, sid: str) -> str:
        member = self.registry.member(sid)
        address = member.address if member is not None else None
        return address or f"connection:{sid}"
