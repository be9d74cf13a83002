"""`/recordings/<id>`: a recording's file (recording.mp4), and `/recordings/<id>/tracks/<name>` the
playable file of each stream in it, to the browser that started the recording only (its cookie:
web/cookies.py), checked on every request. Attachments, with Range (seeking in a player).
`/admin/recordings` lists every recording, and `/admin/recordings/<id>` serves or deletes one, to
the operator: the admin UI's user name and password (HTTP Basic), braked per address as its logins."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from videochat.events.identity import BrowserIds
from videochat.events.recordings import RECORDING_ID, Recordings
from videochat.recording.process import OUTPUT, TRACKS
from videochat.web.admin import Admin
from videochat.web.attachments import attachment
from videochat.web.cookies import browser_key

TRACK_NAME = re.compile(r"[0-9]{4,6}(p[0-9a-f]{8})?-(camera|screen)-(audio|video)-[0-9]{1,2}\.(opus|webm)")
HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; media-src 'self'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}
TYPES = {"mp4": "video/mp4", "webm": "video/webm", "opus": "audio/ogg"}


class RecordingRoutes:
    def __init__(self, recordings: Recordings, identities: BrowserIds, admin: Admin) -> None:
        self.recordings = recordings
        self.identities = identities
        self.admin = admin

    def routes(self) -> list[Route]:
        return [
            Route("/recordings/{recording_id}", self.recording, methods=["GET", "HEAD"]),
            Route("/recordings/{recording_id}/tracks/{name}", self.track, methods=["GET", "HEAD"]),
            # the operator's: every recording, with the admin UI's credentials (HTTP Basic)
            Route("/admin/recordings", self.admin_list, methods=["GET"]),
            Route("/admin/recordings/{recording_id}", self.admin_one, methods=["GET", "HEAD", "DELETE"]),
        ]

    async def admin_list(self, request: Request) -> Response:
        refused = await self.admin.refusal(request)
        if refused is not None:
            return refused
        await self.recordings.refresh()
        listed = sorted(self.recordings.known.values(), key=lambda r: -r.started)
        sizes = await asyncio.to_thread(lambda: [_size(self.recordings.folder / r.id) for r in listed])
        return JSONResponse(
            {"recordings": [{**r.summary(), "by": r.by, "size": size} for r, size in zip(listed, sizes, strict=True)]},
            headers={"Cache-Control": "no-store"},
        )

    async def admin_one(self, request: Request) -> Response:
        refused = await self.admin.refusal(request)
        if refused is not None:
            return refused
        recording_id = request.path_params["recording_id"]
        if RECORDING_ID.fullmatch(recording_id):
            await self.recordings.refresh([recording_id])
        recording = self.recordings.known.get(recording_id) if RECORDING_ID.fullmatch(recording_id) else None
        if recording is None:
            return NOT_FOUND
        if request.method == "DELETE":
            if not await self.recordings.delete(recording):
                return PlainTextResponse(
                    "This recording is under way: its room's owner stops it first.\n", status_code=409
                )
            return JSONResponse({"ok": True, "id": recording_id})
        if recording.state != "ready":
            return NOT_FOUND
        return await attachment(
            self.recordings.folder / recording_id / OUTPUT,
            media_type="video/mp4",
            filename=f"recording-{recording_id[:8]}.mp4",
            headers=HEADERS,
            missing=NOT_FOUND,
        )

    async def recording(self, request: Request) -> Response:
        return await self._serve(request, OUTPUT)

    async def track(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not TRACK_NAME.fullmatch(name):
            return NOT_FOUND
        return await self._serve(request, f"{TRACKS}/{name}")

    async def _serve(self, request: Request, relative: str) -> Response:
        recording_id = request.path_params["recording_id"]
        if not RECORDING_ID.fullmatch(recording_id):
            return NOT_FOUND
        await self.recordings.refresh([recording_id])
        recording = self.recordings.owned_by(recording_id, browser_key(request, self.identities))
        if recording is None:
            return REFUSED
        path = self.recordings.folder / recording_id / relative
        if recording.state != "ready":
            return NOT_FOUND
        kind = TYPES[path.suffix.lstrip(".")]
        filename = f"recording-{recording.room}-{recording_id[:8]}{path.suffix}" if relative == OUTPUT else path.name
        # an attachment when opened; a <video> of the owner's page plays it all the same
        return await attachment(path, media_type=kind, filename=filename, headers=HEADERS, missing=NOT_FOUND)


def _size(folder: Path) -> int:
    """Bytes of a recording's files (one deleted meanwhile counts nothing)."""
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
    return total


NOT_FOUND = PlainTextResponse("No such recording file (it may still be processing, or deleted).\n", status_code=404)
REFUSED = PlainTextResponse(
    "Only the person who started a recording can open it, from the browser they recorded with.\n", status_code=403
)
