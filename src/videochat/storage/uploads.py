"""The chat's files on disk (--uploads-dir; with several processes, one folder they all share).

    <id>            a file's bytes (0600); the id is 32 random hex digits (model/files.py)
    <id>.json       what it is: {room, name, size, type, time}, written after the bytes are in place
    .part-<id>-<r>  an upload under way; renamed to <id> only once every byte came

An upload is written to its part file and linked to its id only when complete, so an upload cut off
in the middle (the browser cancelled, the connection dropped, more or fewer bytes than announced)
leaves nothing behind but a part file that is deleted at once, or, after a crash, by the next sweep.
Linking fails if the id exists: a ticket is good for one file, across processes too.

A file lives as long as its message is in its room's history (the last --history-size messages,
until the room's history expires): `sweep` deletes the others, and holds the files together to
--uploads-max-gb (`max_bytes`) by refusing uploads that would pass it. Writes are small (at most
WRITE_BATCH) and done on the event loop: a thread writing to a descriptor that a cancelled upload
closes could write into another file; the folder is scanned on a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from videochat.model.errors import UserError
from videochat.model.files import FILE_ID, SNIFF_BYTES, content_type, describe_size

log = logging.getLogger(__name__)

WRITE_BATCH = 256 * 1024  # bytes gathered before a write
PART_MAX_AGE = 6 * 3600.0  # a part file this old belongs to no upload under way (a crash left it)
MIN_FREE_BYTES = 256 * 1024 * 1024  # the disk keeps this much free, whatever --uploads-max-gb says
PART_PREFIX = ".part-"


@dataclass(frozen=True)
class StoredFile:
    id: str
    room: str
    name: str
    size: int
    type: str
    time: float  # Unix time it was stored


class Uploads:
    def __init__(self, folder: Path, *, max_bytes: int, grace: float, min_free: int = MIN_FREE_BYTES) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        # a file whose message is not (yet) in the history is kept this long: its message is on its way
        self.grace = grace
        self.min_free = min_free
        self._used = 0  # bytes of stored files: the last scan's count, and what this process did since
        self._reserved = 0  # bytes of uploads under way in this process
        self._index: dict[str, StoredFile] = {}

    async def open(self) -> None:
        await asyncio.to_thread(self.folder.mkdir, parents=True, exist_ok=True)
        await self._rescan(time.time())

    @property
    def used(self) -> int:
        return self._used

    # uploading

    @contextlib.contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """Hold `size` bytes of the quota while an upload is under way; uploads_full if it is not there."""
        if not self.has_room_for(size):
            raise UserError("uploads_full", "The server has no more room for files now; try again later.")
        self._reserved += size
        try:
            yield
        finally:
            self._reserved -= size

    def has_room_for(self, size: int) -> bool:
        if self._used + self._reserved + size > self.max_bytes:
            return False
        try:
            free = shutil.disk_usage(self.folder).free
        except OSError:
            return False
        return free - self._reserved - size >= self.min_free

    async def receive(self, file_id: str, room: str, name: str, size: int, body: AsyncIterator[bytes]) -> StoredFile:
        """Store exactly `size` bytes from `body` as file `file_id`; nothing is kept unless all came."""
        if not FILE_ID.fullmatch(file_id):
            raise ValueError(file_id)
        part = self.folder / f"{PART_PREFIX}{file_id}-{secrets.token_hex(4)}"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            received, head, batch = 0, b"", bytearray()
            async for chunk in body:
                received += len(chunk)
                if received > size:
                    raise UserError("file_too_large", f"More than the {describe_size(size)} announced came.")
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                batch += chunk
                if len(batch) >= WRITE_BATCH:
                    _write_all(fd, batch)
                    batch.clear()
            _write_all(fd, batch)
            if received != size:
                raise UserError("upload_incomplete", f"The upload ended after {received} of {size} bytes.")
            os.close(fd)
            fd = -1
            stored = StoredFile(file_id, room, name, size, content_type(head), time.time())
            self._place(part, stored)
        finally:
            if fd >= 0:
                os.close(fd)
            part.unlink(missing_ok=True)
        self._used += size
        self._index[file_id] = stored
        return stored

    def discard(self, stored: StoredFile) -> None:
        """Delete a file just stored that will not be shown after all (its uploader left the room)."""
        self._delete([stored])
        self._index.pop(stored.id, None)
        self._used -= stored.size

    def _place(self, part: Path, stored: StoredFile) -> None:
        try:
            os.link(part, self.folder / stored.id)
        except FileExistsError:
            raise UserError("invalid_ticket", "This upload's ticket was used already; ask again.") from None
        info = self.folder / f"{PART_PREFIX}{stored.id}.json"
        info.write_text(json.dumps(asdict(stored), ensure_ascii=False), encoding="utf-8")
        info.replace(self.folder / f"{stored.id}.json")

    # reading

    async def find(self, file_id: str) -> tuple[StoredFile, Path] | None:
        """The stored file `file_id` names (None if the id is not one, or no such file is kept)."""
        if not FILE_ID.fullmatch(file_id):
            return None
        stored = self._index.get(file_id)
        if stored is None:  # stored by another process, or before a restart
            stored = await asyncio.to_thread(self._read_info, file_id)
            if stored is None:
                return None
            self._index[file_id] = stored
        path = self.folder / file_id
        if not path.exists():  # deleted by another process's sweep
            self._index.pop(file_id, None)
            return None
        return stored, path

    def _read_info(self, file_id: str) -> StoredFile | None:
        try:
            data = json.loads((self.folder / f"{file_id}.json").read_text(encoding="utf-8"))
            stored = StoredFile(**data)
        except (OSError, ValueError, TypeError):
            return None
        return stored if stored.id == file_id else None

    # keeping the folder to what the history shows

    async def sweep(self, kept: Callable[[str], Awaitable[Collection[str]]], now: float | None = None) -> int:
        """Delete the files whose message left their room's history (`kept(room)`: the message ids
        the room's history holds), and part files a crash left; count the bytes again. Returns how
        many files were deleted."""
        now = time.time() if now is None else now
        files = await self._rescan(now)
        by_room: dict[str, list[StoredFile]] = {}
        for stored in files:
            if stored.time < now - self.grace:
                by_room.setdefault(stored.room, []).append(stored)
        doomed: list[StoredFile] = []
        for room, stored_files in by_room.items():
            ids = set(await kept(room))
            doomed.extend(stored for stored in stored_files if stored.id not in ids)
        if doomed:
            await asyncio.to_thread(self._delete, doomed)
            for stored in doomed:
                self._index.pop(stored.id, None)
                self._used -= stored.size
            log.info("deleted %d file(s) no longer in their rooms' history", len(doomed))
        return len(doomed)

    async def _rescan(self, now: float) -> list[StoredFile]:
        """Count the folder again (on a thread, which reads but never changes this object)."""
        used, found = await asyncio.to_thread(self._scan, now, dict(self._index))
        self._index = {stored.id: stored for stored in found}
        self._used = used
        return found

    def _scan(self, now: float, known: dict[str, StoredFile]) -> tuple[int, list[StoredFile]]:
        used, found = 0, []
        for entry in os.scandir(self.folder):
            name = entry.name
            try:
                if name.startswith(PART_PREFIX):
                    if entry.stat().st_mtime < now - PART_MAX_AGE:
                        os.unlink(entry.path)
                elif FILE_ID.fullmatch(name):
                    info = entry.stat()
                    stored = known.get(name) or self._read_info(name)
                    if stored is not None:
                        used += info.st_size
                        found.append(stored)
                    elif info.st_mtime < now - PART_MAX_AGE:  # a crash came between the bytes and their .json
                        os.unlink(entry.path)
                    else:
                        used += info.st_size
            except FileNotFoundError:
                continue  # another process deleted it meanwhile
        return used, found

    def _delete(self, doomed: list[StoredFile]) -> None:
        for stored in doomed:
            for path in (self.folder / f"{stored.id}.json", self.folder / stored.id):
                path.unlink(missing_ok=True)


def _write_all(fd: int, data: bytearray) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
