"""The room model: who is connected, which rooms exist, who is in each and in which order.

Pure state, no I/O and no Socket.IO: the event handlers ask it what changed and do the talking.
A room exists while it has members; members are kept in order of arrival (longest present first).
Every room is also a call: its call participants are a subset of its members, each with a media
state (what they send), capped at a maximum call size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_NICKNAME = "Anon"


MEDIA_KINDS = ("audio", "video", "screen")


@dataclass
class Member:
    id: str
    nickname: str = DEFAULT_NICKNAME
    rooms: list[str] = field(default_factory=list)
    # What this connection calls itself across reconnections (never shown to others).
    client_id: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "nickname": self.nickname}


@dataclass(frozen=True)
class Media:
    """What a call participant sends."""

    audio: bool = True
    video: bool = True
    screen: bool = False

    def as_dict(self) -> dict[str, bool]:
        return {"audio": self.audio, "video": self.video, "screen": self.screen}


@dataclass
class Participant:
    member: Member
    media: Media

    def as_dict(self) -> dict[str, object]:
        return {**self.member.as_dict(), "media": self.media.as_dict()}


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


class Registry:
    def __init__(self) -> None:
        self._members: dict[str, Member] = {}
        # room name -> {member id: Member}, both dicts in insertion (arrival / creation) order
        self._rooms: dict[str, dict[str, Member]] = {}
        # room name -> {member id: Participant} in order of joining; a room's entry exists while
        # its call has participants
        self._calls: dict[str, dict[str, Participant]] = {}
        self._client_ids: dict[str, str] = {}  # client id -> member id

    # connections

    def connect(self, member_id: str, nickname: str = DEFAULT_NICKNAME, client_id: str | None = None) -> Member:
        """Register a connection. A client id already held by another connection is taken over:
        the caller must disconnect the holder (`holder_of_client_id` before connecting)."""
        member = Member(member_id, nickname, client_id=client_id)
        self._members[member_id] = member
        if client_id is not None:
            self._client_ids[client_id] = member_id
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
        return member, departures

    def member(self, member_id: str) -> Member | None:
        return self._members.get(member_id)

    def member_ids(self) -> list[str]:
        return list(self._members)

    # rooms

    def join(self, member_id: str, room: str) -> tuple[int, bool]:
        """Put a member in a room; returns (members now, whether the member is new there)."""
        member = self._members[member_id]
        members = self._rooms.setdefault(room, {})
        if member_id in members:
            return len(members), False
        members[member_id] = member
        member.rooms.append(room)
        return len(members), True

    def leave(self, member_id: str, room: str) -> Departure:
        member = self._members[member_id]
        if room not in member.rooms:
            raise NotInRoom(room)
        return self._remove(member, room)

    def rename(self, member_id: str, nickname: str) -> tuple[str, list[str]]:
        """Change a nickname; returns the old one and the rooms to tell."""
        member = self._members[member_id]
        old, member.nickname = member.nickname, nickname
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

    def room_summaries(self) -> list[dict[str, object]]:
        return [{"name": name, "count": len(members)} for name, members in self._rooms.items()]

    # calls

    def join_call(self, member_id: str, room: str, media: Media, max_size: int) -> tuple[int, bool, bool]:
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
        self._calls.setdefault(room, {})[member_id] = Participant(self._members[member_id], media)
        return count, new_member, True

    def leave_call(self, member_id: str, room: str) -> bool:
        """Leave a room's call (staying in the room); False if the member was not in it."""
        participants = self._calls.get(room)
        if participants is None or member_id not in participants:
            return False
        del participants[member_id]
        if not participants:
            del self._calls[room]
        return True

    def in_call(self, member_id: str, room: str) -> bool:
        return member_id in self._calls.get(room, ())

    def participants(self, room: str) -> list[Participant]:
        return list(self._calls.get(room, {}).values())

    def count_participants(self, room: str) -> int:
        return len(self._calls.get(room, ()))

    def count_calls(self) -> int:
        """Calls in progress: rooms whose call has two participants or more."""
        return sum(1 for participants in self._calls.values() if len(participants) >= 2)

    def set_media(self, member_id: str, room: str, media: Media) -> None:
        self._calls[room][member_id].media = media

    def media(self, member_id: str, room: str) -> Media:
        return self._calls[room][member_id].media

    def _remove(self, member: Member, room: str) -> Departure:
        member.rooms.remove(room)
        members = self._rooms[room]
        del members[member.id]
        if not members:
            del self._rooms[room]
        left_call = self.leave_call(member.id, room)
        return Departure(room, len(members), left_call)
