"""A kept file served as a download (files in the chat, recordings): its size and date read off the
event loop, and a file deleted meanwhile (a sweep, an owner's delete, another process) answered
with `missing` rather than an error page."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from starlette.responses import FileResponse, Response


async def attachment(
    path: Path, *, media_type: str, filename: str, headers: Mapping[str, str], missing: Response
) -> Response:
    try:
        found = await asyncio.to_thread(os.stat, path)
    except OSError:
        return missing
    if not stat.S_ISREG(found.st_mode):
        return missing
    # opened when the answer starts: a file deleted after this is still read whole (its inode lives
    # while it is open); one deleted in between fails that one answer, never the server
    return FileResponse(path, media_type=media_type, filename=filename, headers=dict(headers), stat_result=found)
