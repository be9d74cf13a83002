"""The room model: who is connected, which rooms exist, who is in each and in which order.

Pure state, no I/O and no Socket.IO: the event handlers ask it what changed and do the talking.
A room exists while it has members; members are kept in order of arrival (longest present first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_NICKNAME = "Anon"


@dataclass
class Member:
    id: str
    nickname: str = DEFAULT_NICKNAME
    rooms: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "nickname": self.nickname}


@dataclass(frozen=True)
class Departure:
    """One room a member left: who remains is `count`."""

    room: str
    count: int


class NotInRoom(LookupError):
    def __init__(self, room: str) -> None:
        super().__init__(room)
        self.room = room


class Registry:
    def __init__(self) -> None:
        self._members: dict[str, Member] = {}
        # room name -> {member id: Member}, both dicts in insertion (arrival / creation) order
        self._rooms: dict[str, dict[str, Member]] = {}

    # connections

    def connect(self, member_id: str, nickname: str = DEFAULT_NICKNAME) -> Member:
        member = Member(member_id, nickname)
        self._members[member_id] = member
        return member

    def disconnect(self, member_id: str) -> tuple[Member | None, list[Departure]]:
        """Forget a connection; returns it and each room it left, with the count left behind."""
        member = self._members.pop(member_id, None)
        if member is None:
            return None, []
        departures = [self._remove(member, room) for room in list(member.rooms)]
        return member, departures

    def member(self, member_id: str) -> Member | None:
        return self._members.get(member_id)

    def count_connections(self) -> int:
        return len(self._members)

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

    def _remove(self, member: Member, room: str) -> Departure:
        member.rooms.remove(room)
        members = self._rooms[room]
        del members[member.id]
        if not members:
            del self._rooms[room]
        return Departure(room, len(members))
