"""`/files/<id>`: the bytes of a file in a room's chat. PUT stores them, with the ticket `upload_file`
gave (events/files.py); GET and HEAD serve them, to members of the file's room only.

Who asks a GET is told by the cookie `videochat_browser` (web/cookies.py); the server checks it,
then whether that browser is in the file's room now, on every request: a link passed on, or kept
after leaving, opens nothing.

What is served is never shown as a page of ours: always an attachment, as an image type only when
the file's first bytes are one (model/files.py), with `nosniff` and a CSP that allows nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from videochat.events.chat import Chat
from videochat.events.files import Files
from videochat.events.identity import BrowserIds
from videochat.model.errors import UserError, failure, ok
from videochat.model.files import FILE_ID
from videochat.model.rooms import Registry
from videochat.storage.uploads import Uploads
from videochat.web.attachments import attachment
from videochat.web.cookies import browser_key

log = logging.getLogger(__name__)

TICKET_HEADER = "x-upload-ticket"
IDLE_SECONDS = 30.0  # an upload that sends nothing for this long is dropped
UPLOAD_SECONDS = 3600.0  # and one that takes longer than this (a trickle holding a reservation)
STATUS = {
    "invalid_ticket": 403,
    "not_in_room": 403,
    "file_too_large": 413,
    "too_many_uploads": 429,
    "uploads_full": 507,
    "upload_incomplete": 400,
}
TOO_SLOW = UserError("upload_incomplete", f"The upload took longer than {UPLOAD_SECONDS:.0f} s and was dropped.")
DOWNLOAD_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}
GONE = PlainTextResponse("No such file: it may have left the room's chat history.\n", status_code=404)


class FileRoutes:
    def __init__(self, files: Files, chat: Chat, uploads: Uploads, identities: BrowserIds, registry: Registry) -> None:
        self.files = files
        self.chat = chat
        self.uploads = uploads
        self.identities = identities
        self.registry = registry
        self.idle_seconds = IDLE_SECONDS
        self._receiving: set[str] = set()  # file ids whose bytes are coming in this process

    def routes(self) -> list[Route]:
        return [Route("/files/{file_id}", self.serve, methods=["GET", "HEAD", "PUT"])]

    async def serve(self, request: Request) -> Response:
        if request.method == "PUT":
            return await self.upload(request)
        return await self.download(request)

    async def upload(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        try:
            ticket = self.files.check(request.headers.get(TICKET_HEADER), file_id)
            if await self.uploads.find(file_id) is not None or file_id in self._receiving:
                raise UserError("invalid_ticket", "This upload's ticket was used already; ask again.")
            length = request.headers.get("content-length")
            if length is not None and length.isdigit() and int(length) > ticket.size:
                raise UserError("file_too_large", f"This upload's ticket is for {ticket.size} bytes.")
            self._receiving.add(file_id)
            try:
                with self.files.under_way(ticket), self.uploads.reserve(ticket.size):
                    async with asyncio.timeout(UPLOAD_SECONDS):
                        stored = await self.uploads.receive(
                            file_id, ticket.room, ticket.name, ticket.size, self._stream(request)
                        )
            finally:
                self._receiving.discard(file_id)
            try:
                sender = self.files.uploader(ticket)
            except UserError:  # left (or was removed) meanwhile
                self.uploads.discard(stored)
                raise
            message = await self.chat.file_message(sender, stored)
        except UserError as error:
            return JSONResponse(failure(error), status_code=STATUS.get(error.code, 400))
        except TimeoutError:
            return JSONResponse(failure(TOO_SLOW), status_code=400)
        except ClientDisconnect:
            log.info("upload cancelled", extra={"id": file_id})
            return Response(status_code=400)  # nobody reads it; nothing was kept
        return JSONResponse(ok(message=message), status_code=201)

    async def _stream(self, request: Request) -> AsyncIterator[bytes]:
        chunks = request.stream().__aiter__()
        while True:
            try:
                async with asyncio.timeout(self.idle_seconds):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise UserError(
                    "upload_incomplete", f"Nothing came for {self.idle_seconds:.0f} s; the upload was dropped."
                ) from None
            yield chunk

    async def download(self, request: Request) -> Response:
        file_id = request.path_params["file_id"]
        found = await self.uploads.find(file_id) if FILE_ID.fullmatch(file_id) else None
        if found is None:
            return GONE
        stored, path = found
        if not self._member_of(request, stored.room):
            return PlainTextResponse(
                "Only the people in the room can download its files: enter the room, then try again.\n",
                status_code=403,
            )
        return await attachment(
            path, media_type=stored.type, filename=stored.name, headers=DOWNLOAD_HEADERS, missing=GONE
        )

    def _member_of(self, request: Request, room: str) -> bool:
        key = browser_key(request, self.identities)
        return key is not None and any(member.key == key for member in self.registry.members(room))
