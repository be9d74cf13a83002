"""Socket.IO call signaling: join a room's call, relay offers/answers/ICE within it, media state.

The server never looks inside SDP; it checks shapes and sizes, checks that sender and addressee are
in the same call, and relays (docs/protocol.md, "Video calls"). The classic 1:1 "zoom clone"
events keep their arguments; the sender's id and an optional addressee ride in trailing arguments.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from videochat.events.admission import Admission
from videochat.events.calls import Calls
from videochat.events.channels import call_room
from videochat.events.entry import Entry
from videochat.events.ice import IceServers
from videochat.events.realtime import Event, Server, event_handler
from videochat.events.rooms import entry_options
from videochat.events.sdp import candidate_init, session_description
from videochat.events.sfu import SfuSignaling
from videochat.model.callmode import MESH, SFU, CallPolicy, JoinVerdict
from videochat.model.errors import UserError, ok
from videochat.model.rooms import MEDIA_KINDS, QUALITIES, Media, Registry
from videochat.model.validation import Limits

log = logging.getLogger(__name__)

DESCRIPTION_EVENTS = ("offer", "answer")


@dataclass(eq=False, repr=False)
class Signaling:
    sio: Server
    registry: Registry
    limits: Limits
    admission: Admission
    entry: Entry
    calls: Calls
    ice: IceServers
    policy: CallPolicy
    upload_budget_kbps: int
    max_sdp_bytes: int = 65536
    max_candidate_bytes: int = 2048
    sfu: SfuSignaling | None = None  # None: --janus off (or several processes): calls stay peer to peer

    def register(self) -> None:
        for event, fn in (
            ("join_room", self.join_room),
            ("offer", self.offer),
            ("answer", self.answer),
            ("ice", self.ice_candidate),
            ("media_state", self.media_state),
            ("leave_call", self.leave_call),
            ("ice_servers", self.ice_servers),
        ):
            # the relays of descriptions and candidates await nothing but their emit
            event_handler(self.sio, event, inline=event in ("offer", "answer", "ice"))(fn)

    # events

    async def join_room(self, event: Event, room: Any = None, options: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self.limits.room(room)
        password, private = entry_options(room)
        options = options if isinstance(options, dict) else {}
        media = _media(options.get("media"), Media())
        speaks_sfu = options.get("sfu") is True and self.sfu is not None
        await self.admission.admit(sid, name, password)  # a locked, full or forbidden room stays closed
        # the verdict and the join without an await between them: no other join slips in
        mode = self.registry.call_mode(name)
        sfu_available = self.sfu is not None and self.sfu.available(name)
        verdict = (
            JoinVerdict(True)
            if self.registry.in_call(sid, name)
            else self.policy.join(
                mode,
                self.registry.call_sizes(name),
                speaks_sfu,
                sfu_available,
                forced=self.sfu is not None and name in self.sfu.forced,
            )
        )
        if not verdict.allowed:
            raise self._refusal(verdict.code, name, mode)
        count, new_member, new_participant = self.registry.join_call(
            sid, name, media, self.policy.max_sfu_call_size, sfu=speaks_sfu
        )
        if verdict.move_to_sfu:
            self.registry.set_call_mode(name, SFU)
        peer = self._peer(sid, name)
        if new_participant:
            await self.sio.enter_room(sid, call_room(name))
            log.info(
                "join_call", extra={"room": name, "sid": sid, "participants": self.registry.count_participants(name)}
            )
        try:
            reply = await self.entry.enter(sid, name, count, new_member, private=private)
        except Exception:
            if new_participant:  # the entry was taken back (Entry.enter): so is the call
                self.registry.leave_call(sid, name)
                await self.sio.leave_room(sid, call_room(name))
            if verdict.move_to_sfu:
                self.registry.set_call_mode(name, MESH)
            raise
        if verdict.move_to_sfu and self.sfu is not None:
            await self.sfu.to_sfu(name)  # tells the others before they hear of the newcomer
        elif new_participant and self.sfu is not None and self.registry.call_mode(name) == SFU:
            self.sfu.joined(name, sid)
        if new_participant or new_member:

            async def announce() -> None:
                if new_participant:
                    await self.entry.welcome(reply["you"], name, count, {"call": True, "peer": peer})
                if new_member:
                    await self.entry.arrived(sid, name, count)

            event.after_ack(announce)
        peers = [p.as_dict() for p in self.registry.participants(name) if p.member.id != sid]
        return {
            **reply,
            "peers": peers,
            **self.ice.as_dict(sid),
            "uploadBudgetKbps": self.upload_budget_kbps,
            "mode": self.registry.call_mode(name),
        }

    async def offer(self, event: Event, description: Any = None, room: Any = None, to_id: Any = None, *_: Any) -> dict:
        return await self._relay_description("offer", event.sid, description, room, to_id)

    async def answer(self, event: Event, description: Any = None, room: Any = None, to_id: Any = None, *_: Any) -> dict:
        return await self._relay_description("answer", event.sid, description, room, to_id)

    async def ice_candidate(
        self, event: Event, candidate: Any = None, room: Any = None, to_id: Any = None, *_: Any
    ) -> dict:
        cleaned = candidate_init(candidate, self.max_candidate_bytes)
        name, to = self._route(event.sid, room, to_id)
        await self._relay("ice", event.sid, name, to, cleaned)
        return ok()

    async def media_state(self, event: Event, room: Any = None, media: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self._caller_room(sid, room)
        if not isinstance(media, dict):
            raise UserError("invalid_media", "media_state needs {audio, video, screen} booleans.")
        state = _media(media, self.registry.media(sid, name))
        self.registry.set_media(sid, name, state)
        await self.sio.emit(
            "media_state", {"room": name, "id": sid, "media": state.as_dict()}, room=call_room(name), skip_sid=sid
        )
        self.sio.metrics.signaling_relayed("media_state")
        return ok(media=state.as_dict())

    async def ice_servers(self, event: Event, room: Any = None, *_: Any) -> dict:
        """Fresh TURN credentials for a participant of the room's call, before its own expire: only a
        call's participants get any (a credential lets its holder relay anything through TURN)."""
        name = self._caller_room(event.sid, room)
        return ok(room=name, **self.ice.as_dict(event.sid))

    async def leave_call(self, event: Event, room: Any = None, *_: Any) -> dict:
        sid = event.sid
        name = self._caller_room(sid, room)
        self.registry.leave_call(sid, name)
        member = self.registry.member(sid)
        assert member is not None, sid
        await self.calls.left(member.as_dict(), name)
        return ok(room=name)

    # helpers

    async def _relay_description(self, event: str, sid: str, description: Any, room: Any, to_id: Any) -> dict:
        cleaned = session_description(event, description, self.max_sdp_bytes)
        name, to = self._route(sid, room, to_id)
        await self._relay(event, sid, name, to, cleaned)
        return ok()

    def _caller_room(self, sid: str, room: Any) -> str:
        name = self.limits.room(room)
        if not self.registry.in_call(sid, name):
            raise UserError("not_in_call", f"You are not in the call of room {name!r}; send join_room first.")
        return name

    def _route(self, sid: str, room: Any, to_id: Any) -> tuple[str, str | None]:
        name = self._caller_room(sid, room)
        if to_id is None:
            return name, None
        if not isinstance(to_id, str) or to_id == sid or not self.registry.in_call(to_id, name):
            raise UserError("unknown_peer", f"There is no other participant {to_id!r} in the call of room {name!r}.")
        return name, to_id

    async def _relay(self, event: str, sid: str, room: str, to: str | None, payload: Any) -> None:
        sender = self.registry.member(sid)
        assert sender is not None, sid
        args = (payload, sid, {"room": room, "from": sender.as_dict()})
        if to is None:
            await self.sio.emit(event, args, room=call_room(room), skip_sid=sid)
        else:
            await self.sio.emit(event, args, to=to)
        self.sio.metrics.signaling_relayed(event)

    def _refusal(self, code: str, name: str, mode: str) -> UserError:
        if code == "sfu_required":
            return UserError(
                "sfu_required",
                f"The call in room {name!r} runs through the media server, which this client does not "
                "support (join_room's sfu option). You can still chat.",
            )
        size = self.policy.max_sfu_call_size if mode == SFU else self.policy.max_call_size
        return UserError(
            "call_full",
            f"The call in room {name!r} is full: it has {size} participants already, the most allowed. You can still chat.",
        )

    def _peer(self, sid: str, room: str) -> dict:
        participant = next(p for p in self.registry.participants(room) if p.member.id == sid)
        return participant.as_dict()


def _media(value: Any, current: Media) -> Media:
    """A media state from `{audio, video, screen}` booleans and `quality`; keys left out keep `current`."""
    if value is None:
        return current
    if not isinstance(value, dict):
        raise UserError("invalid_media", "The media state must be an object {audio, video, screen, quality}.")
    unknown = set(value) - {*MEDIA_KINDS, "quality"}
    if unknown:
        raise UserError(
            "invalid_media", f"Unknown media kinds {sorted(unknown)}; expected audio, video, screen, quality."
        )
    fields: dict[str, Any] = {**current.as_dict(), "quality": current.quality}
    for kind, flag in value.items():
        if kind == "quality":
            if flag not in QUALITIES:
                raise UserError("invalid_media", f"media.quality is one of {', '.join(QUALITIES)}.")
        elif not isinstance(flag, bool):
            raise UserError("invalid_media", f"media.{kind} must be true or false.")
        fields[kind] = flag
    return Media(**fields)
