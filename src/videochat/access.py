"""Who may enter a room and who runs it: owner, password lock, member cap, privacy, removals.

Pure state beside the room model (rooms.py), no I/O: the owner is whoever was handed the room and
is still in it, else the longest-present member; the caller passes member lists and the clock.
Passwords are kept as hashes made by the caller (hashing is slow on purpose and runs off the loop).
Every change is reported to `on_change` as JSON-ready data that `apply()` takes (several processes
keep the same access state this way: cluster.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .passwords import PasswordHash

# ("policy", room, RoomPolicy.to_data() or None) or ("ban", room, client key, until, since)
AccessChange = tuple


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

    def as_dict(self, owner: str | None) -> dict[str, object]:
        return {"owner": owner, "locked": self.password_hash is not None, "private": self.private,
                "maxMembers": self.max_members}

    def to_data(self) -> dict[str, Any]:
        return {"owner": self.owner, "maxMembers": self.max_members, "private": self.private,
                "password": self.password_hash.to_data() if self.password_hash else None}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "RoomPolicy":
        password = data.get("password")
        return cls(owner=data.get("owner"), max_members=data.get("maxMembers"), private=bool(data.get("private")),
                   password_hash=PasswordHash.from_data(password) if password else None)


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

    def owner_of(self, room: str, member_ids: list[str]) -> str | None:
        chosen = self.policy(room).owner
        if chosen is not None and chosen in member_ids:
            return chosen
        return member_ids[0] if member_ids else None

    # the room's life

    def created(self, room: str, *, private: bool) -> None:
        self._policies[room] = RoomPolicy(private=private)
        self._changed(room)

    def emptied(self, room: str) -> None:
        """Nobody is left: the next one to enter creates the room afresh (lock and all gone)."""
        if self._policies.pop(room, None) is not None:
            self._changed(room)

    def is_private(self, room: str) -> bool:
        return self.policy(room).private

    # entering

    def admit(self, room: str, client_key: str, *, count: int, already_member: bool, now: float,
              address: str | None = None, known_since: float | None = None) -> None:
        """Raise Refusal unless `client_key` may enter `room` now (passwords are checked apart).

        `address` (a key of identity.address_key): a ban on it keeps out every browser id issued
        since the ban (`known_since`: when this one was issued; None counts as new)."""
        if already_member:
            return
        until = self.banned_until(room, client_key, now)
        if until is not None:
            raise Refusal("banned", f"You were removed from {room!r}; you may come back in "
                                    f"{max(1, round(until - now))} seconds.")
        ban = self._ban(room, address, now) if address else None
        if ban is not None and (known_since is None or known_since >= ban.since):
            raise Refusal("banned", f"Someone at your network address was removed from {room!r}; it takes "
                                    f"no newcomers from there for {max(1, round(ban.until - now))} seconds.")
        cap = self.policy(room).max_members
        if cap is not None and count >= cap:
            raise Refusal("room_full", f"Room {room!r} is full ({cap} members).")

    # the owner's powers

    def hand_over(self, room: str, new_owner: str) -> None:
        self._policy_for_change(room).owner = new_owner
        self._changed(room)

    def configure(self, room: str, *, password_hash: PasswordHash | None | bool = False,
                  max_members: int | None | bool = False, private: bool | None = None) -> RoomPolicy:
        """Change what is given (False: leave as is; None: remove the lock or the cap)."""
        policy = self._policy_for_change(room)
        if password_hash is not False:
            policy.password_hash = password_hash  # type: ignore[assignment]
        if max_members is not False:
            policy.max_members = max_members  # type: ignore[assignment]
        if private is not None:
            policy.private = private
        self._changed(room)
        return policy

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

    def apply(self, change: AccessChange) -> None:
        """Take a change reported by another copy's on_change (this one's on_change is not called)."""
        if change[0] == "policy":
            _, room, data = change
            if data is None:
                self._policies.pop(room, None)
            else:
                self._policies[room] = RoomPolicy.from_data(data)
        elif change[0] == "ban":
            _, room, client_key, until, since = change
            self._bans[(room, client_key)] = Ban(float(until), float(since))

    def forget(self, room: str) -> None:
        """Drop a room's policy quietly (another process announced that it emptied)."""
        self._policies.pop(room, None)

    def state(self) -> tuple[dict[str, dict], dict[tuple[str, str], Ban]]:
        """Every policy and ban."""
        return {room: policy.to_data() for room, policy in self._policies.items()}, dict(self._bans)
