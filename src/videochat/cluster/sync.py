"""Several videochat processes act as one, on Redis (docs/deploy.md).

Every process holds the whole room model (rooms.Registry) and access state (access.Access): its own
members, which only it changes, and copies of the other processes' members. The handlers read the
model as before, without a round trip; what changes is sent to the others over the Redis channel
(storage/bus.py), in order with the Socket.IO events that follow it, and written to Redis so that a process
that starts, or comes back after losing Redis, can read it all:

    videochat:procs          sorted set: process id -> the Redis time its next heartbeat must beat
    videochat:members:<pid>  hash: member id -> that member's snapshot (rooms.Registry.snapshot)
    videochat:policies       hash: room -> owner (and its key), lock (a salted hash), cap, privacy;
                             empty rooms too, while their history or bans last
    videochat:bans           hash: [room, who] -> [until, since] (Unix time)
    videochat:browser-id-secret  what signs browser ids (identity.py)
    videochat:history:<room> list: the room's recent messages (redis_history.py)
    videochat:sfu-calls      hash: where each call on the SFU lives (cluster/sfu.py)

A member's snapshot carries a version its process counts up, so a copy takes only newer ones. A
process that misses its heartbeats for `dead_after` seconds (kill -9, a lost machine) is taken for
dead: every other process drops its members and tells its own clients (`bye`, `peer_left`, a new
owner, `room_change`), as the dead process would have told everyone.

When Redis goes away, each process goes on with what it has: its own clients keep chatting and
calling each other, /readyz says not ready. When Redis is back, the process writes its members
again, tells the others (`hello`), reads theirs, and is ready again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from videochat.cluster.procs import deadlines, redis_now
from videochat.cluster.recordings import OPS as RECORDING_OPS
from videochat.cluster.recordings import SharedRecordings
from videochat.cluster.sfu import OPS as SFU_OPS
from videochat.cluster.sfu import SharedSfu
from videochat.fastpath.broadcast import BroadcastManager
from videochat.fastpath.manager import IndexedRooms
from videochat.model.rooms import Member
from videochat.storage.bus import RedisBus

if TYPE_CHECKING:
    from videochat.events.departures import Departures
    from videochat.events.roomlist import RoomList
    from videochat.model.access import Access
    from videochat.model.rooms import Registry
    from videochat.storage.base import History

log = logging.getLogger(__name__)

CHANNEL = "videochat"
PREFIX = "videochat:"
PROCS = PREFIX + "procs"
POLICIES = PREFIX + "policies"
BANS = PREFIX + "bans"
HEARTBEATS_BEFORE_DEAD = 5
TOMBSTONE_SECONDS = 60.0
FIRST_SYNC_SECONDS = 3.0
BEATS_BETWEEN_BAN_SWEEPS = 10
EVENTS_FIRST = 0.05  # seconds a room list caused by another process's change waits for its events  # how long a disconnected member's late snapshots are ignored


def members_key(pid: str) -> str:
    return f"{PREFIX}members:{pid}"


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def _text(raw: bytes | str) -> str:
    """A Redis reply as text (bytes, as the client does not decode replies; redis-py types either)."""
    return raw.decode() if isinstance(raw, bytes) else raw


def _ban_data(raw: bytes | str) -> tuple[float, float]:
    """A ban stored in Redis: until, since ([until, since]; a bare until from an older version)."""
    value = json.loads(raw)
    return (float(value[0]), float(value[1])) if isinstance(value, list) else (float(value), 0.0)


class FastBus(IndexedRooms, RedisBus, BroadcastManager):
    """The Redis channel on the fast path: local delivery through BroadcastManager (next after the
    library's pub/sub manager in this order, which calls `super().emit` for it), rooms indexed."""


class RedisUnavailable(RuntimeError):
    pass


class Cluster:
    def __init__(self, url: str, *, heartbeat: float = 2.0, fast_path: bool = True) -> None:
        self.pid = uuid.uuid4().hex[:16]
        self.bus = (FastBus if fast_path else RedisBus)(url, channel=CHANNEL)
        self.redis = self.bus.redis
        self.heartbeat = heartbeat
        self.dead_after = HEARTBEATS_BEFORE_DEAD * heartbeat
        self.synced = False
        self.reason = "not connected to Redis yet"
        self._gone: dict[str, float] = {}  # member id -> when it disconnected (monotonic)
        self._missing: dict[str, float] = {}  # process id -> since when it is not in procs
        self._resync_now = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._stamp = 0.0
        self._first_sync = asyncio.Event()
        self._beats = 0
        self.registry: Registry
        self.access: Access
        self.history: History
        self.room_list: RoomList
        self.departures: Departures
        self.sfu: SharedSfu | None = None  # calls on the SFU (events/sfu.py), when it is on
        self.recordings: SharedRecordings | None = None  # recordings (events/recordings.py), with the SFU

    def clock(self) -> float:
        """When a member enters a room (orders members across processes): Unix time, never the
        same twice in this process."""
        self._stamp = max(time.time(), self._stamp + 1e-6)
        return self._stamp

    def attach(
        self, registry: Registry, access: Access, history: History, room_list: RoomList, departures: Departures
    ) -> None:
        """What the cluster keeps in step with the other processes (the room model, the access
        policies), and what it tells of their changes (the history, the room list, departures)."""
        self.registry, self.access, self.history = registry, access, history
        self.room_list, self.departures = room_list, departures
        registry.origin = self.pid
        registry.on_change = self._member_changed
        access.on_change = self._access_changed
        self.bus.on_ops = self._apply
        self.bus.on_subscribed = self._subscribed
        self.bus.on_lost = self._lost

    # lifecycle

    async def start(self, sio: Any) -> None:
        log.info("joining the processes on Redis", extra={"redis": self.bus.safe_url, "instance": self.pid})
        self.bus.start()
        # python-socketio starts its manager at the first connection; the channel is needed before
        sio.manager_initialized = True
        self.bus.initialize()
        self._task = asyncio.create_task(self._beat_forever(), name="videochat-heartbeat")
        # serve with the others' rooms known, if Redis answers soon; else alone until it does
        try:
            await asyncio.wait_for(self._first_sync.wait(), FIRST_SYNC_SECONDS)
        except TimeoutError:
            log.warning(
                "Redis does not answer; serving alone until it does (/readyz says 503)",
                extra={"redis": self.bus.safe_url, "reason": self.reason},
            )

    async def stop(self) -> None:
        """Leave cleanly: the others drop this process's members at once instead of waiting."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.synced:
            try:
                await asyncio.wait_for(self._leave(), 2.0)
            except Exception as error:
                log.warning("could not leave Redis cleanly", extra={"error": str(error)})
        await self.bus.stop()

    async def _leave(self) -> None:
        await self.bus.flush()
        await self.redis.zrem(PROCS, self.pid)
        await self.redis.delete(members_key(self.pid))

    async def check(self) -> None:
        """/readyz: raise unless this process is in sync with Redis."""
        if not self.synced:
            raise RedisUnavailable(f"Redis {self.bus.safe_url}: {self.reason}")
        await self.redis.ping()

    # this process's changes, to Redis and the others

    def _member_changed(self, member_id: str, what: str, room: str | None) -> None:
        if what == "disconnect":  # only this process disconnects its own members
            self._gone[member_id] = time.monotonic()
            self.bus.command("HDEL", members_key(self.pid), member_id)
            self.bus.send_ops(["gone", member_id])
            return
        member = self.registry.member(member_id)
        if member is None:
            return
        if member.origin != self.pid:
            # another process's member changed here: its owner removed it from a room; its own
            # process applies the change and sends the member's new state
            if what == "leave":
                self.bus.send_ops(["leave", member_id, room])
            elif what == "hand" and room is not None:  # an owner lowered it
                self.bus.send_ops(["lower_hand", member_id, room])
            elif what == "knock" and room is not None:  # an owner answered its knock
                self.bus.send_ops(["knock_answer", member_id, room, room in member.admitted])
            return
        snapshot = self.registry.snapshot(member_id)
        self.bus.command("HSET", members_key(self.pid), member_id, _dumps(snapshot))
        self.bus.send_ops(["member", snapshot])

    def _access_changed(self, change: tuple) -> None:
        if change[0] == "policy":
            _, room, data = change
            if data is None:
                self.bus.command("HDEL", POLICIES, room)
            else:
                self.bus.command("HSET", POLICIES, room, _dumps(data))
        elif change[0] == "ban":
            _, room, key, until, since = change
            self.bus.command("HSET", BANS, _dumps([room, key]), _dumps([until, since]))
        self.bus.send_ops(list(change))

    # the others' changes

    async def _apply(self, ops: list) -> None:
        rooms_changed = False
        waiting_changed: set[str] = set()  # rooms whose waiting list changed: their owner hears, here
        calls_left: set[str] = set()  # rooms whose calls someone of another process left
        for op in ops:
            kind = op[0]
            if kind in ("member", "gone") and self.sfu is not None:
                calls_left |= self._calls_of(op[1]["id"] if kind == "member" else op[1])
            if kind in SFU_OPS:
                if self.sfu is not None:
                    self.sfu.apply(op)
            elif kind in RECORDING_OPS:
                if self.recordings is not None:
                    await self.recordings.apply(op)
            elif kind == "member":
                waiting_changed |= self._knocks_changed(op[1])
                rooms_changed |= self._take(op[1])
            elif kind == "gone":
                self._gone[op[1]] = time.monotonic()
                member = self.registry.member(op[1])
                waiting_changed |= set(member.knocks) if member is not None else set()
                rooms_changed |= self._drop(op[1])
            elif kind == "hello":
                rooms_changed |= await self._hello(op[1], op[2])
            elif kind == "leave":
                self._leave_room(op[1], op[2])
            elif kind == "lower_hand":
                self._lower_hand(op[1], op[2])
            elif kind == "knock_answer":
                self._knock_answer(op[1], op[2], bool(op[3]))
            elif kind == "policy" and op[2] is None and self.registry.has_room(op[1]) and self.access.has_policy(op[1]):
                # another process dropped a policy it took for unused while a member entered the
                # room here: the room lives, and so does its policy, for everyone
                self.access.announce(op[1])
            elif kind in ("policy", "ban"):
                self.access.apply(op)
                rooms_changed |= kind == "policy"
        for room in waiting_changed:
            await self.departures.owners.tell_waiting(room, local=True)
        for room in calls_left:
            if self.sfu is not None and self.registry.count_participants(room) == 0:
                await self.sfu.emptied(room)
        if rooms_changed:  # after the events that follow these changes on the channel (bye, welcome)
            await self.room_list.changed(after=EVENTS_FIRST)

    def _calls_of(self, member_id: str) -> set[str]:
        member = self.registry.member(member_id)
        return {room for room in member.rooms if self.registry.in_call(member_id, room)} if member else set()

    def _knocks_changed(self, state: dict) -> set[str]:
        """The rooms whose waiting list a member's new snapshot changes (as this copy has it)."""
        if state.get("origin") == self.pid or state["id"] in self._gone:
            return set()
        member = self.registry.member(state["id"])
        if member is not None and state["version"] <= member.version:
            return set()
        before = set(member.knocks) if member is not None else set()
        return before ^ set(state.get("knocks", {}))

    def _take(self, state: dict) -> bool:
        """A copy of another process's member; True if rooms or counts changed."""
        if state.get("origin") == self.pid or state["id"] in self._gone:
            return False
        member = self.registry.member(state["id"])
        before = set(member.rooms) if member is not None else set()
        departures = self.registry.put(state)
        if departures is None:
            return False
        self._forget_empty(departures)
        return before != set(state["rooms"])

    def _drop(self, member_id: str) -> bool:
        member, departures = self.registry.forget(member_id)
        self._forget_empty(departures)
        return bool(departures)

    def _forget_empty(self, departures: list) -> None:
        """Rooms another process's change emptied. When the last two members leave at the same time
        on two processes, neither process sees its own member leave last: each sees the room empty
        only here, so each starts the history's countdown (idempotent). The room's policy stays: it
        lasts while anything of the room does, and the process where the room emptied, or the
        periodic sweep (Departures.release_unused_rooms), drops it for everyone."""
        for departure in departures:
            if departure.count == 0:
                self.history.room_emptied(departure.room)

    def _leave_room(self, member_id: str, room: str) -> None:
        """An owner on another process removed one of this process's members from a room."""
        member = self.registry.member(member_id)
        if member is not None and member.origin == self.pid and room in member.rooms:
            self.registry.leave(member_id, room)  # and its new state goes out (on_change)

    def _lower_hand(self, member_id: str, room: str) -> None:
        """An owner on another process lowered the hand of one of this process's members."""
        member = self.registry.member(member_id)
        if member is not None and member.origin == self.pid and self.registry.in_call(member_id, room):
            self.registry.set_hand(member_id, room, False, 0.0)  # and its new state goes out (on_change)

    def _knock_answer(self, member_id: str, room: str, admit: bool) -> None:
        """An owner on another process answered the knock of one of this process's members."""
        member = self.registry.member(member_id)
        if member is not None and member.origin == self.pid:
            # its copy there changed already; here the member itself does, and its new state goes
            # out (a member that gave up meanwhile stays out)
            self.registry.end_knock(member_id, room, admit)

    async def _hello(self, origin: str, states: list[dict]) -> bool:
        """A process (re)joined with all its members: take them; the ones it no longer has left
        while it could not tell anyone."""
        self._missing.pop(origin, None)
        changed = any([self._take(state) for state in states])
        present = {state["id"] for state in states}
        stale = [m for m in self.registry.members_from(origin) if m.id not in present]
        await self._bury(stale)
        return changed or bool(stale)

    async def _bury(self, members: list[Member]) -> None:
        """Members whose process cannot tell anyone: each process tells its own clients."""
        for member in members:
            await self.departures.gone_elsewhere(member.id)
        if members:
            await self.room_list.changed()

    # heartbeats, the dead, and coming back

    async def _subscribed(self) -> None:
        self.synced = False
        self._resync_now.set()

    def _lost(self, reason: str) -> None:
        if self.synced:
            log.warning("lost Redis: going on alone until it is back", extra={"reason": reason})
        self.synced = False
        self.bus.up = False
        self.reason = reason

    async def _beat_forever(self) -> None:
        while True:
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._lost(f"{error.__class__.__name__}: {error}")
            try:
                await asyncio.wait_for(self._resync_now.wait(), self.heartbeat)
            except TimeoutError:
                pass
            self._resync_now.clear()

    async def _beat(self) -> None:
        now = await self._now()
        if not self.synced:
            if not self.bus.subscribed:
                self.reason = "subscribing to the Redis channel"
                return
            await self._resync(now)
        await self.redis.zadd(PROCS, {self.pid: now + self.dead_after})
        deadlines = await self._deadlines()
        await self._bury_the_dead(deadlines, now)
        if self.recordings is not None:
            await self.recordings.homes_alive({pid for pid, due in deadlines.items() if due > now} | {self.pid})
        cutoff = time.monotonic() - TOMBSTONE_SECONDS
        for member_id in [m for m, when in self._gone.items() if when < cutoff]:
            del self._gone[member_id]
        self._beats += 1
        if self._beats % BEATS_BETWEEN_BAN_SWEEPS == 0:
            await self._sweep_bans()

    async def _sweep_bans(self) -> None:
        """Bans that ran out leave Redis (each process sweeps now and then; HDEL is idempotent)."""
        wall = time.time()
        expired = [field for field, ban in (await self.redis.hgetall(BANS)).items() if _ban_data(ban)[0] <= wall]
        if expired:
            await self.redis.hdel(BANS, *expired)

    async def _deadlines(self) -> dict[str, float]:
        return await deadlines(self.redis, PROCS)

    async def _now(self) -> float:
        return await redis_now(self.redis)

    async def _bury_the_dead(self, deadlines: dict[str, float], now: float) -> None:
        for pid, deadline in deadlines.items():
            if pid != self.pid and deadline <= now and await self.redis.zrem(PROCS, pid):
                await self.redis.delete(members_key(pid))
                log.warning("a videochat process stopped answering; its members are gone", extra={"instance": pid})
        # (every member has an origin here: the registry's own is this process's id)
        origins = {m.origin for m in self.registry.members_from_elsewhere(self.pid) if m.origin is not None}
        for origin in origins:
            due = deadlines.get(origin)
            if due is not None and due > now:
                self._missing.pop(origin, None)
                continue
            if due is None:
                # not registered (Redis restarted empty, say): give it time to register again
                since = self._missing.setdefault(origin, time.monotonic())
                if time.monotonic() - since < self.dead_after:
                    continue
            self._missing.pop(origin, None)
            await self._bury(list(self.registry.members_from(origin)))

    async def _resync(self, now: float) -> None:
        """(Re)join: write this process's state, tell the others, read theirs."""
        self.bus.up = True  # from here on changes queue up behind the full state
        local = [self.registry.snapshot(m.id) for m in self.registry.members_from(self.pid)]
        key = members_key(self.pid)
        self.bus.command("DEL", key)
        if local:
            self.bus.command("HSET", key, *itertools.chain.from_iterable((s["id"], _dumps(s)) for s in local))
        self.bus.command("ZADD", PROCS, now + self.dead_after, self.pid)
        policies, bans = self.access.state()
        for room in {room for state in local for room in state["rooms"]}:
            if room in policies:  # Redis may have restarted empty: put back what it lost
                self.bus.command("HSETNX", POLICIES, room, _dumps(policies[room]))
        wall = time.time()
        for (room, who), ban in bans.items():
            if ban.until > wall:
                self.bus.command("HSET", BANS, _dumps([room, who]), _dumps([ban.until, ban.since]))
        self.bus.send_ops(["hello", self.pid, local])
        await self.bus.flush()
        if not self.bus.up:
            raise RedisUnavailable(self.reason)
        await self._read_the_others(now)
        if self.sfu is not None:
            await self.sfu.read()
        self.synced = True
        self.reason = "in sync"
        self._first_sync.set()
        log.info(
            "in sync with the other processes on Redis",
            extra={"instance": self.pid, "members": len(self.registry.member_ids())},
        )
        await self.room_list.changed()

    async def _read_the_others(self, now: float) -> None:
        deadlines = await self._deadlines()
        for pid, deadline in deadlines.items():
            if pid == self.pid or deadline <= now:
                continue
            states = [json.loads(raw) for raw in (await self.redis.hgetall(members_key(pid))).values()]
            for state in states:
                self._take(state)
            present = {state["id"] for state in states}
            await self._bury([m for m in self.registry.members_from(pid) if m.id not in present])
        for room, raw in (await self.redis.hgetall(POLICIES)).items():
            # every policy, empty rooms' too: a locked room stays locked while its history lasts
            self.access.apply(["policy", _text(room), json.loads(raw)])
        wall = time.time()
        for field, ban in (await self.redis.hgetall(BANS)).items():
            until, since = _ban_data(ban)
            if until > wall:
                room, who = json.loads(field)
                self.access.apply(["ban", room, who, until, since])
            else:
                await self.redis.hdel(BANS, field)
