"""Socket.IO events of calls on the SFU: publishing, subscribing, candidates, layers; and moving
a call between the mesh and the SFU (model/callmode.py decides, this applies).

Every event checks what the mesh's relays check (the sender is a participant of that room's call)
and that the call is on the SFU; the rest is sfu/calls.py's. docs/protocol.md, "Calls through the
SFU"; docs/sfu.md.

With several processes (--redis, `shared`: cluster/sfu.py) a call has one placement (the Janus
instance and room) that every process agrees on: the process whose join moves the call opens a
Janus room and claims the placement; if another process claimed first, it takes theirs. The others
hear of it before the call's people hear `call_mode`, and each subscribes its own people. Each
process tells the others which feeds its people publish; the process that sees the call empty
destroys the Janus room and frees the placement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from videochat.events.channels import call_room
from videochat.events.realtime import Event, Server, event_handler
from videochat.events.sdp import candidate_init, session_description
from videochat.model.callmode import MESH, SFU, CallPolicy
from videochat.model.errors import UserError, ok
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.sfu.calls import SOURCES, SfuCall, SfuCalls, SfuFailed
from videochat.sfu.instances import Instance, Instances

log = logging.getLogger(__name__)

TARGETS = (*SOURCES, "subscriber")
EVENTS = ("sfu_publish", "sfu_unpublish", "sfu_answer", "sfu_candidate", "sfu_layers", "sfu_status")
MOVE_WAIT_SECONDS = 5.0  # a call whose Janus died waits this long for one (a local Janus restarts in ~1 s)


class Shared(Protocol):
    """Calls on the SFU shared by several processes (cluster/sfu.py)."""

    async def claim(self, room: str, placement: dict, replacing: dict | None = None) -> dict:
        """The call's placement: `placement` if none is set (or the one set is `replacing`), else
        the one set. Raises if the processes cannot agree (Redis is away)."""
        ...

    async def release(self, room: str, placement: dict) -> None:
        """Forget the placement, if it is still this one."""
        ...

    def tell(self, *op: Any) -> None:
        """A change for the other processes' SfuSignaling (`elsewhere`), in order with the events."""
        ...


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
    # several processes (--redis): where calls live is agreed through it
    shared: Shared | None = None
    _claiming: set[str] = field(default_factory=set)
    _tasks: set[asyncio.Task] = field(default_factory=set)

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
        self.calls.feeds_changed = self._tell_feeds  # (--redis only: the others hear)
        self.calls.needs_changed = self._tell_needs

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
            if self.shared is None:
                await self.sio.emit("call_mode", {"room": room, "mode": SFU}, room=call_room(room))
                await self.calls.open(room)
            elif await self._open_shared(room):
                # the other processes know where the call is before its people hear of the move
                await self.sio.emit("call_mode", {"room": room, "mode": SFU}, room=call_room(room))
            else:
                opening.set_result(None)  # publishers that waited go to the winner's room
                return  # another process moved it at the same time: its move is the one
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
            await self._end(room)
            return
        self._subscribe_ours(room)

    def _subscribe_ours(self, room: str) -> None:
        """This process's participants receive everyone else's streams (the others' processes
        subscribe theirs)."""
        for participant in self.registry.participants(room):
            if participant.member.origin == self.registry.origin:
                self.calls.subscribe(room, participant.member.id)

    async def _open_shared(self, room: str, instance: Instance | None = None, replacing: dict | None = None) -> bool:
        """--redis: open a Janus room and claim the call's placement with it (`replacing` a placement
        whose Janus died). True if it is the call's now; False if another process's placement won
        (this process takes it, and its Janus room goes)."""
        assert self.shared is not None
        self._claiming.add(room)  # another process's placement heard meanwhile: the claim decides
        try:
            call = await self.calls.open(room, instance)
            try:
                placement = await self.shared.claim(room, call.placement(), replacing)
            except Exception as error:
                log.warning("the processes could not agree where a call goes: %s", error, extra={"room": room})
                await self.calls.discard(call)
                raise SfuFailed("The servers could not agree where this call goes.") from None
        finally:
            self._claiming.discard(room)
        if placement == call.placement():
            self.shared.tell("sfu_call", room, placement)
            return True
        await self.calls.discard(call)
        target = self.instances.named(placement["instance"])
        there = await self.calls.exists(target, placement["number"]) if target is not None and target.healthy else False
        if there is None:  # a healthy Janus that could not say now: not this process's to judge
            raise SfuFailed("The media server of this call did not answer; try again.")
        if not there:
            # left behind by a call that ended without anyone to free it, or on a Janus that is
            # gone or no longer configured: replaced (only if it is still that one), once
            log.info("a stale call placement is replaced", extra={"room": room})
            if replacing is None:
                return await self._open_shared(room, instance, placement)
            raise SfuFailed("The servers could not agree where this call goes.")
        self._attach(room, placement)
        return False

    def _attach(self, room: str, placement: dict) -> None:
        """A call another process placed (--redis): this process's people join it there."""
        call = self.calls.on(room)
        if call is not None and call.placement() == placement:
            return
        instance = self.instances.named(str(placement.get("instance")))
        if instance is None:
            log.warning("a call is on a Janus this process does not know", extra={"room": room})
            return
        if call is not None:
            self.calls.forget(room)
        self.calls.attach(room, instance, int(placement["number"]), str(placement["pin"]), str(placement["secret"]))
        self._subscribe_ours(room)
        assert self.shared is not None
        self.shared.tell("sfu_ask", room, placement["number"])  # who publishes what there already

    async def to_mesh(self, room: str, reason: str, *, close: bool = False) -> None:
        """Back to peer to peer; `close`: its Janus room goes too (else Janus is gone already)."""
        self.registry.set_call_mode(room, MESH)
        call = self.calls.on(room)
        if close:
            await self.calls.close(room)
        else:
            self.calls.forget(room)
        if self.shared is not None and call is not None:
            self.shared.tell("sfu_off", room, call.number, reason)
            self._later(self.shared.release(room, call.placement()), room)
        if self.left_sfu is not None:  # a recording needs the SFU: it stops, and says why
            await self.left_sfu(room)
        log.info("call back to peer to peer", extra={"room": room, "reason": reason})
        await self.sio.emit("call_mode", {"room": room, "mode": MESH, "reason": reason}, room=call_room(room))

    async def _end(self, room: str) -> None:
        """The call is over (or never was): its Janus room goes, and (--redis) its placement."""
        call = self.calls.on(room)
        await self.calls.close(room)
        if self.shared is not None and call is not None:
            self.shared.tell("sfu_off", room, call.number, "")
            with contextlib.suppress(Exception):  # a stale placement is freed by whoever meets it
                await self.shared.release(room, call.placement())

    def _later(self, work: Awaitable[None], room: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as error:
                log.warning("an SFU step for another process failed: %s", error, extra={"room": room})

        task = asyncio.create_task(run(), name=f"videochat-sfu-{room}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # what the other processes tell (--redis: cluster/sfu.py)

    def elsewhere(self, origin: str, op: list) -> None:
        """Another process's change to a call; nothing here waits on Janus (the Redis channel waits)."""
        kind, room = op[0], op[1]
        if kind == "sfu_call":
            if self.registry.count_participants(room) and room not in self._claiming:
                self.registry.set_call_mode(room, SFU)
                self._attach(room, op[2])
            return
        call = self.calls.on(room)
        if call is None or call.number != op[2]:
            return
        if kind == "sfu_feeds":
            feeds = {
                int(feed): (str(who[0]), str(who[1]))
                for feed, who in op[3].items()
                if self.registry.in_call(str(who[0]), room)
            }
            self.calls.set_remote(call, origin, feeds)
        elif kind == "sfu_needs":
            needs = {
                str(sid): layer for sid, layer in op[3].items() if layer in (0, 1, 2) and not isinstance(layer, bool)
            }
            self.calls.set_remote_needs(call, origin, needs)
        elif kind == "sfu_ask":
            self._tell_feeds(call)
            if call.told_needs is not None:
                self._tell_needs(call, call.told_needs)
        elif kind == "sfu_off":
            reason = op[3]
            if reason:  # back to peer to peer: this process's people leave Janus too
                self.registry.set_call_mode(room, MESH)
                if reason == "sfu_unreachable":
                    self.refused.add(room)
                self._later(self.calls.close(room, destroy=False), room)
            else:
                self.calls.forget(room)

    def placed(self, room: str, placement: dict) -> None:
        """A placement read from Redis (this process (re)joined the others): a call in progress is
        on the SFU there."""
        if self.registry.count_participants(room) and self.calls.on(room) is None:
            self.registry.set_call_mode(room, SFU)
            self._attach(room, placement)

    async def call_emptied(self, room: str) -> None:
        """The other processes' changes emptied a call this process holds (its people left before)."""
        if self.registry.count_participants(room) == 0 and self.calls.on(room) is not None:
            self.refused.discard(room)
            await self._end(room)
            if self.call_ended is not None:  # a recording of it stops (its home makes the file)
                await self.call_ended(room)

    def _tell_feeds(self, call: SfuCall) -> None:
        if self.shared is not None:
            feeds = {str(feed): list(who) for feed, who in call.local_feeds().items()}
            self.shared.tell("sfu_feeds", call.room, call.number, feeds)

    def _tell_needs(self, call: SfuCall, needs: dict[str, int]) -> None:
        if self.shared is not None:
            self.shared.tell("sfu_needs", call.room, call.number, needs)

    def joined(self, room: str, sid: str) -> None:
        """A participant joined a call on the SFU: it receives everyone else's streams."""
        if self.calls.on(room) is not None:
            self.calls.subscribe(room, sid)

    async def left(self, room: str, sid: str) -> None:
        """A participant left the call (signaling.py, departures; or a process that died): its
        handles go; an empty call's room too."""
        await self.calls.leave(room, sid)
        call = self.calls.on(room)
        if call is not None:
            self.calls.drop_remote(call, sid)
            if self.shared is not None:
                self.calls.keep_origins(call, {p.member.origin or "" for p in self.registry.participants(room)})
        if self.registry.count_participants(room) == 0:
            self.refused.discard(room)
            await self._end(room)
            if self.call_ended is not None:
                await self.call_ended(room)

    async def instance_down(self, instance: Instance) -> None:
        """Janus died: its calls move to a healthy instance (or the same one restarted) and
        everyone publishes again; without one in time, a call that fits a mesh goes back to it."""
        lost = {room: call for room, call in list(self.calls.calls.items()) if call.instance is instance}
        for room in lost:
            self.calls.forget(room)
        # --redis: each process moves the calls its own people are in (the first to claim a new
        # placement wins; the others take it)
        rooms = [room for room in lost if self.shared is None or self._has_ours(room)]
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
                    if self.shared is None:
                        await self.calls.open(room, target)
                    elif self.calls.on(room) is None:  # (else another process moved it, and said so)
                        await self._open_shared(room, target, replacing=lost[room].placement())
                except SfuFailed:
                    pass
                else:
                    if self.registry.call_mode(room) != SFU:  # it ended meanwhile
                        await self._end(room)
                        continue
                    moved = self.calls.on(room)
                    log.info("call moved", extra={"room": room, "janus": moved.instance.name if moved else "?"})
                    # (--redis: each process tells its own people)
                    await self.sio.emit(
                        "call_mode",
                        {"room": room, "mode": SFU, "moved": True},
                        room=call_room(room),
                        ignore_queue=self.shared is not None,
                    )
                    self._subscribe_ours(room)
                    continue
            if self.policy.fits_mesh(self.registry.count_participants(room)):
                await self.to_mesh(room, "sfu_lost")
            else:
                log.warning("a call too big for a mesh lost its SFU", extra={"room": room})
                await self.sio.emit(
                    "call_mode", {"room": room, "mode": SFU, "reason": "sfu_lost"}, room=call_room(room)
                )

    def _has_ours(self, room: str) -> bool:
        return any(p.member.origin == self.registry.origin for p in self.registry.participants(room))

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
        await self.to_mesh(room, "sfu_unreachable", close=True)
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
