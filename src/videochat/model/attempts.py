"""Room password attempts, bounded per room and per address (docs/security.md,
"Guessing a room's password").

`--wrong-password-delay` slows one guess down, but a guesser may send many at once: the delay does
not serialise anything. Here every attempt takes a token from two buckets, its room's and its
address's, before the password is hashed; when either is empty the attempt is refused with the time
until it would be taken (`too_many_attempts`, `retryAfter`), and neither bucket is charged. Each
bucket holds `burst` attempts and refills completely in `window` seconds. Pure bookkeeping: the
caller passes the clock. Buckets that refilled are forgotten, so memory follows recent guessing only.
"""

from __future__ import annotations

from videochat.model.ratelimit import KeyedBuckets, Rate


class PasswordAttempts:
    def __init__(self, *, per_room: float, per_address: float, window: float) -> None:
        self.rooms = KeyedBuckets(Rate(per_room / window, per_room))
        self.addresses = KeyedBuckets(Rate(per_address / window, per_address))

    def take(self, room: str, address: str | None, now: float) -> tuple[str, float] | None:
        """One attempt at `room`'s password from `address`: None if allowed (and counted), else which
        bucket is empty ("room" or "address") and the seconds until it allows one."""
        buckets = [("room", self.rooms.get(room, now))]
        if address is not None:
            buckets.append(("address", self.addresses.get(address, now)))
        for kind, bucket in buckets:
            if bucket.available(now) < 1:
                return kind, bucket.seconds_to_one(now)
        for _, bucket in buckets:
            bucket.tokens -= 1
        return None
