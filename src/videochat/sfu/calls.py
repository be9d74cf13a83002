"""Calls on Janus: one VideoRoom per call, a publisher handle per source a person sends (camera,
screen), one subscriber handle per person receiving everybody else's.

Nothing of Janus reaches a browser but SDP: room numbers, pins, secrets and feed ids stay here. A
person's subscription is reconciled by one task at a time: it wants every feed of the call but its
own, and each change (join, subscribe, unsubscribe) gives a new offer that goes to the browser
(`send`) and waits for its answer before the next change.

With several processes (--redis) each process holds its own handles on the same Janus room
(`attach`), and learns the feeds the others' people publish from them (`SfuCall.remote`, kept by
events/sfu.py); `feeds_changed` tells it when this process's own feeds change.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from videochat.sfu.instances import Instance, Instances
from videochat.sfu.janus import Handle, JanusError

log = logging.getLogger(__name__)

SOURCES = ("camera", "screen")
# A browser that has not answered an offer by then (a page starved of CPU, an answer that failed)
# gets its subscription afresh: a new Janus handle and a `fresh` offer for a new connection. Janus
# waits for that answer before it starts DTLS: the old connection would never come up.
ANSWER_SECONDS = 20.0
# A feed is offered to subscribers once Janus receives its video (its SSRCs are then in their
# offers, which stacks that route RTP by SSRC need), or this long after its connection is up
# (Janus refuses subscriptions to a publisher whose connection is not: "No such feed").
FLOWING_AFTER_SECONDS = 1.5
RETRY_SECONDS = (1.0, 2.0, 5.0)  # a subscription Janus refused is tried again, then given up
# A layer asked for and not reached (Janus switches on the new layer's next keyframe, asks the sender
# for one, but at most once a second, and forgets a request made sooner: a tile grown just after a
# change stayed on the small layer) is asked for again then.
NUDGE_SECONDS = (1.2, 3.0)
# Dynacast: a camera's simulcast layers above the highest one its receivers need are switched off
# in its browser (`sfu_send`); a layer needed again is switched on at once, one no longer needed
# only after this long (a tile that shrinks and grows again, a speaker that changes).
LOWER_AFTER_SECONDS = 3.0
# What the receivers need is worked out once for changes this close together (a new speaker:
# Janus tells every subscriber of its layer switch, one event each; the work grows with the
# call's size squared)
DEMAND_SECONDS = 0.05
TOP_LAYER = 2  # Janus's simulcast substreams: 0 the smallest; a receiver never configured asks the top
EARLY_CANDIDATES = 64  # candidates kept for a handle that does not exist yet

Send = Callable[[str, str, dict], Awaitable[None]]  # (sid, event, payload)
# a publisher's streams began to be recorded: (room, sid, source, the files' base path; Janus adds
# -audio-<n>.mjr and -video-<n>.mjr)
Recorded = Callable[[str, str, str, Path], None]


class SfuFailed(Exception):
    """The SFU could not do it; the message is for the person (Janus's own words stay in the log)."""


@dataclass(eq=False)
class Publisher:
    sid: str
    source: str
    handle: Handle | None = None
    feed: int | None = None
    flowing: bool = False  # Janus receives its media: subscribers' offers then describe it fully
    up: bool = False  # Janus said "webrtcup": this person's network reaches Janus
    early: list[dict | None] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    sends: int = TOP_LAYER  # the highest layer its browser was told to send (dynacast; all at first)
    lowering: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class Subscriber:
    sid: str
    handle: Handle | None = None
    feeds: set[int] = field(default_factory=set)  # what the browser has answered for
    mids: dict[str, tuple[str, str]] = field(default_factory=dict)  # mid -> (sid, source)
    seq: int = 0
    answer: asyncio.Future[dict] | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    early: list[dict | None] = field(default_factory=list)
    failures: int = 0  # Janus refusals in a row
    layers: dict[str, int] = field(default_factory=dict)  # mid -> the simulcast layer asked for
    current: dict[str, int] = field(default_factory=dict)  # mid -> the layer Janus forwards (its events)
    off: set[str] = field(default_factory=set)  # video mids asked for not at all (--last-n)
    videos: set[str] = field(default_factory=set)  # the mids that carry video
    nudge: asyncio.TimerHandle | None = None

    def needs(self) -> dict[str, int]:
        """The highest layer of each person's camera this subscriber needs: the layer it asked for,
        or the one Janus forwards it if higher (Janus leaves that one only on a keyframe of a lower
        one, and a camera may not send the one asked for: Chromium sends two layers at 640×360)."""
        needs: dict[str, int] = {}
        for mid in self.videos - self.off:
            sid, source = self.mids.get(mid, ("", ""))
            if source == "camera":
                need = max(self.layers.get(mid, TOP_LAYER), self.current.get(mid, TOP_LAYER))
                needs[sid] = max(needs.get(sid, -1), need)
        return needs


@dataclass(eq=False)
class SfuCall:
    room: str
    instance: Instance
    number: int
    pin: str
    secret: str
    publishers: dict[tuple[str, str], Publisher] = field(default_factory=dict)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    # feeds published through the other processes (--redis), by process: feed -> (sid, source)
    remote: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)
    # the camera layers the other processes' people need (--redis), by process: sid -> layer
    remote_needs: dict[str, dict[str, int]] = field(default_factory=dict)
    told_needs: dict[str, int] | None = None  # what this process last told the others it needs
    demand: asyncio.TimerHandle | None = None  # what the receivers need is to be worked out again

    def local_feeds(self) -> dict[int, tuple[str, str]]:
        return {p.feed: (p.sid, p.source) for p in self.publishers.values() if p.feed is not None and p.flowing}

    def feeds(self) -> dict[int, tuple[str, str]]:
        feeds = self.local_feeds()
        for theirs in self.remote.values():
            feeds.update(theirs)
        return feeds

    def placement(self) -> dict:
        """Where the call lives, for the other processes (never for a browser)."""
        return {"instance": self.instance.name, "number": self.number, "pin": self.pin, "secret": self.secret}


class SfuCalls:
    def __init__(self, instances: Instances, send: Send, *, bitrate_bps: int, max_publishers: int) -> None:
        self.instances = instances
        self.send = send
        self.bitrate_bps = bitrate_bps
        self.max_publishers = max_publishers
        self.calls: dict[str, SfuCall] = {}
        # calls being recorded: room -> the folder Janus writes their streams to (docs/recording.md)
        self.recording: dict[str, Path] = {}
        self.recorded: Recorded | None = None
        # this process's own flowing feeds of a call changed (--redis: the others hear of it)
        self.feeds_changed: Callable[[SfuCall], None] | None = None
        # the layers this process's people need of the other processes' cameras changed (--redis)
        self.needs_changed: Callable[[SfuCall, dict[str, int]], None] | None = None
        self.max_recorded_streams = 200  # streams one recording takes (a republishing loop: no more)
        self._file_numbers: dict[Path, itertools.count] = {}
        # told apart from the other processes' files in one recording's folder (--redis): no dash,
        # the processing reads a stream's base name as its files' first two dash-separated parts
        self.file_tag = ""
        self._tasks: set[asyncio.Task] = set()

    def on(self, room: str) -> SfuCall | None:
        return self.calls.get(room)

    def where(self) -> dict[str, str]:
        """Which instance each call lives on (the Admin UI's and the logs' view)."""
        return {room: call.instance.name for room, call in self.calls.items()}

    async def open(self, room: str, instance: Instance | None = None) -> SfuCall:
        """A Janus room for the call, on the least loaded healthy instance."""
        instance = instance or self.instances.pick()
        if instance is None or instance.control is None:
            raise SfuFailed("No SFU is available.")
        number = secrets.randbelow(2**52) + 1
        call = SfuCall(room, instance, number, secrets.token_urlsafe(18), secrets.token_urlsafe(18))
        try:
            await instance.control.message(
                {
                    "request": "create",
                    "room": number,
                    "admin_key": instance.admin_key(),
                    "pin": call.pin,
                    "secret": call.secret,
                    "is_private": True,
                    "publishers": self.max_publishers,
                    "bitrate": self.bitrate_bps,
                    "bitrate_cap": True,
                    "audiocodec": "opus",
                    "videocodec": "vp8",
                    "notify_joining": False,
                    "permanent": False,
                }
            )
        except JanusError as error:
            log.warning("Janus %s would not create a room: %s", instance.name, error.reason, extra={"room": room})
            raise SfuFailed("The SFU would not open a room for this call.") from None
        instance.calls += 1
        self.calls[room] = call
        log.info("call on Janus", extra={"room": room, "janus": instance.name})
        return call

    def attach(self, room: str, instance: Instance, number: int, pin: str, secret: str) -> SfuCall:
        """A call another process opened on `instance` (--redis): this process's people join it there."""
        call = SfuCall(room, instance, number, pin, secret)
        instance.calls += 1
        self.calls[room] = call
        log.info("call on Janus", extra={"room": room, "janus": instance.name, "opened": "elsewhere"})
        return call

    async def exists(self, instance: Instance, number: int) -> bool | None:
        """Whether Janus still has that room (a placement another process left behind may be
        stale); None if Janus cannot say now."""
        if instance.control is None or not instance.healthy:
            return None
        try:
            data, _ = await instance.control.message({"request": "exists", "room": number})
        except JanusError:
            return None
        return data.get("exists") is True

    async def close(self, room: str, *, destroy: bool = True) -> None:
        """The call's handles here go, and (`destroy`) its Janus room; without, the room stays for the
        other processes' people (--redis)."""
        call = self.calls.get(room)
        if call is not None:
            await self.discard(call, destroy=destroy)

    async def discard(self, call: SfuCall, *, destroy: bool = True) -> None:
        """`close` for this very call (not another one of its room that took its place)."""
        if self.calls.get(call.room) is call:
            del self.calls[call.room]
        room = call.room
        await self._drop(call)
        control = call.instance.control
        if destroy and control is not None and call.instance.healthy:
            with contextlib.suppress(JanusError):
                await control.message({"request": "destroy", "room": call.number, "secret": call.secret})
        log.info("call off Janus", extra={"room": room, "janus": call.instance.name})

    def forget(self, room: str) -> SfuCall | None:
        """The call's instance is gone: nothing to undo there."""
        call = self.calls.pop(room, None)
        if call is not None:
            for sub in call.subscribers.values():
                self._stop_reconciling(sub)
        return call

    async def _drop(self, call: SfuCall) -> None:
        call.instance.calls = max(0, call.instance.calls - 1)
        for sid in {s for s, _ in call.publishers} | set(call.subscribers):
            await self._leave(call, sid)

    # publishing

    async def publish(self, room: str, sid: str, source: str, offer: dict) -> dict:
        """Send `offer` (the browser's) to Janus as the sid's `source` stream; returns Janus's answer."""
        call = self._call(room)
        key = (sid, source)
        if key in call.publishers:
            await self.unpublish(room, sid, source)
        publisher = Publisher(sid, source)
        call.publishers[key] = publisher
        janus = call.instance.janus
        try:
            assert janus is not None
            publisher.handle = handle = await janus.attach()
            handle.listen(lambda message: self._publisher_event(call, publisher, message))
            await self._flush_early(handle, publisher)
            joined, _ = await handle.message(
                {"request": "join", "ptype": "publisher", "room": call.number, "pin": call.pin}
            )
            publisher.feed = int(joined["id"])
            call.instance.publishers += 1
            body: dict = {"request": "publish", "audio": True, "video": True}
            base = self._record_base(room, publisher)
            if base is not None:
                body |= {"record": True, "filename": str(base)}
            _, answer = await handle.message(body, offer)
            if not answer or answer.get("type") != "answer":
                raise JanusError(0, "no answer to the offer")
        except (JanusError, AssertionError, KeyError, ValueError) as error:
            reason = error.reason if isinstance(error, JanusError) else str(error)
            log.warning("Janus refused a publisher: %s", reason, extra={"room": room, "sid": sid})
            await self.unpublish(room, sid, source)
            raise SfuFailed("The SFU did not take your stream.") from None
        if base is not None and self.recorded is not None:
            self.recorded(room, sid, source, base)
        return {"type": "answer", "sdp": str(answer.get("sdp", ""))}

    # recording (docs/recording.md): Janus writes each stream a publisher sends to its own file

    async def set_recording(self, room: str, folder: Path | None) -> None:
        """Record every stream of the call into `folder` from now on (its publishers now, and those
        who publish later), or stop recording (None)."""
        if folder is None:
            stopped = self.recording.pop(room, None)
            if stopped is not None:
                self._file_numbers.pop(stopped, None)
        else:
            self.recording[room] = folder
        call = self.calls.get(room)
        if call is None:
            return
        self._demand_changed(call)  # a recording keeps every layer (Janus records the best that arrives)
        for publisher in list(call.publishers.values()):
            if publisher.handle is None or publisher.feed is None:
                continue  # still joining: its publish request records (or not) as the call now does
            base = self._record_base(room, publisher)
            request: dict = {"request": "configure", "record": base is not None}
            if base is not None:
                request["filename"] = str(base)
            try:
                await publisher.handle.message(request)
            except JanusError as error:
                log.warning("Janus would not record a stream: %s", error.reason, extra={"room": room})
                continue
            if base is not None and self.recorded is not None:
                self.recorded(room, publisher.sid, publisher.source, base)

    def _record_base(self, room: str, publisher: Publisher) -> Path | None:
        folder = self.recording.get(room)
        if folder is None:
            return None
        number = next(self._file_numbers.setdefault(folder, itertools.count(1)))
        if number > self.max_recorded_streams:
            return None  # recorded no more: the recording keeps what it has
        return folder / f"{number:04d}{self.file_tag}-{publisher.source}"

    def _flowing(self, call: SfuCall, publisher: Publisher) -> None:
        if not publisher.flowing and call.publishers.get((publisher.sid, publisher.source)) is publisher:
            publisher.flowing = True
            self._local_feeds_changed(call)

    def _local_feeds_changed(self, call: SfuCall) -> None:
        self._want_changed(call)
        self._demand_changed(call)
        if self.feeds_changed is not None and self.calls.get(call.room) is call:
            self.feeds_changed(call)

    def _publisher_event(self, call: SfuCall, publisher: Publisher, message: dict) -> None:
        kind = message.get("janus")
        if kind == "media" and message.get("type") == "video" and message.get("receiving"):
            self._flowing(call, publisher)
        elif kind == "webrtcup" and publisher.timer is None:  # up; a video may never come (audio only)
            publisher.up = True
            publisher.timer = asyncio.get_running_loop().call_later(
                FLOWING_AFTER_SECONDS, self._flowing, call, publisher
            )
        elif kind == "hangup":
            log.info(
                "publisher hung up", extra={"room": call.room, "sid": publisher.sid, "reason": message.get("reason")}
            )

    def reaches(self, room: str, sid: str) -> bool:
        """Whether a connection of this participant to Janus came up (its network lets media through)."""
        call = self.calls.get(room)
        return call is not None and any(p.up for p in call.publishers.values() if p.sid == sid)

    async def unpublish(self, room: str, sid: str, source: str) -> None:
        call = self.calls.get(room)
        if call is None:
            return
        publisher = call.publishers.pop((sid, source), None)
        if publisher is None:
            return
        if publisher.timer is not None:
            publisher.timer.cancel()
        if publisher.lowering is not None:
            publisher.lowering.cancel()
        if publisher.feed is not None:
            call.instance.publishers = max(0, call.instance.publishers - 1)
            self._local_feeds_changed(call)
        if publisher.handle is not None:
            await publisher.handle.detach()

    # subscribing

    def subscribe(self, room: str, sid: str) -> None:
        """The sid receives every feed of the call but its own, now and as they come and go."""
        call = self._call(room)
        if sid not in call.subscribers:
            call.subscribers[sid] = sub = Subscriber(sid)
            sub.task = asyncio.create_task(self._reconcile_forever(call, sub), name=f"videochat-sfu-sub-{sid}")
        call.subscribers[sid].wake.set()

    def set_remote(self, call: SfuCall, origin: str, feeds: dict[int, tuple[str, str]]) -> None:
        """The feeds another process's people publish in this call now (all of them: it replaces)."""
        if call.remote.get(origin, {}) != feeds:
            if feeds:
                call.remote[origin] = feeds
            else:
                call.remote.pop(origin, None)
            self._want_changed(call)
            self._demand_changed(call)

    def set_remote_needs(self, call: SfuCall, origin: str, needs: dict[str, int]) -> None:
        """The camera layers another process's people need now (all of them: it replaces)."""
        if call.remote_needs.get(origin) != needs:
            call.remote_needs[origin] = needs
            self._demand_changed(call)

    def keep_origins(self, call: SfuCall, origins: set[str]) -> None:
        """Only these processes have people in the call now: what the others said goes."""
        for origin in set(call.remote) - origins:
            self.set_remote(call, origin, {})
        for origin in set(call.remote_needs) - origins:
            del call.remote_needs[origin]
            self._demand_changed(call)

    def drop_remote(self, call: SfuCall, sid: str) -> None:
        """Someone of another process left the call: their feeds go, whatever that process says later."""
        for origin, feeds in list(call.remote.items()):
            kept = {feed: who for feed, who in feeds.items() if who[0] != sid}
            if kept != feeds:
                self.set_remote(call, origin, kept)

    def _want_changed(self, call: SfuCall) -> None:
        for sub in call.subscribers.values():
            sub.wake.set()

    async def answer(self, room: str, sid: str, seq: int, answer: dict) -> None:
        call = self._call(room)
        sub = call.subscribers.get(sid)
        if sub is None or sub.answer is None or sub.answer.done() or seq != sub.seq:
            raise SfuFailed("No offer of that number is waiting for an answer.")
        sub.answer.set_result(answer)

    async def _reconcile_forever(self, call: SfuCall, sub: Subscriber) -> None:
        while True:
            await sub.wake.wait()
            sub.wake.clear()
            try:
                await self._reconcile(call, sub)
                sub.failures = 0
            except asyncio.CancelledError:
                raise
            except JanusError as error:
                log.warning("subscription failed: %s", error.reason, extra={"room": call.room, "sid": sub.sid})
                if not call.instance.healthy:
                    return
                if sub.failures < len(RETRY_SECONDS):
                    await asyncio.sleep(RETRY_SECONDS[sub.failures])
                    sub.failures += 1
                    sub.wake.set()
            except TimeoutError:
                log.warning("no answer to an SFU offer: subscribing afresh", extra={"room": call.room, "sid": sub.sid})
                try:
                    await self._unsubscribe_all(call, sub)
                except Exception:
                    log.exception("detaching an unanswered subscription failed", extra={"room": call.room})
                sub.wake.set()
            except Exception:
                log.exception("subscription failed", extra={"room": call.room, "sid": sub.sid})

    async def _unsubscribe_all(self, call: SfuCall, sub: Subscriber) -> None:
        """The subscriber's Janus handle goes; the next reconciliation starts a new one."""
        handle, sub.handle = sub.handle, None
        sub.feeds, sub.mids, sub.answer, sub.early = set(), {}, None, []
        sub.layers, sub.current, sub.off, sub.videos = {}, {}, set(), set()
        if sub.nudge is not None:
            sub.nudge.cancel()
        self._demand_changed(call)
        if handle is not None:
            call.instance.subscribers = max(0, call.instance.subscribers - 1)
            await handle.detach()

    async def _reconcile(self, call: SfuCall, sub: Subscriber) -> None:
        feeds = call.feeds()
        want = {feed for feed, (owner, _) in feeds.items() if owner != sub.sid}
        add, remove = sorted(want - sub.feeds), sorted(sub.feeds - want)
        if not add and not remove:
            return
        janus = call.instance.janus
        assert janus is not None
        fresh = sub.handle is None  # a new handle: its offer is for a new connection
        if sub.handle is None:
            if not add:
                return
            sub.handle = await janus.attach()
            sub.handle.listen(lambda message: self._subscriber_event(call, sub, message))
            call.instance.subscribers += 1
            await self._flush_early(sub.handle, sub)
            body = {
                "request": "join",
                "ptype": "subscriber",
                "room": call.number,
                "pin": call.pin,
                "streams": [{"feed": f} for f in add],
                "autoupdate": False,
                "use_msid": False,
            }
        elif add:
            body = {"request": "subscribe", "streams": [{"feed": f} for f in add]}
            if remove:  # one change at a time: the removal follows at once
                sub.wake.set()
        else:
            body = {"request": "unsubscribe", "streams": [{"feed": f} for f in remove]}
        data, offer = await sub.handle.message(body)
        target = sub.feeds | set(add) if add else sub.feeds - set(remove)
        streams = self._streams(data, feeds)
        if offer is None:  # nothing to renegotiate (a feed that went away meanwhile)
            sub.feeds = target
            return
        sub.seq += 1
        sub.answer = asyncio.get_running_loop().create_future()
        # the browser may ask for layers as soon as it has the offer
        sub.mids.update({s["mid"]: (s["id"], s["source"]) for s in streams})
        sub.videos.update(s["mid"] for s in streams if s["kind"] == "video")
        self._demand_changed(call)
        await self.send(
            sub.sid,
            "sfu_offer",
            {"room": call.room, "seq": sub.seq, "offer": offer, "streams": streams, "fresh": fresh},
        )
        answer = await asyncio.wait_for(sub.answer, ANSWER_SECONDS)
        await sub.handle.message({"request": "start"}, answer)
        sub.feeds = target
        sub.mids = {s["mid"]: (s["id"], s["source"]) for s in streams}
        sub.videos = {s["mid"] for s in streams if s["kind"] == "video"}
        self._demand_changed(call)
        sub.wake.set()  # anything that changed while the browser answered

    @staticmethod
    def _streams(data: dict, feeds: dict[int, tuple[str, str]]) -> list[dict]:
        """Janus's stream list, told in people's ids: {mid, kind, id, source}."""
        streams = []
        for stream in data.get("streams") or []:
            owner = feeds.get(stream.get("feed_id"))
            if owner is None or not stream.get("active", True) or stream.get("type") not in ("audio", "video"):
                continue
            streams.append({"mid": str(stream["mid"]), "kind": stream["type"], "id": owner[0], "source": owner[1]})
        return streams

    async def layers(self, room: str, sid: str, choices: list[tuple[str, int | None]]) -> None:
        """The simulcast layer (0 the smallest) the sid receives on each of its video mids; None:
        nothing of that mid (Janus stops forwarding it, and starts again with a keyframe)."""
        call = self._call(room)
        sub = call.subscribers.get(sid)
        if sub is None or sub.handle is None:
            raise SfuFailed("You receive nothing from the SFU yet.")
        unknown = [mid for mid, _ in choices if mid not in sub.mids]
        if unknown:
            raise SfuFailed(f"No stream {unknown[0]!r} is sent to you.")
        try:
            await sub.handle.message(
                {
                    "request": "configure",
                    "streams": [
                        {"mid": mid, "send": False} if layer is None else {"mid": mid, "send": True, "substream": layer}
                        for mid, layer in choices
                    ],
                }
            )
        except JanusError as error:
            log.warning("configure refused: %s", error.reason, extra={"room": room, "sid": sid})
            raise SfuFailed("The SFU did not change the layers.") from None
        for mid, layer in choices:
            if layer is None:
                sub.layers.pop(mid, None)
                sub.off.add(mid)
            else:
                sub.layers[mid] = layer
                sub.off.discard(mid)
        self._nudge_later(call, sub, 0)
        self._demand_changed(call)

    def _subscriber_event(self, call: SfuCall, sub: Subscriber, message: dict) -> None:
        """Janus tells a subscriber which layer it now forwards on a mid."""
        data = (message.get("plugindata") or {}).get("data") or {}
        layer = data.get("substream")
        if data.get("videoroom") == "event" and isinstance(layer, int) and "mid" in data:
            mid = str(data["mid"])
            if sub.current.get(mid) != layer:
                sub.current[mid] = layer
                self._demand_changed(call)

    # dynacast: a camera sends only the simulcast layers its receivers need

    def _demand_changed(self, call: SfuCall) -> None:
        """Receivers, their layers, or the recording changed: each camera of this process is told
        (within DEMAND_SECONDS) to send a layer needed again, and later to stop those no longer
        needed."""
        if call.demand is None:
            call.demand = asyncio.get_running_loop().call_later(DEMAND_SECONDS, self._fit_demand, call)

    def _fit_demand(self, call: SfuCall) -> None:
        call.demand = None
        if self.calls.get(call.room) is not call:
            return
        local = self._local_needs(call)
        for publisher in call.publishers.values():
            if publisher.source != "camera" or not publisher.flowing:
                continue
            demand = self._demand(call, publisher, local)
            if demand >= publisher.sends:
                if publisher.lowering is not None:
                    publisher.lowering.cancel()
                    publisher.lowering = None
                if demand > publisher.sends:
                    self._tell_sender(call, publisher, demand)
            elif publisher.lowering is None:
                publisher.lowering = asyncio.get_running_loop().call_later(
                    LOWER_AFTER_SECONDS, self._lower, call, publisher
                )
        if self.needs_changed is not None and call.remote:
            theirs = {sid for feeds in call.remote.values() for sid, _ in feeds.values()}
            needs = {sid: layer for sid, layer in local.items() if sid in theirs}
            if needs != call.told_needs:
                call.told_needs = needs
                self.needs_changed(call, needs)

    @staticmethod
    def _local_needs(call: SfuCall) -> dict[str, int]:
        local: dict[str, int] = {}
        for sub in call.subscribers.values():
            for sid, need in sub.needs().items():
                local[sid] = max(local.get(sid, -1), need)
        return local

    def _demand(self, call: SfuCall, publisher: Publisher, local: dict[str, int]) -> int:
        """The highest layer of the publisher's camera anyone needs; -1: nobody receives its video
        (--last-n paused it everywhere), its browser encodes none until someone asks again."""
        if call.room in self.recording:
            return TOP_LAYER  # Janus records the best layer that arrives
        if any(origin not in call.remote_needs for origin in call.remote):
            return TOP_LAYER  # a process that has not said what its people need yet
        return max([local.get(publisher.sid, -1), *(n.get(publisher.sid, -1) for n in call.remote_needs.values())])

    def _lower(self, call: SfuCall, publisher: Publisher) -> None:
        publisher.lowering = None
        if (
            self.calls.get(call.room) is not call
            or call.publishers.get((publisher.sid, publisher.source)) is not publisher
        ):
            return
        demand = self._demand(call, publisher, self._local_needs(call))
        if demand < publisher.sends:
            self._tell_sender(call, publisher, demand)

    def _tell_sender(self, call: SfuCall, publisher: Publisher, layer: int) -> None:
        publisher.sends = layer
        log.info("camera layers", extra={"room": call.room, "sid": publisher.sid, "layer": layer})
        self._spawn(
            self.send(publisher.sid, "sfu_send", {"room": call.room, "source": publisher.source, "layer": layer}),
            f"videochat-sfu-send-{publisher.sid}",
        )

    def _spawn(self, work: Awaitable[None], name: str) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _nudge_later(self, call: SfuCall, sub: Subscriber, attempt: int) -> None:
        if sub.nudge is not None:
            sub.nudge.cancel()
        sub.nudge = asyncio.get_running_loop().call_later(
            NUDGE_SECONDS[attempt],
            lambda: self._start_nudge(call, sub, attempt),
        )

    def _start_nudge(self, call: SfuCall, sub: Subscriber, attempt: int) -> None:
        self._spawn(self._nudge(call, sub, attempt), f"videochat-sfu-nudge-{sub.sid}")

    async def _nudge(self, call: SfuCall, sub: Subscriber, attempt: int) -> None:
        """Ask again for the layers not reached yet: Janus then asks their senders for a keyframe."""
        sub.nudge = None
        stuck = [(mid, layer) for mid, layer in sub.layers.items() if sub.current.get(mid) != layer and mid in sub.mids]
        if not stuck or sub.handle is None or call.subscribers.get(sub.sid) is not sub:
            return
        try:
            await sub.handle.message(
                {"request": "configure", "streams": [{"mid": mid, "send": True, "substream": n} for mid, n in stuck]}
            )
        except JanusError as error:
            log.info("asking again for layers failed: %s", error.reason, extra={"room": call.room, "sid": sub.sid})
            return
        if attempt + 1 < len(NUDGE_SECONDS):
            self._nudge_later(call, sub, attempt + 1)

    # candidates

    async def candidate(self, room: str, sid: str, target: str, candidate: dict | None) -> None:
        """A browser's candidate for its `target` connection: "subscriber", "camera" or "screen"."""
        call = self._call(room)
        holder: Publisher | Subscriber | None = (
            call.subscribers.get(sid) if target == "subscriber" else call.publishers.get((sid, target))
        )
        if holder is None:
            raise SfuFailed(
                "You receive nothing from the SFU yet." if target == "subscriber" else f"You do not send {target}."
            )
        if holder.handle is None:  # Janus keeps candidates that come before the SDP; the handle must exist
            if len(holder.early) >= EARLY_CANDIDATES:
                raise SfuFailed("Too many candidates before the connection was set up.")
            holder.early.append(candidate)
            return
        await self._trickle(holder.handle, candidate)

    async def _flush_early(self, handle: Handle, holder: Publisher | Subscriber) -> None:
        early, holder.early = holder.early, []
        for candidate in early:
            await self._trickle(handle, candidate)

    @staticmethod
    async def _trickle(handle: Handle, candidate: dict | None) -> None:
        with contextlib.suppress(JanusError):
            await handle.trickle(candidate)

    # leaving

    async def leave(self, room: str, sid: str) -> None:
        call = self.calls.get(room)
        if call is not None:
            await self._leave(call, sid)

    async def _leave(self, call: SfuCall, sid: str) -> None:
        sub = call.subscribers.pop(sid, None)
        if sub is not None:
            self._stop_reconciling(sub)
            self._demand_changed(call)
            if sub.handle is not None:
                call.instance.subscribers = max(0, call.instance.subscribers - 1)
                await sub.handle.detach()
        for source in SOURCES:
            await self.unpublish(call.room, sid, source)

    @staticmethod
    def _stop_reconciling(sub: Subscriber) -> None:
        if sub.task is not None:
            sub.task.cancel()
        if sub.answer is not None and not sub.answer.done():
            sub.answer.cancel()
        if sub.nudge is not None:
            sub.nudge.cancel()

    def _call(self, room: str) -> SfuCall:
        call = self.calls.get(room)
        if call is None:
            raise SfuFailed("This call is not on the SFU.")
        return call
