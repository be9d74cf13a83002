"""`/recordings/<id>`: a recording's file (recording.mp4), and `/recordings/<id>/tracks/<name>` the
playable file of each stream in it, to the browser that started the recording only (its cookie:
web/cookies.py), checked on every request. Attachments, with Range (seeking in a player)."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from videochat.events.identity import BrowserIds
from videochat.events.recordings import Recordings
from videochat.recording.process import OUTPUT, TRACKS
from videochat.web.cookies import browser_key

RECORDING_ID = re.compile(r"[0-9a-f]{32}")
TRACK_NAME = re.compile(r"[0-9]{4}-(camera|screen)-(audio|video)-[0-9]{1,2}\.(opus|webm)")
HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; media-src 'self'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
}
TYPES = {"mp4": "video/mp4", "webm": "video/webm", "opus": "audio/ogg"}


class RecordingRoutes:
    def __init__(self, recordings: Recordings, identities: BrowserIds) -> None:
        self.recordings = recordings
        self.identities = identities

    def routes(self) -> list[Route]:
        return [
            Route("/recordings/{recording_id}", self.recording, methods=["GET", "HEAD"]),
            Route("/recordings/{recording_id}/tracks/{name}", self.track, methods=["GET", "HEAD"]),
        ]

    async def recording(self, request: Request) -> Response:
        return self._serve(request, OUTPUT)

    async def track(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not TRACK_NAME.fullmatch(name):
            return NOT_FOUND
        return self._serve(request, f"{TRACKS}/{name}")

    def _serve(self, request: Request, relative: str) -> Response:
        recording_id = request.path_params["recording_id"]
        if not RECORDING_ID.fullmatch(recording_id):
            return NOT_FOUND
        recording = self.recordings.owned_by(recording_id, browser_key(request, self.identities))
        if recording is None:
            return REFUSED
        path = self.recordings.folder / recording_id / relative
        if recording.state != "ready" or not path.is_file():
            return NOT_FOUND
        kind = TYPES[path.suffix.lstrip(".")]
        filename = f"recording-{recording.room}-{recording_id[:8]}{path.suffix}" if relative == OUTPUT else path.name
        # an attachment when opened; a <video> of the owner's page plays it all the same
        return FileResponse(path, media_type=kind, filename=filename, headers=HEADERS)


NOT_FOUND = PlainTextResponse("No such recording file (it may still be processing, or deleted).\n", status_code=404)
REFUSED = PlainTextResponse(
    "Only the person who started a recording can open it, from the browser they recorded with.\n", status_code=403
)
