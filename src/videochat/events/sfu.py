"""Socket.IO events of calls on the SFU: publishing, subscribing, candidates, layers; and moving
a call between the mesh and the SFU (model/callmode.py decides, this applies).

Every event checks what the mesh's relays check (the sender is a participant of that room's call)
and that the call is on the SFU; the rest is sfu/calls.py's. docs/protocol.md, "Calls through the
SFU"; docs/sfu.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from videochat.events.channels import call_room
from videochat.events.realtime import Event, Server, event_handler
from videochat.events.sdp import candidate_init, session_description
from videochat.model.callmode import MESH, SFU, CallPolicy
from videochat.model.errors import UserError, ok
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.sfu.calls import SOURCES, SfuCalls, SfuFailed
from videochat.sfu.instances import Instance, Instances

log = logging.getLogger(__name__)

TARGETS = (*SOURCES, "subscriber")
EVENTS = ("sfu_publish", "sfu_unpublish", "sfu_answer", "sfu_candidate", "sfu_layers", "sfu_status")
MOVE_WAIT_SECONDS = 5.0  # a call whose Janus died waits this long for one (a local Janus restarts in ~1 s)


@dataclass(eq=False, repr=False)
class SfuSignaling:
    sio: Server
    registry: Registry
    limits: Limits
    policy: CallPolicy
    instances: Instances
    calls: SfuCalls
    max_sdp_bytes: int
    max_candidate_bytes: int
    # rooms whose Janus room is being opened: publishers wait for it
    _opening: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    # rooms where a participant's media could not reach the SFU: no second try until the call ends
    refused: set[str] = field(default_factory=set)
    # rooms whose calls go on the SFU whatever their size (recorded: events/recordings.py)
    forced: Collection[str] = ()
    # a call on the SFU ended (its last participant left)
    call_ended: Callable[[str], Awaitable[None]] | None = None
    # a call went back to peer to peer (the SFU failed it, or its media could not reach it)
    left_sfu: Callable[[str], Awaitable[None]] | None = None

    @staticmethod
    def register_off(sio: Server) -> None:
        """Without an SFU the events exist all the same, and say so."""

        async def off(event: Event, *_: Any) -> dict:
            raise UserError("not_on_sfu", "This server runs every call peer to peer (no SFU).")

        for name in EVENTS:
            event_handler(sio, name)(off)

    def register(self) -> None:
        for event, fn in (
            ("sfu_publish", self.sfu_publish),
            ("sfu_unpublish", self.sfu_unpublish),
            ("sfu_answer", self.sfu_answer),
            ("sfu_candidate", self.sfu_candidate),
            ("sfu_layers", self.sfu_layers),
            ("sfu_status", self.sfu_status),
        ):
            event_handler(self.sio, event)(fn)
        self.instances.on_down = self.instance_down

    def available(self, room: str) -> bool:
        return room not in self.refused and self.instances.available()

    # moving a call

    async def to_sfu(self, room: str) -> None:
        """The room model says SFU already (signaling.py set it with the join that made it so):
        open the Janus room, tell the call, subscribe everyone."""
        if room in self._opening or self.calls.on(room) is not None:
            return  # two joins made it so at once: the first one opens it
        opening: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._opening[room] = opening
        try:
            await self.sio.emit("call_mode", {"room": room, "mode": SFU}, room=call_room(room))
            await self.calls.open(room)
        except SfuFailed as error:
            opening.set_exception(error)
            opening.exception()  # retrieved: waiters get it, nobody else must
            await self.to_mesh(room, "sfu_failed")
            return
        finally:
            self._opening.pop(room, None)
        opening.set_result(None)
        if self.registry.call_mode(room) != SFU:
            # the call ended while Janus opened its room: nobody will close that room but us
            await self.calls.close(room)
            return
        for participant in self.registry.participants(room):
            self.calls.subscribe(room, participant.member.id)

    async def to_mesh(self, room: str, reason: str) -> None:
        self.registry.set_call_mode(room, MESH)
        self.calls.forget(room)
        if self.left_sfu is not None:  # a recording needs the SFU: it stops, and says why
            await self.left_sfu(room)
        log.info("call back to peer to peer", extra={"room": room, "reason": reason})
        await self.sio.emit("call_mode", {"room": room, "mode": MESH, "reason": reason}, room=call_room(room))

    def joined(self, room: str, sid: str) -> None:
        """A participant joined a call on the SFU: it receives everyone else's streams."""
        if self.calls.on(room) is not None:
            self.calls.subscribe(room, sid)

    async def left(self, room: str, sid: str) -> None:
        """A participant left the call (signaling.py, departures): its handles go; an empty call's room too."""
        await self.calls.leave(room, sid)
        if self.registry.count_participants(room) == 0:
            self.refused.discard(room)
            await self.calls.close(room)
            if self.call_ended is not None:
                await self.call_ended(room)

    async def instance_down(self, instance: Instance) -> None:
        """Janus died: its calls move to a healthy instance (or the same one restarted) and
        everyone publishes again; without one in time, a call that fits a mesh goes back to it."""
        rooms = [room for room, call in list(self.calls.calls.items()) if call.instance is instance]
        for room in rooms:
            self.calls.forget(room)
        if not rooms:
            return
        try:
            target: Instance | None = await asyncio.wait_for(self.instances.wait_healthy(), MOVE_WAIT_SECONDS)
        except TimeoutError:
            target = None
        for room in rooms:
            if self.registry.call_mode(room) != SFU:
                continue
            if target is not None:
                try:
                    await self.calls.open(room, target)
                except SfuFailed:
                    pass
                else:
                    if self.registry.call_mode(room) != SFU:  # it ended meanwhile
                        await self.calls.close(room)
                        continue
                    log.info("call moved", extra={"room": room, "janus": target.name})
                    await self.sio.emit("call_mode", {"room": room, "mode": SFU, "moved": True}, room=call_room(room))
                    for participant in self.registry.participants(room):
                        self.calls.subscribe(room, participant.member.id)
                    continue
            if self.policy.fits_mesh(self.registry.count_participants(room)):
                await self.to_mesh(room, "sfu_lost")
            else:
                log.warning("a call too big for a mesh lost its SFU", extra={"room": room})
                await self.sio.emit(
                    "call_mode", {"room": room, "mode": SFU, "reason": "sfu_lost"}, room=call_room(room)
                )

    # events

    async def sfu_publish(self, event: Event, request: Any = None, *_: Any) -> dict:
        room, request = await self._request(event.sid, request)
        source = request.get("source", "camera")
        if source not in SOURCES:
            raise UserError("invalid_sfu_request", "source must be camera or screen.")
        offer = session_description("offer", request.get("offer"), self.max_sdp_bytes)
        with refused_by_sfu():
            answer = await self.calls.publish(room, event.sid, source, offer)
        return ok(room=room, source=source, answer=answer)

    async def sfu_unpublish(self, event: Event, request: Any = None, *_: Any) -> dict:
        room, request = await self._request(event.sid, request)
        source = request.get("source")
        if source not in SOURCES:
            raise UserError("invalid_sfu_request", "source must be camera or screen.")
        await self.calls.unpublish(room, event.sid, source)
        return ok(room=room, source=source)

    async def sfu_answer(self, event: Event, request: Any = None, *_: Any) -> dict:
        room, request = await self._request(event.sid, request)
        seq = request.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise UserError("invalid_sfu_request", "seq must be the number of the sfu_offer answered.")
        answer = session_description("answer", request.get("answer"), self.max_sdp_bytes)
        with refused_by_sfu():
            await self.calls.answer(room, event.sid, seq, answer)
        return ok(room=room)

    async def sfu_candidate(self, event: Event, request: Any = None, *_: Any) -> dict:
        room, request = await self._request(event.sid, request)
        target = request.get("target")
        if target not in TARGETS:
            raise UserError("invalid_sfu_request", "target must be camera, screen or subscriber.")
        candidate = candidate_init(request.get("candidate"), self.max_candidate_bytes)
        with refused_by_sfu():
            await self.calls.candidate(room, event.sid, target, candidate)
        return ok()

    async def sfu_layers(self, event: Event, request: Any = None, *_: Any) -> dict:
        room, request = await self._request(event.sid, request)
        layers = request.get("layers")
        if not isinstance(layers, list) or not 0 < len(layers) <= 64:
            raise UserError("invalid_sfu_request", "layers must be a list of 1 to 64 {mid, substream} or {mid, send}.")
        choices: list[tuple[str, int | None]] = []
        for item in layers:
            choices.append(_layer_choice(item))
        with refused_by_sfu():
            await self.calls.layers(room, event.sid, choices)
        return ok(room=room)

    async def sfu_status(self, event: Event, request: Any = None, *_: Any) -> dict:
        """A page says its media cannot reach the SFU (its connections failed): the call goes back
        to peer to peer if it fits a mesh; otherwise this person is told why. Not when Janus saw a
        connection of theirs come up: their network reaches it (a slow machine, a connection still
        being made again), and one participant cannot take everyone off the SFU."""
        room, request = await self._request(event.sid, request)
        if request.get("ok") is not False:
            raise UserError("invalid_sfu_request", "sfu_status reports a failure: {room, ok: false}.")
        if self.calls.reaches(room, event.sid):
            log.info("an SFU failure reported by someone Janus reaches", extra={"room": room, "sid": event.sid})
            raise UserError("sfu_reachable", "Your media reaches the media server: the call stays on it.")
        log.warning("media cannot reach the SFU", extra={"room": room, "sid": event.sid})
        if not self.policy.fits_mesh(self.registry.count_participants(room)):
            raise UserError(
                "sfu_failed",
                "Your connection cannot reach the media server, and this call is too big to run without it.",
            )
        self.refused.add(room)
        await self.calls.close(room)
        await self.to_mesh(room, "sfu_unreachable")
        return ok(room=room, mode=MESH)

    # helpers

    async def _request(self, sid: str, request: Any) -> tuple[str, dict]:
        if not isinstance(request, dict):
            raise UserError("invalid_sfu_request", "SFU events take one object: {room, ...}.")
        room = self.limits.room(request.get("room"))
        if not self.registry.in_call(sid, room):
            raise UserError("not_in_call", f"You are not in the call of room {room!r}; send join_room first.")
        if self.registry.call_mode(room) != SFU:
            raise UserError("not_on_sfu", f"The call of room {room!r} is peer to peer.")
        opening = self._opening.get(room)
        if opening is not None:
            with refused_by_sfu():
                await asyncio.shield(opening)
        if not self.registry.in_call(sid, room) or self.registry.call_mode(room) != SFU:
            raise UserError("not_on_sfu", f"The call of room {room!r} is peer to peer.")
        return room, request


class refused_by_sfu:
    """SfuFailed (the SFU's refusal, worded for people) becomes the client's `sfu_failed`."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, tb: object) -> None:
        if isinstance(error, SfuFailed):
            raise UserError("sfu_failed", str(error)) from None


def _layer_choice(item: Any) -> tuple[str, int | None]:
    """One item of sfu_layers: (mid, the simulcast layer to receive), or (mid, None): receive
    nothing of it for now (--last-n: Janus stops forwarding that stream until a layer is asked)."""
    refused = UserError(
        "invalid_sfu_request", "each layer is {mid: a stream's mid, substream: 0, 1 or 2} or {mid, send: false}."
    )
    if not isinstance(item, dict) or not isinstance(item.get("mid"), str) or len(item["mid"]) > 16:
        raise refused
    if set(item) == {"mid", "send"} and item["send"] is False:
        return item["mid"], None
    layer = item.get("substream")
    if set(item) != {"mid", "substream"} or layer not in (0, 1, 2) or isinstance(layer, bool):
        raise refused
    return item["mid"], layer
