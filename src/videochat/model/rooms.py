"""The room model: who is connected, which rooms exist, who is in each and in which order.

Pure state, no I/O and no Socket.IO: the event handlers ask it what changed and do the talking.
A room exists while it has members; members are kept in order of arrival (longest present first:
each membership has a stamp from the registry's clock). Every room is also a call: its call
participants are a subset of its members, each with a media state (what they send), capped at a
maximum call size.

Several processes (cluster/, docs/deploy.md) each hold one registry with *every* member: their own
connections, which they change, and the others' as copies. A member's `snapshot()` is what travels;
`put()` lays a newer snapshot over the copy. Changes to members are reported to `on_change`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from videochat.model.callmode import MESH

DEFAULT_NICKNAME = "Anon"


MEDIA_KINDS = ("audio", "video", "screen")
# how a participant's page grades its own connection (getStats: round-trip time, loss, frames dropped)
QUALITIES = ("good", "fair", "poor")


class RoomSummary(TypedDict):
    """A room as the room list shows it."""

    name: str
    count: int


@dataclass
class Member:
    id: str
    nickname: str = DEFAULT_NICKNAME
    rooms: dict[str, float] = field(default_factory=dict)  # room -> stamp of arrival, in order of entry
    # What this connection calls itself across reconnections (never shown to others).
    client_id: str | None = None
    key: str | None = None  # who this is across connections: its browser id (identity.py), verified
    address: str | None = None  # the address a removal holds too (identity.address_key)
    known_since: float | None = None  # when its browser id was issued (Unix time)
    origin: str | None = None  # the process holding the connection (None: this one, alone)
    # the waiting room: rooms it asks to enter (room -> since when, Unix time), and rooms whose
    # owner let it in (its next entry there passes the knock)
    knocks: dict[str, float] = field(default_factory=dict)
    admitted: set[str] = field(default_factory=set)
    version: int = 0  # counts the changes of this member (the newest snapshot wins)

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "nickname": self.nickname}


@dataclass(frozen=True)
class Media:
    """What a call participant sends."""

    audio: bool = True
    video: bool = True
    screen: bool = False
    quality: str | None = None  # one of QUALITIES, once the page has measured

    def as_dict(self) -> dict[str, bool | str]:
        state: dict[str, bool | str] = {"audio": self.audio, "video": self.video, "screen": self.screen}
        if self.quality is not None:
            state["quality"] = self.quality
        return state


@dataclass
class Participant:
    member: Member
    media: Media
    sfu: bool = False  # its client speaks the SFU events (model/callmode.py)
    hand: float | None = None  # when its hand went up (the server's clock), None while down

    def as_dict(self) -> dict[str, object]:
        return {**self.member.as_dict(), "media": self.media.as_dict(), "hand": self.hand}


@dataclass(frozen=True)
class Departure:
    """One room a member left: who remains is `count`; `left_call` if it was in the room's call."""

    room: str
    count: int
    left_call: bool = False


class NotInRoom(LookupError):
    def __init__(self, room: str) -> None:
        super().__init__(room)
        self.room = room


class CallFull(Exception):
    def __init__(self, room: str, size: int) -> None:
        super().__init__(room)
        self.room = room
        self.size = size


# What changed, for on_change: ("connect" | "join" | "leave" | "rename" | "call" | "uncall" | "media"
# | "hand" | "knock" | "disconnect", member id, room or None).
ChangeListener = Callable[[str, str, "str | None"], None]


class Registry:
    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self._clock = clock or itertools.count(1).__next__
        self.on_change: ChangeListener | None = None
        # this process, when several share the rooms: only its own members' versions count here
        self.origin: str | None = None
        self._members: dict[str, Member] = {}
        # room name -> {member id: Member}, both dicts in insertion (arrival / creation) order
        self._rooms: dict[str, dict[str, Member]] = {}
        # room name -> {member id: Participant} in order of joining; a room's entry exists while
        # its call has participants
        self._calls: dict[str, dict[str, Participant]] = {}
        self._client_ids: dict[str, str] = {}  # client id -> member id
        self._modes: dict[str, str] = {}  # room -> "sfu" while its call is on the SFU (else a mesh)
        self._knocks: dict[str, dict[str, Member]] = {}  # room -> {member id: member} asking to enter

    # connections

    def connect(
        self,
        member_id: str,
        nickname: str = DEFAULT_NICKNAME,
        client_id: str | None = None,
        *,
        key: str | None = None,
        address: str | None = None,
        known_since: float | None = None,
        origin: str | None = None,
    ) -> Member:
        """Register a connection. A client id already held by another connection is taken over:
        the caller must disconnect the holder (`holder_of_client_id` before connecting)."""
        member = Member(
            member_id, nickname, client_id=client_id, key=key, address=address, known_since=known_since, origin=origin
        )
        self._members[member_id] = member
        if client_id is not None:
            self._client_ids[client_id] = member_id
        self._changed(member, "connect")
        return member

    def holder_of_client_id(self, client_id: str) -> str | None:
        return self._client_ids.get(client_id)

    def disconnect(self, member_id: str) -> tuple[Member | None, list[Departure]]:
        """Forget a connection; returns it and each room it left, with the count left behind."""
        member = self._members.pop(member_id, None)
        if member is None:
            return None, []
        if member.client_id is not None and self._client_ids.get(member.client_id) == member_id:
            del self._client_ids[member.client_id]
        departures = [self._remove(member, room) for room in list(member.rooms)]
        for room in member.knocks:  # (the member keeps them: the caller tells those rooms' owners)
            self._unindex_knock(member.id, room)
        self._changed(member, "disconnect")
        return member, departures

    def member(self, member_id: str) -> Member | None:
        return self._members.get(member_id)

    def member_ids(self) -> list[str]:
        return list(self._members)

    # rooms

    def join(self, member_id: str, room: str) -> tuple[int, bool]:
        """Put a member in a room; returns (members now, whether the member is new there)."""
        member = self._members[member_id]
        if room in member.rooms:
            return len(self._rooms[room]), False
        count = self._insert(member, room, self._clock())
        member.admitted.discard(room)
        if member.knocks.pop(room, None) is not None:
            self._unindex_knock(member_id, room)
        self._changed(member, "join", room)
        return count, True

    def _insert(self, member: Member, room: str, stamp: float) -> int:
        """Add a membership in order of its stamp (the latest arrival usually goes last)."""
        member.rooms[room] = stamp
        members = self._rooms.setdefault(room, {})
        last = next(reversed(members.values()), None)
        members[member.id] = member
        if last is not None and (last.rooms[room], last.id) > (stamp, member.id):
            ordered = sorted(members.values(), key=lambda m: (m.rooms[room], m.id))
            members.clear()
            members.update((m.id, m) for m in ordered)
        return len(members)

    def leave(self, member_id: str, room: str) -> Departure:
        member = self._members[member_id]
        if room not in member.rooms:
            raise NotInRoom(room)
        departure = self._remove(member, room)
        self._changed(member, "leave", room)
        return departure

    def rename(self, member_id: str, nickname: str) -> tuple[str, list[str]]:
        """Change a nickname; returns the old one and the rooms to tell."""
        member = self._members[member_id]
        old, member.nickname = member.nickname, nickname
        if old != nickname:
            self._changed(member, "rename")
        return old, list(member.rooms)

    def is_member(self, member_id: str, room: str) -> bool:
        return member_id in self._rooms.get(room, ())

    def members(self, room: str) -> list[Member]:
        return list(self._rooms.get(room, {}).values())

    def count_members(self, room: str) -> int:
        return len(self._rooms.get(room, ()))

    def has_room(self, room: str) -> bool:
        return room in self._rooms

    def room_names(self) -> list[str]:
        return list(self._rooms)

    def room_summaries(self) -> list[RoomSummary]:
        return [{"name": name, "count": len(members)} for name, members in self._rooms.items()]

    def busiest_rooms(self, most: int, listed: Callable[[str], bool]) -> list[RoomSummary]:
        """Summaries of the `most` rooms with the most members among those `listed`; of rooms with
        as many, the one whose longest-present member came first, then by name: the same order in
        every process that holds the same members (arrival stamps travel with them)."""
        ranked = heapq.nsmallest(
            most,
            (
                (-len(members), next(iter(members.values())).rooms[name], name)
                for name, members in self._rooms.items()
                if listed(name)
            ),
        )
        return [{"name": name, "count": -negative} for negative, _, name in ranked]

    # calls

    def join_call(
        self, member_id: str, room: str, media: Media, max_size: int, sfu: bool = False
    ) -> tuple[int, bool, bool]:
        """Enter a room if needed and join its call, all at once (no other join can slip between).

        Returns (room members now, whether new in the room, whether new in the call). Raises
        CallFull, changing nothing, when the call already has `max_size` participants.
        """
        participants = self._calls.get(room, {})
        if member_id in participants:
            return self.count_members(room), False, False
        if len(participants) >= max_size:
            raise CallFull(room, max_size)
        count, new_member = self.join(member_id, room)
        self._calls.setdefault(room, {})[member_id] = Participant(self._members[member_id], media, sfu)
        self._changed(self._members[member_id], "call", room)
        return count, new_member, True

    def leave_call(self, member_id: str, room: str) -> bool:
        """Leave a room's call (staying in the room); False if the member was not in it."""
        if not self._drop_participant(member_id, room):
            return False
        self._changed(self._members[member_id], "uncall", room)
        return True

    def _drop_participant(self, member_id: str, room: str) -> bool:
        participants = self._calls.get(room)
        if participants is None or member_id not in participants:
            return False
        del participants[member_id]
        if not participants:
            del self._calls[room]
            self._modes.pop(room, None)  # the next call in this room starts as a mesh
        return True

    def in_call(self, member_id: str, room: str) -> bool:
        return member_id in self._calls.get(room, ())

    def participants(self, room: str) -> list[Participant]:
        return list(self._calls.get(room, {}).values())

    def count_participants(self, room: str) -> int:
        return len(self._calls.get(room, ()))

    def call_mode(self, room: str) -> str:
        return self._modes.get(room, MESH)

    def set_call_mode(self, room: str, mode: str) -> None:
        if room not in self._calls:
            return  # the call ended meanwhile
        if mode == MESH:
            self._modes.pop(room, None)
        else:
            self._modes[room] = mode

    def call_sizes(self, room: str) -> tuple[int, int]:
        """(participants, of which speak the SFU events), for CallPolicy.join."""
        participants = self._calls.get(room, {}).values()
        return len(participants), sum(1 for p in participants if p.sfu)

    def count_calls(self) -> int:
        """Calls in progress: rooms whose call has two participants or more."""
        return sum(1 for participants in self._calls.values() if len(participants) >= 2)

    def set_media(self, member_id: str, room: str, media: Media) -> None:
        participant = self._calls[room][member_id]
        if participant.media != media:
            participant.media = media
            self._changed(participant.member, "media", room)

    def media(self, member_id: str, room: str) -> Media:
        return self._calls[room][member_id].media

    def set_hand(self, member_id: str, room: str, raised: bool, now: float) -> float | None:
        """Raise (a hand already up keeps its place in the queue) or lower a participant's hand;
        returns when it went up, or None."""
        participant = self._calls[room][member_id]
        hand = (participant.hand or now) if raised else None
        if participant.hand != hand:
            participant.hand = hand
            self._changed(participant.member, "hand", room)
        return hand

    def hand(self, member_id: str, room: str) -> float | None:
        return self._calls[room][member_id].hand

    def raised_hands(self, room: str) -> list[Participant]:
        """The call's raised hands, the first raised first."""
        hands = [p for p in self._calls.get(room, {}).values() if p.hand is not None]
        return sorted(hands, key=lambda p: (p.hand, p.member.id))

    # the waiting room

    def knock(self, member_id: str, room: str, now: float) -> bool:
        """The member asks to enter `room`; False if it was asking already."""
        member = self._members[member_id]
        if room in member.knocks:
            return False
        member.knocks[room] = now
        self._knocks.setdefault(room, {})[member_id] = member
        self._changed(member, "knock", room)
        return True

    def end_knock(self, member_id: str, room: str, admit: bool) -> bool:
        """The owner's answer (`admit`: its next entry passes), or the member gave up; False if it
        was not asking."""
        member = self._members.get(member_id)
        if member is None or member.knocks.pop(room, None) is None:
            return False
        self._unindex_knock(member_id, room)
        if admit:
            member.admitted.add(room)
        self._changed(member, "knock", room)
        return True

    def is_admitted(self, member_id: str, room: str) -> bool:
        member = self._members.get(member_id)
        return member is not None and room in member.admitted

    def waiting(self, room: str) -> list[tuple[Member, float]]:
        """Who asks to enter `room`, the first to ask first."""
        knocks = [(member, member.knocks[room]) for member in self._knocks.get(room, {}).values()]
        return sorted(knocks, key=lambda knock: (knock[1], knock[0].id))

    def count_waiting(self, room: str) -> int:
        return len(self._knocks.get(room, ()))

    def _unindex_knock(self, member_id: str, room: str) -> None:
        knocks = self._knocks.get(room)
        if knocks is not None:
            knocks.pop(member_id, None)
            if not knocks:
                del self._knocks[room]

    def _remove(self, member: Member, room: str) -> Departure:
        del member.rooms[room]
        members = self._rooms[room]
        del members[member.id]
        if not members:
            del self._rooms[room]
        left_call = self._drop_participant(member.id, room)
        return Departure(room, len(members), left_call)

    def _changed(self, member: Member, what: str, room: str | None = None) -> None:
        if member.origin == self.origin:  # a copy's version is its own process's
            member.version += 1
        if self.on_change is not None:
            self.on_change(member.id, what, room)

    # copies of members held elsewhere (cluster.py)

    def snapshot(self, member_id: str) -> dict[str, Any]:
        """A member's whole state, as JSON-ready data that `put()` takes."""
        member = self._members[member_id]
        calls = {
            room: self._calls[room][member_id].media.as_dict()
            for room in member.rooms
            if member_id in self._calls.get(room, ())
        }
        hands = {room: self._calls[room][member_id].hand for room in calls if self._calls[room][member_id].hand}
        sfu = sorted(room for room in calls if self._calls[room][member_id].sfu)
        return {
            "id": member.id,
            "nickname": member.nickname,
            "clientId": member.client_id,
            "key": member.key,
            "address": member.address,
            "knownSince": member.known_since,
            "origin": member.origin,
            "version": member.version,
            "rooms": dict(member.rooms),
            "calls": calls,
            "hands": hands,
            "sfu": sfu,
            "knocks": dict(member.knocks),
            "admitted": sorted(member.admitted),
        }

    def put(self, state: dict[str, Any]) -> list[Departure] | None:
        """Lay a member's snapshot over the copy held here (no on_change): rooms left and entered,
        calls, media, nickname. Returns the rooms it left, or None when the snapshot is not newer
        than what is here (it changes nothing)."""
        member_id = state["id"]
        member = self._members.get(member_id)
        if member is None:
            member = Member(
                member_id,
                client_id=state.get("clientId"),
                key=state.get("key"),
                address=state.get("address"),
                known_since=state.get("knownSince"),
                origin=state.get("origin"),
            )
            self._members[member_id] = member
            if member.client_id is not None:
                self._client_ids[member.client_id] = member_id
        elif state["version"] <= member.version:
            return None
        member.version, member.nickname = state["version"], state["nickname"]
        rooms: dict[str, float] = state["rooms"]
        departures = [self._remove(member, room) for room in list(member.rooms) if room not in rooms]
        for room, stamp in rooms.items():
            if room not in member.rooms:
                self._insert(member, room, stamp)
        knocks: dict[str, float] = state.get("knocks", {})
        for room in member.knocks.keys() - knocks.keys():
            self._unindex_knock(member_id, room)
        for room in knocks.keys() - member.knocks.keys():
            self._knocks.setdefault(room, {})[member_id] = member
        member.knocks, member.admitted = dict(knocks), set(state.get("admitted", ()))
        hands, sfu = state.get("hands", {}), set(state.get("sfu", ()))
        for room in rooms:
            media = state["calls"].get(room)
            if media is None:
                self._drop_participant(member_id, room)
            elif member_id in self._calls.get(room, ()):
                participant = self._calls[room][member_id]
                participant.media, participant.hand, participant.sfu = Media(**media), hands.get(room), room in sfu
            else:
                self._calls.setdefault(room, {})[member_id] = Participant(
                    member, Media(**media), sfu=room in sfu, hand=hands.get(room)
                )
        return departures

    def forget(self, member_id: str) -> tuple[Member | None, list[Departure]]:
        """Drop a copy of a member whose connection is gone (no on_change)."""
        listener, self.on_change = self.on_change, None
        try:
            return self.disconnect(member_id)
        finally:
            self.on_change = listener

    def members_from(self, origin: str) -> list[Member]:
        return [m for m in self._members.values() if m.origin == origin]

    def members_from_elsewhere(self, origin: str) -> list[Member]:
        return [m for m in self._members.values() if m.origin != origin]


def largest_list_bytes(rooms: int, max_room_name: int) -> int:
    """The most bytes a `room_change` of `rooms` rooms may take (settings check it against
    --max-outgoing-bytes): a name is at most 4 UTF-8 bytes a character (no control characters, so
    no escapes longer than that) and comes twice, in `names` and in its summary, whose other fields
    take under 64 bytes."""
    return 64 + rooms * (2 * 4 * max_room_name + 64)
