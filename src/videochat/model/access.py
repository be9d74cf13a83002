"""Who may enter a room and who runs it: owner, password lock, member cap, privacy, removals.

Pure state beside the room model (rooms.py), no I/O: the owner is whoever was handed the room and
is still in it, else the member the room's owner key names (its creator, or whom it was handed to,
back on a new connection), else the longest-present member; the caller passes member lists, keys and
the clock.

A room's policy lasts as long as anything of the room does, not only while it has members: its lock
and its owner's key keep guarding its history (and its bans) when it is empty; the caller drops it
(`emptied`) once nothing of the room remains (chat.py).
Passwords are kept as hashes made by the caller (hashing is slow on purpose and runs off the loop).
Every change is reported to `on_change` as JSON-ready data that `apply()` takes (several processes
keep the same access state this way: cluster.py).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from videochat.model.passwords import PasswordHash

# ("policy", room, RoomPolicy.to_data() or None) or ("ban", room, client key, until, since)
AccessChange = tuple[Any, ...]


class _Keep(enum.Enum):
    """`configure`'s default: leave the setting as it is (None has a meaning: remove the lock or cap)."""

    KEEP = enum.auto()


KEEP: Final = _Keep.KEEP

MOST_MEMBERS = 1000  # the largest member cap an owner may set


@dataclass(frozen=True)
class Ban:
    until: float  # Unix time
    since: float  # when it was decided: an address ban lets in browser ids issued before (chat.py)


@dataclass
class RoomPolicy:
    owner: str | None = None  # set when ownership is handed over; else the longest present
    password_hash: PasswordHash | None = None
    max_members: int | None = None
    private: bool = False
    # who owns the room across connections: the lasting key (a browser's) of its creator, or of the
    # member it was handed to; None when they had none (then ownership goes by presence alone)
    owner_key: str | None = None
    # "ask to join": newcomers wait until the owner lets them in (the waiting room, events/knocks.py)
    knock: bool = False
    # lasting keys (browser ids) of those let in while it asks: back on a new connection (a reload,
    # a reconnect), they do not wait again; the latest MOST_MEMBERS
    let_in: list[str] = field(default_factory=list)

    def as_dict(self, owner: str | None) -> dict[str, object]:
        return {
            "owner": owner,
            "locked": self.password_hash is not None,
            "private": self.private,
            "maxMembers": self.max_members,
            "knock": self.knock,
        }

    def to_data(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "maxMembers": self.max_members,
            "private": self.private,
            "password": self.password_hash.to_data() if self.password_hash else None,
            "ownerKey": self.owner_key,
            "knock": self.knock,
            "letIn": list(self.let_in),
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> RoomPolicy:
        password = data.get("password")
        return cls(
            owner=data.get("owner"),
            max_members=data.get("maxMembers"),
            private=bool(data.get("private")),
            password_hash=PasswordHash.from_data(password) if password else None,
            owner_key=data.get("ownerKey"),
            knock=bool(data.get("knock")),
            let_in=[key for key in data.get("letIn", ()) if isinstance(key, str)][-MOST_MEMBERS:],
        )


class Refusal(Exception):
    """A member may not enter: `code` says why (room_full, banned)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class Access:
    def __init__(self) -> None:
        self._policies: dict[str, RoomPolicy] = {}
        self._bans: dict[tuple[str, str], Ban] = {}  # (room, client key or address key) -> ban
        self.on_change: Callable[[AccessChange], None] | None = None

    def policy(self, room: str) -> RoomPolicy:
        return self._policies.get(room) or RoomPolicy()

    def owner_of(
        self, room: str, member_ids: list[str], key_of: Callable[[str], str | None] = lambda member_id: None
    ) -> str | None:
        """The owner among `member_ids` (longest present first); `key_of` gives a member's lasting key."""
        policy = self.policy(room)
        if policy.owner is not None and policy.owner in member_ids:
            return policy.owner
        if policy.owner_key is not None:
            for member_id in member_ids:
                if key_of(member_id) == policy.owner_key:
                    return member_id
        return member_ids[0] if member_ids else None

    def is_owner_key(self, room: str, key: str | None) -> bool:
        return key is not None and key == self.policy(room).owner_key

    # the room's life

    def created(self, room: str, *, private: bool, owner_key: str | None = None) -> bool:
        """The first member entered `room`. A room whose policy outlived its members (its history or
        bans remain) keeps it, lock, owner and all; False then. Else a new policy (True)."""
        if room in self._policies:
            return False
        self._policies[room] = RoomPolicy(private=private, owner_key=owner_key)
        self._changed(room)
        return True

    def emptied(self, room: str) -> None:
        """Nothing of the room remains: the next one to enter creates it afresh (lock and all gone)."""
        if self._policies.pop(room, None) is not None:
            self._changed(room)

    def has_policy(self, room: str) -> bool:
        return room in self._policies

    def rooms(self) -> list[str]:
        """Rooms with a policy: those with members, and empty ones whose history or bans remain."""
        return list(self._policies)

    def has_bans(self, room: str, now: float) -> bool:
        return any(r == room and ban.until > now for (r, _), ban in self._bans.items())

    def is_private(self, room: str) -> bool:
        return self.policy(room).private

    # entering

    def admit(
        self,
        room: str,
        client_key: str,
        *,
        count: int,
        already_member: bool,
        now: float,
        address: str | None = None,
        known_since: float | None = None,
    ) -> None:
        """Raise Refusal unless `client_key` may enter `room` now (passwords are checked apart).

        `address` (a key of identity.address_key): a ban on it keeps out every browser id issued
        since the ban (`known_since`: when this one was issued; None counts as new)."""
        if already_member:
            return
        until = self.banned_until(room, client_key, now)
        if until is not None:
            raise Refusal(
                "banned", f"You were removed from {room!r}; you may come back in {max(1, round(until - now))} seconds."
            )
        ban = self._ban(room, address, now) if address else None
        if ban is not None and (known_since is None or known_since >= ban.since):
            raise Refusal(
                "banned",
                f"Someone at your network address was removed from {room!r}; it takes "
                f"no newcomers from there for {max(1, round(ban.until - now))} seconds.",
            )
        cap = self.policy(room).max_members
        if cap is not None and count >= cap:
            raise Refusal("room_full", f"Room {room!r} is full ({cap} members).")

    # the owner's powers

    def hand_over(self, room: str, new_owner: str, owner_key: str | None = None) -> None:
        policy = self._policy_for_change(room)
        policy.owner, policy.owner_key = new_owner, owner_key
        self._changed(room)

    def configure(
        self,
        room: str,
        *,
        password_hash: PasswordHash | None | Literal[_Keep.KEEP] = KEEP,
        max_members: int | None | Literal[_Keep.KEEP] = KEEP,
        private: bool | None = None,
        knock: bool | None = None,
    ) -> RoomPolicy:
        """Change what is given (None: remove the lock or the cap)."""
        policy = self._policy_for_change(room)
        if password_hash is not KEEP:
            policy.password_hash = password_hash
        if max_members is not KEEP:
            policy.max_members = max_members
        if private is not None:
            policy.private = private
        if knock is not None:
            policy.knock = knock
        self._changed(room)
        return policy

    def let_in(self, room: str, keys: Sequence[str]) -> None:
        """Those lasting keys need not wait at the room's door again (the latest MOST_MEMBERS)."""
        policy = self._policy_for_change(room)
        new = [key for key in dict.fromkeys(keys) if key not in policy.let_in]
        if new:
            policy.let_in = [*policy.let_in, *new][-MOST_MEMBERS:]
            self._changed(room)

    def was_let_in(self, room: str, key: str | None) -> bool:
        return key is not None and key in self.policy(room).let_in

    def ban(self, room: str, client_key: str, until: float, now: float) -> None:
        self.forget_expired_bans(now)  # bans would otherwise pile up for as long as the server runs
        self._bans[(room, client_key)] = Ban(until, now)
        if self.on_change is not None:
            self.on_change(("ban", room, client_key, until, now))

    def banned_until(self, room: str, client_key: str, now: float) -> float | None:
        ban = self._ban(room, client_key, now)
        return ban.until if ban is not None else None

    def _ban(self, room: str, client_key: str, now: float) -> Ban | None:
        ban = self._bans.get((room, client_key))
        if ban is not None and ban.until <= now:
            del self._bans[(room, client_key)]
            return None
        return ban

    def forget_expired_bans(self, now: float) -> None:
        for key in [key for key, ban in self._bans.items() if ban.until <= now]:
            del self._bans[key]

    def _policy_for_change(self, room: str) -> RoomPolicy:
        return self._policies.setdefault(room, RoomPolicy())

    def _changed(self, room: str) -> None:
        if self.on_change is not None:
            policy = self._policies.get(room)
            self.on_change(("policy", room, policy.to_data() if policy else None))

    # the same state held by several processes

    def apply(self, change: Sequence[Any]) -> None:
        """Take a change reported by another copy's on_change (this one's on_change is not called): an
        AccessChange, or the list it becomes once it has crossed to another process as JSON."""
        if change[0] == "policy":
            _, room, data = change
            if data is None:
                self._policies.pop(room, None)
            else:
                self._policies[room] = RoomPolicy.from_data(data)
        elif change[0] == "ban":
            _, room, client_key, until, since = change
            self._bans[(room, client_key)] = Ban(float(until), float(since))

    def announce(self, room: str) -> None:
        """Report a room's policy again as it is here (on_change), for copies that dropped it."""
        self._changed(room)

    def state(self) -> tuple[dict[str, dict], dict[tuple[str, str], Ban]]:
        """Every policy and ban."""
        return {room: policy.to_data() for room, policy in self._policies.items()}, dict(self._bans)
