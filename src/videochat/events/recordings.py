"""Socket.IO `start_recording` and `stop_recording`: the room's owner records the call, and everyone
in the room is told (`recording`), before they join the call too (the entry ack's `recording`).

A recording needs the SFU: Janus writes each stream it receives to a file of its own
(sfu/calls.py), so a call that is peer to peer moves to the SFU when recording starts, and calls
that start while the room is recorded start there. Each recording has a folder,
`<recordings-dir>/<id>/`: `raw/` holds Janus's files, `recording.json` what they are (who sent
each stream, when it began, when the recording stopped). docs/recording.md.

With several processes (--redis, `shared`: cluster/recordings.py) the process that starts a
recording is its home: it keeps recording.json, tells the room, and makes the file. The others
mirror it (`elsewhere`): their people's streams are recorded into the same folder (which every
process and Janus must reach at the same path), each stream's line goes to the home, and a stop
they see (the call ended there, the disk is full) is asked of the home.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

from videochat.events.channels import chat_room
from videochat.events.owners import Owners
from videochat.events.realtime import Event, Server, event_handler
from videochat.events.sfu import SfuSignaling
from videochat.model.callmode import MESH, SFU
from videochat.model.errors import UserError, ok
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.recording.process import ProcessingFailed, process
from videochat.recording.turns import FairTurns

log = logging.getLogger(__name__)

MANIFEST = "recording.json"
RECORDING_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16): never a path of anything else
PROGRESS_STEP = 0.05  # the owner hears of the processing's progress in steps of this share
WATCH_SECONDS = 2.0  # while recording, the disk is looked at this often (--recordings-max-gb)
IDLE_WATCH_SECONDS = 60.0  # otherwise, for recordings past --recordings-retention
MIN_FREE_BYTES = 512 * 1024**2  # the disk keeps this much free, whatever --recordings-max-gb says
MAX_RECORDINGS = 10_000  # kept at once, whatever their size: each is a folder, and a line in memory
MAX_PER_BROWSER = 50  # kept at once by whoever started them (its browser id)
MAX_STREAMS = 200  # streams recorded in one recording (a publisher republishing in a loop: no more)


class Shared(Protocol):
    """Recordings shared by several processes (cluster/recordings.py)."""

    pid: str

    def tell(self, *op: Any) -> None:
        """A change for the other processes' Recordings (`elsewhere`), in order with the events."""
        ...

    async def alive(self) -> set[str]:
        """The processes alive now (their heartbeats in Redis)."""
        ...


@dataclass
class Recording:
    id: str
    room: str
    by: dict[str, str]  # the member who started it, as members are shown
    by_key: str | None  # their browser id's key: who may list, play and delete it (identity.py)
    started: float  # Unix time
    stopped: float | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)  # {sid, nickname, source, base, started}
    state: str = "recording"  # then "processing", then "ready" or "failed"
    progress: float = 0.0  # of the processing, 0 to 1
    error: str | None = None
    finished: float | None = None  # when its processing ended (Unix time): --recordings-retention counts from it
    home: str | None = None  # the process that started it and makes its file (--redis; None: one process)

    def public(self) -> dict[str, Any]:
        """What members are told of it."""
        return {"id": self.id, "by": self.by, "since": int(self.started * 1000)}

    def summary(self) -> dict[str, Any]:
        """What its owner is told of it (list_recordings, recording_file)."""
        ready = self.state == "ready"
        return {
            "id": self.id,
            "room": self.room,
            "since": int(self.started * 1000),
            "duration": round(self.stopped - self.started, 1) if self.stopped is not None else None,
            "state": self.state,
            "progress": round(self.progress, 3),
            **({"error": self.error} if self.error else {}),
            **({"url": f"/recordings/{self.id}"} if ready else {}),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Recording:
        names = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in names})


@dataclass(eq=False, repr=False)
class Recordings:
    sio: Server
    registry: Registry
    limits: Limits
    owners: Owners
    sfu: SfuSignaling | None
    folder: Path  # --recordings-dir
    max_bytes: int = 20 * 1024**3  # --recordings-max-gb
    retention: float = 30 * 86400.0  # --recordings-retention, in seconds (0: kept until deleted)
    active: dict[str, Recording] = field(default_factory=dict)  # room -> its recording under way
    known: dict[str, Recording] = field(default_factory=dict)  # every recording kept, by id
    _tasks: dict[str, asyncio.Task] = field(default_factory=dict)  # processings under way, by id
    _turns: FairTurns = field(default_factory=FairTurns)  # processing: one at a time, in turns
    _watch: asyncio.Task | None = None
    _starting: set[str] = field(default_factory=set)  # rooms whose recording is being started
    _told: set[asyncio.Task] = field(default_factory=set)  # recording_file emits under way
    shared: Shared | None = None  # several processes (--redis)

    def __post_init__(self) -> None:
        if self.sfu is not None:
            self.sfu.calls.recorded = self._stream_recorded
            self.sfu.forced = self.active.keys()  # a recorded room's call is on the SFU

    def register(self) -> None:
        for event, handler in (
            ("start_recording", self.start_recording),
            ("stop_recording", self.stop_recording),
            ("list_recordings", self.list_recordings),
            ("delete_recording", self.delete_recording),
            ("retry_recording", self.retry_recording),
        ):
            event_handler(self.sio, event)(handler)

    # lifecycle

    async def open(self) -> None:
        """Read what is kept; what a stopped (or killed) server left unprocessed is processed now."""
        found = await asyncio.to_thread(_read_all, self.folder)
        self.known.update({recording.id: recording for recording in found})
        alive = await self.shared.alive() if self.shared is not None else set()
        for recording in found:
            if recording.state == "recording" and recording.home in alive:
                await self._mirror(recording)  # another process records it now: so do this one's people
            elif recording.state == "processing" and recording.home in alive:
                continue  # its home makes the file
            elif recording.state in ("recording", "processing"):
                if recording.stopped is None:  # the server died while recording: it ended then
                    recording.stopped = await asyncio.to_thread(_last_written, self.folder / recording.id, recording)
                log.info("processing a recording left unprocessed", extra={"id": recording.id})
                self._process_later(recording)
        self._watch = asyncio.create_task(self._watch_forever(), name="videochat-recordings-watch")

    async def close(self) -> None:
        """The server stops: recordings under way stop, and are processed at the next start."""
        for room in list(self.active):
            recording = self.active.pop(room)
            if not self._home(recording):
                continue  # its home goes on recording it
            recording.stopped = time.time()
            recording.state = "processing"
            self._save(recording)
        tasks = [*self._tasks.values(), *([self._watch] if self._watch is not None else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def state(self, room: str) -> dict[str, Any] | None:
        """The room's recording under way, as the entry ack gives it (None: not recorded)."""
        recording = self.active.get(room)
        return recording.public() if recording is not None else None

    async def start_recording(self, event: Event, room: Any = None, *_: Any) -> dict:
        name = self._owned(event.sid, room)
        if name in self.active:
            return ok(room=name, recording=self.active[name].public())
        if name in self._starting:
            raise UserError("recording_unavailable", "Recording is starting already.")
        self._starting.add(name)
        try:
            return await self._start(event.sid, name)
        finally:
            self._starting.discard(name)

    async def _start(self, sid: str, name: str) -> dict:
        if not self.registry.participants(name):
            raise UserError(
                "recording_unavailable", "Nobody is in the call yet: join it (or wait for someone), then record."
            )
        if len(self.known) >= MAX_RECORDINGS or not await self._room_left():
            raise UserError("recordings_full", "The server's room for recordings is full; delete some first.")
        if self.sfu is None or not self.sfu.available(name):
            raise UserError(
                "recording_unavailable", "Recording needs the media server (SFU), which is not available now."
            )
        participants = self.registry.participants(name)
        if any(not p.sfu for p in participants):
            raise UserError(
                "recording_unavailable", "Someone in the call uses an app that cannot send through the media server."
            )
        member = self.registry.member(sid)
        assert member is not None
        key = member.key
        if key is not None and sum(r.by_key == key for r in self.known.values()) >= MAX_PER_BROWSER:
            raise UserError("recordings_full", f"You keep {MAX_PER_BROWSER} recordings already; delete some first.")
        recording = Recording(
            secrets.token_hex(16),
            name,
            member.as_dict(),
            member.key,
            time.time(),
            home=self.shared.pid if self.shared is not None else None,
        )
        self.known[recording.id] = recording
        await asyncio.to_thread(
            _private_folders, self.folder, self.folder / recording.id, self.folder / recording.id / "raw"
        )
        if not self.registry.participants(name) or self.owners.owner_of(name) != sid:
            # the call ended, or the room changed hands, while the folder was made
            self.known.pop(recording.id, None)
            await asyncio.to_thread(shutil.rmtree, self.folder / recording.id, True)
            raise UserError("recording_unavailable", "The call changed meanwhile; try again.")
        self.active[name] = recording
        self._save(recording)
        await self.sfu.calls.set_recording(name, self.folder / recording.id / "raw")
        if self.shared is not None:  # before the move and the news: the others record from the start
            self.shared.tell("rec_on", name, asdict(recording), str(self.folder / recording.id))
        if participants and self.registry.call_mode(name) == MESH:
            self.registry.set_call_mode(name, SFU)
            await self.sfu.to_sfu(name)  # its publishers record from their first packet
        log.info("recording started", extra={"room": name, "sid": sid, "id": recording.id})
        await self._tell(name)
        return ok(room=name, recording=recording.public())

    async def stop_recording(self, event: Event, room: Any = None, *_: Any) -> dict:
        name = self._owned(event.sid, room)
        if name in self.active:
            await self.stop(name, by=event.sid)
        return ok(room=name, recording=None)

    async def stop(self, room: str, *, by: str | None = None, reason: str | None = None) -> None:
        """Stop the room's recording (its owner asked; or the call ended: `reason`)."""
        recording = self.active.get(room)
        if recording is None:
            return
        if not self._home(recording):
            assert self.shared is not None
            if recording.home in await self.shared.alive():
                self.shared.tell("rec_stop", room, recording.id, by, reason)  # its home stops it, for everyone
                return
            await self._inherit(recording)  # its home died: this process finishes it
        if self.active.get(room) is not recording:
            return  # stopped meanwhile
        del self.active[room]
        recording.stopped = time.time()
        recording.state = "processing"
        if self.sfu is not None:
            await self.sfu.calls.set_recording(room, None)
        if self.shared is not None:
            self.shared.tell("rec_off", room, recording.id)
        self._save(recording)
        self._process_later(recording)
        log.info("recording stopped", extra={"room": room, "id": recording.id, "reason": reason or "asked"})
        member = self.registry.member(by) if by is not None else None
        await self._tell(room, by=member.as_dict() if member is not None else None, reason=reason)

    async def call_ended(self, room: str) -> None:
        await self.stop(room, reason="call_ended")

    async def sfu_lost(self, room: str) -> None:
        await self.stop(room, reason="sfu_lost")

    # the recordings kept: their owner lists, plays (web/recordings.py) and deletes them

    async def list_recordings(self, event: Event, room: Any = None, *_: Any) -> dict:
        """The recordings of `room` that this browser started, the newest first."""
        name = self._member_of(event.sid, room)
        key = self._key(event.sid)
        await self.refresh([r.id for r in self.known.values() if r.room == name] if self.known else [])
        mine = [r for r in self.known.values() if r.room == name and key is not None and r.by_key == key]
        return ok(room=name, recordings=[r.summary() for r in sorted(mine, key=lambda r: -r.started)])

    async def delete_recording(self, event: Event, room: Any = None, recording_id: Any = None, *_: Any) -> dict:
        await self.refresh([recording_id])
        name, recording = self._mine(event.sid, room, recording_id)
        if not await self.delete(recording):
            raise UserError("unknown_recording", "This recording is under way: stop it first.")
        return ok(room=name, id=recording.id)

    async def delete(self, recording: Recording) -> bool:
        """Delete a recording and its folder (False: it is under way; stop it first)."""
        if self.active.get(recording.room) is recording:
            return False
        task = self._tasks.pop(recording.id, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.known.pop(recording.id, None)
        await asyncio.to_thread(shutil.rmtree, self.folder / recording.id, ignore_errors=True)
        log.info("recording deleted", extra={"room": recording.room, "id": recording.id})
        return True

    async def retry_recording(self, event: Event, room: Any = None, recording_id: Any = None, *_: Any) -> dict:
        """Make the file of a recording whose processing failed again (its raw files were kept)."""
        await self.refresh([recording_id])
        name, recording = self._mine(event.sid, room, recording_id)
        if recording.state == "failed":
            self._process_later(recording)
            self._save(recording)
        return ok(room=name, recording=recording.summary())

    # the bounds: --recordings-max-gb while recording, --recordings-retention always

    async def _watch_forever(self) -> None:
        while True:
            idle = max(0.5, min(IDLE_WATCH_SECONDS, self.retention / 4)) if self.retention > 0 else IDLE_WATCH_SECONDS
            await asyncio.sleep(WATCH_SECONDS if self.active else idle)
            try:
                if self.active and not await self._room_left():
                    log.warning("recordings reached --recordings-max-gb: stopping those under way")
                    for room in list(self.active):
                        await self.stop(room, reason="quota")
                await self._expire(time.time())
            except Exception:
                log.exception("watching the recordings failed; trying again")

    async def _room_left(self) -> bool:
        used, free = await asyncio.to_thread(_usage, self.folder)
        return used < self.max_bytes and free > MIN_FREE_BYTES

    async def _expire(self, now: float) -> None:
        if self.retention <= 0:
            return
        for recording in list(self.known.values()):
            ended = recording.finished if recording.state in ("ready", "failed") else None
            if ended is not None and ended < now - self.retention and recording.id not in self._tasks:
                del self.known[recording.id]
                await asyncio.to_thread(shutil.rmtree, self.folder / recording.id, True)
                log.info("recording expired", extra={"id": recording.id, "room": recording.room})

    async def refresh(self, recording_ids: list[Any] | None = None) -> None:
        """Several processes (--redis): what another process did to recordings (made their file,
        deleted them, made new ones while this one was away) is read from their folders: the
        given ones, or all. Those this process records or processes itself are its own truth."""
        if self.shared is None:
            return
        if recording_ids is None:
            found = await asyncio.to_thread(_read_all, self.folder)
            on_disk = {recording.id: recording for recording in found}
            recording_ids = sorted(set(self.known) | set(on_disk))
        else:
            recording_ids = [i for i in recording_ids if isinstance(i, str) and RECORDING_ID.fullmatch(i)]
            on_disk = {}
            for recording_id in recording_ids:
                kept = await asyncio.to_thread(_read_one, self.folder / recording_id)
                if kept is not None:
                    on_disk[recording_id] = kept
        busy = {r.id for r in self.active.values()} | set(self._tasks)
        for recording_id in recording_ids:
            if recording_id in busy:
                continue
            if recording_id in on_disk:
                self.known[recording_id] = on_disk[recording_id]
            else:
                self.known.pop(recording_id, None)

    def owned_by(self, recording_id: str, key: str | None) -> Recording | None:
        """The recording `recording_id`, if the browser of `key` started it (web/recordings.py)."""
        recording = self.known.get(recording_id)
        return recording if recording is not None and key is not None and recording.by_key == key else None

    # processing: one at a time, in turns between those who recorded, in the background
    # (recording/turns.py, recording/process.py)

    def _process_later(self, recording: Recording) -> None:
        recording.state, recording.progress, recording.error = "processing", 0.0, None
        self._tasks[recording.id] = asyncio.create_task(
            self._process(recording), name=f"videochat-recording-{recording.id}"
        )

    async def _process(self, recording: Recording) -> None:
        told = -1.0

        def progress(share: float) -> None:
            nonlocal told
            recording.progress = share
            if share - told >= PROGRESS_STEP or share >= 1.0:
                told = share
                self._tell_owner(recording)

        try:
            async with self._turns.turn(recording.by_key or recording.id):
                assert recording.stopped is not None
                owners = {s["base"]: f"{s['sid']}:{s['source']}" for s in recording.streams}
                names = {f"{s['sid']}:{s['source']}": _label(s) for s in recording.streams}
                await process(self.folder / recording.id, recording.started, recording.stopped, progress, owners, names)
            recording.state = "ready"
            log.info("recording ready", extra={"id": recording.id, "room": recording.room})
        except ProcessingFailed as error:
            recording.state, recording.error = "failed", str(error)
            log.warning("recording failed", extra={"id": recording.id, "reason": str(error)})
        except asyncio.CancelledError:
            raise  # the server stops (processed at the next start) or the recording was deleted
        except Exception:
            log.exception("processing a recording failed", extra={"id": recording.id})
            recording.state, recording.error = "failed", "The recording could not be processed; its raw files are kept."
        finally:
            self._tasks.pop(recording.id, None)
        recording.finished = time.time()
        if recording.id in self.known:
            self._save(recording)
            self._tell_owner(recording)

    def _tell_owner(self, recording: Recording) -> None:
        """`recording_file` to the pages of whoever started it, in its room now."""
        for member in self.registry.members(recording.room):
            if member.key is not None and member.key == recording.by_key:
                task = asyncio.ensure_future(self.sio.emit("recording_file", recording.summary(), to=member.id))
                self._told.add(task)
                task.add_done_callback(self._told.discard)

    def _mine(self, sid: str, room: Any, recording_id: Any) -> tuple[str, Recording]:
        """The room, and the recording of it this browser started (unknown_recording otherwise)."""
        name = self._member_of(sid, room)
        recording = self.known.get(recording_id) if isinstance(recording_id, str) else None
        key = self._key(sid)
        if recording is None or recording.room != name or key is None or recording.by_key != key:
            raise UserError("unknown_recording", "There is no such recording of yours in this room.")
        return name, recording

    def _member_of(self, sid: str, room: Any) -> str:
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}.")
        return name

    def _key(self, sid: str) -> str | None:
        member = self.registry.member(sid)
        return member.key if member is not None else None

    def _owned(self, sid: str, room: Any) -> str:
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}.")
        if self.owners.owner_of(name) != sid:
            raise UserError("not_owner", f"Only the owner of room {name!r} may record it.")
        return name

    def _stream_recorded(self, room: str, sid: str, source: str, base: Path) -> None:
        recording = self.active.get(room)
        if recording is None or len(recording.streams) >= MAX_STREAMS:
            return
        member = self.registry.member(sid)
        stream = {
            "sid": sid,
            "nickname": member.nickname if member is not None else "",
            "source": source,
            "base": base.name,
            "started": time.time(),
        }
        recording.streams.append(stream)
        if not self._home(recording):
            assert self.shared is not None
            self.shared.tell("rec_stream", recording.id, stream)  # its home keeps recording.json
            return
        self._save(recording)

    # several processes (--redis): what the others tell

    def _home(self, recording: Recording) -> bool:
        return self.shared is None or recording.home in (None, self.shared.pid)

    async def _mirror(self, recording: Recording, folder: Path | None = None) -> None:
        """A recording another process started: this process's people in the call are recorded too."""
        self.known[recording.id] = recording
        self.active[recording.room] = recording
        if self.sfu is not None:
            await self.sfu.calls.set_recording(recording.room, (folder or self.folder / recording.id) / "raw")

    async def homes_alive(self, alive: set[str]) -> None:
        """Now and then (cluster/sync.py's heartbeat): a recording whose home died goes on, and the
        living process with the smallest id becomes its home."""
        heir = min(alive)
        for recording in list(self.active.values()):
            if recording.home is None or recording.home in alive:
                continue
            if self.shared is not None and heir == self.shared.pid:
                await self._inherit(recording)
            else:
                recording.home = heir

    async def _inherit(self, recording: Recording) -> None:
        """This process becomes the home of a recording whose home died, with every stream that
        home wrote down and those of this process's people."""
        assert self.shared is not None
        log.warning("a recording's process is gone: this one finishes it", extra={"id": recording.id})
        recording.home = self.shared.pid
        kept = await asyncio.to_thread(_read_one, self.folder / recording.id)
        known = {s.get("base") for s in recording.streams}
        recording.streams += [s for s in (kept.streams if kept else []) if s.get("base") not in known]
        self._save(recording)

    async def elsewhere(self, op: list) -> None:
        kind = op[0]
        if kind == "rec_on":
            started = Recording.from_data(op[2])
            if started.room == op[1] and started.home is not None:
                await self._mirror(started, Path(op[3]))
        elif kind == "rec_off":
            stopped = self.active.get(op[1])
            if stopped is not None and stopped.id == op[2] and not self._home(stopped):
                del self.active[op[1]]
                stopped.state = "processing"
                if self.sfu is not None:
                    await self.sfu.calls.set_recording(op[1], None)
        elif kind == "rec_stop":
            asked = self.active.get(op[1])
            if asked is not None and asked.id == op[2] and self._home(asked):
                await self.stop(op[1], by=op[3] if isinstance(op[3], str) else None, reason=op[4] or None)
        elif kind == "rec_stream":
            recording = self.known.get(op[1])
            stream = op[2]
            if (
                recording is not None
                and self._home(recording)
                and self.active.get(recording.room) is recording
                and isinstance(stream, dict)
                and len(recording.streams) < MAX_STREAMS
            ):
                recording.streams.append(
                    {key: stream.get(key) for key in ("sid", "nickname", "source", "base", "started")}
                )
                self._save(recording)

    def _save(self, recording: Recording) -> None:
        """recording.json, replaced whole (small: a line per stream)."""
        folder = self.folder / recording.id
        temporary = folder / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(asdict(recording), ensure_ascii=False), encoding="utf-8")
        temporary.replace(folder / MANIFEST)

    async def _tell(self, room: str, *, by: dict | None = None, reason: str | None = None) -> None:
        recording = self.active.get(room)
        info: dict[str, Any] = {"room": room, "recording": recording.public() if recording is not None else None}
        if by is not None:
            info["by"] = by
        if reason is not None:
            info["reason"] = reason
        await self.sio.emit("recording", info, room=chat_room(room))


def _label(stream: dict[str, Any]) -> str:
    """What a stream's tile says in the recording's file: the name, and "(screen)" for a screen."""
    name = str(stream.get("nickname", ""))
    return f"{name} (screen)" if stream.get("source") == "screen" else name


def _read_all(folder: Path) -> list[Recording]:
    """Every recording kept in `folder` (a folder without a readable recording.json is skipped)."""
    if not folder.is_dir():
        return []
    return [recording for entry in folder.iterdir() if (recording := _read_one(entry)) is not None]


def _read_one(folder: Path) -> Recording | None:
    """The recording kept in `folder`, or None."""
    try:
        return Recording.from_data(json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _usage(folder: Path) -> tuple[int, int]:
    """(bytes the recordings take, bytes free on their disk)."""
    used = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                used += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    existing = next((path for path in (folder, *folder.parents) if path.exists()), folder)
    try:
        free = shutil.disk_usage(existing).free
    except OSError:
        free = 0
    return used, free


def _last_written(folder: Path, recording: Recording) -> float:
    """When the last raw file of a recording cut off by a crash was last written."""
    times = [path.stat().st_mtime for path in (folder / "raw").glob("*.mjr")]
    return max([recording.started, *times])


def _private_folders(*folders: Path) -> None:
    """Folders only this user may enter: recordings hold people's voices and faces."""
    for folder in folders:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
