"""Socket.IO `start_recording` and `stop_recording`: the room's owner records the call, and everyone
in the room is told (`recording`), before they join the call too (the entry ack's `recording`).

A recording needs the SFU: Janus writes each stream it receives to a file of its own
(sfu/calls.py), so a call that is peer to peer moves to the SFU when recording starts, and calls
that start while the room is recorded start there. Each recording has a folder,
`<recordings-dir>/<id>/`: `raw/` holds Janus's files, `recording.json` what they are (who sent
each stream, when it began, when the recording stopped). docs/recording.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from videochat.events.channels import chat_room
from videochat.events.owners import Owners
from videochat.events.realtime import Event, Server, event_handler
from videochat.events.sfu import SfuSignaling
from videochat.model.callmode import MESH, SFU
from videochat.model.errors import UserError, ok
from videochat.model.rooms import Registry
from videochat.model.validation import Limits

log = logging.getLogger(__name__)

MANIFEST = "recording.json"


@dataclass
class Recording:
    id: str
    room: str
    by: dict[str, str]  # the member who started it, as members are shown
    by_key: str | None  # their browser id's key: who may list, play and delete it (identity.py)
    started: float  # Unix time
    stopped: float | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)  # {sid, nickname, source, base, started}

    def public(self) -> dict[str, Any]:
        """What members are told of it."""
        return {"id": self.id, "by": self.by, "since": int(self.started * 1000)}


@dataclass(eq=False, repr=False)
class Recordings:
    sio: Server
    registry: Registry
    limits: Limits
    owners: Owners
    sfu: SfuSignaling | None
    folder: Path  # --recordings-dir
    active: dict[str, Recording] = field(default_factory=dict)  # room -> its recording under way

    def __post_init__(self) -> None:
        if self.sfu is not None:
            self.sfu.calls.recorded = self._stream_recorded
            self.sfu.forced = self.active.keys()  # a recorded room's call is on the SFU

    def register(self) -> None:
        for event, handler in (("start_recording", self.start_recording), ("stop_recording", self.stop_recording)):
            event_handler(self.sio, event)(handler)

    def state(self, room: str) -> dict[str, Any] | None:
        """The room's recording under way, as the entry ack gives it (None: not recorded)."""
        recording = self.active.get(room)
        return recording.public() if recording is not None else None

    async def start_recording(self, event: Event, room: Any = None, *_: Any) -> dict:
        name = self._owned(event.sid, room)
        if name in self.active:
            return ok(room=name, recording=self.active[name].public())
        if self.sfu is None or not self.sfu.available(name):
            raise UserError(
                "recording_unavailable", "Recording needs the media server (SFU), which is not available now."
            )
        participants = self.registry.participants(name)
        if any(not p.sfu for p in participants):
            raise UserError(
                "recording_unavailable", "Someone in the call uses an app that cannot send through the media server."
            )
        member = self.registry.member(event.sid)
        assert member is not None
        recording = Recording(secrets.token_hex(16), name, member.as_dict(), member.key, time.time())
        await asyncio.to_thread(
            _private_folders, self.folder, self.folder / recording.id, self.folder / recording.id / "raw"
        )
        self.active[name] = recording
        self._save(recording)
        await self.sfu.calls.set_recording(name, self.folder / recording.id / "raw")
        if participants and self.registry.call_mode(name) == MESH:
            self.registry.set_call_mode(name, SFU)
            await self.sfu.to_sfu(name)  # its publishers record from their first packet
        log.info("recording started", extra={"room": name, "sid": event.sid, "id": recording.id})
        await self._tell(name)
        return ok(room=name, recording=recording.public())

    async def stop_recording(self, event: Event, room: Any = None, *_: Any) -> dict:
        name = self._owned(event.sid, room)
        if name in self.active:
            await self.stop(name, by=event.sid)
        return ok(room=name, recording=None)

    async def stop(self, room: str, *, by: str | None = None, reason: str | None = None) -> None:
        """Stop the room's recording (its owner asked; or the call ended: `reason`)."""
        recording = self.active.pop(room, None)
        if recording is None:
            return
        recording.stopped = time.time()
        if self.sfu is not None:
            await self.sfu.calls.set_recording(room, None)
        self._save(recording)
        log.info("recording stopped", extra={"room": room, "id": recording.id, "reason": reason or "asked"})
        member = self.registry.member(by) if by is not None else None
        await self._tell(room, by=member.as_dict() if member is not None else None, reason=reason)

    async def call_ended(self, room: str) -> None:
        await self.stop(room, reason="call_ended")

    def _owned(self, sid: str, room: Any) -> str:
        name = self.limits.room(room)
        if not self.registry.is_member(sid, name):
            raise UserError("not_in_room", f"You are not in room {name!r}.")
        if self.owners.owner_of(name) != sid:
            raise UserError("not_owner", f"Only the owner of room {name!r} may record it.")
        return name

    def _stream_recorded(self, room: str, sid: str, source: str, base: Path) -> None:
        recording = self.active.get(room)
        if recording is None:
            return
        member = self.registry.member(sid)
        recording.streams.append(
            {
                "sid": sid,
                "nickname": member.nickname if member is not None else "",
                "source": source,
                "base": base.name,
                "started": time.time(),
            }
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


def _private_folders(*folders: Path) -> None:
    """Folders only this user may enter: recordings hold people's voices and faces."""
    for folder in folders:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
