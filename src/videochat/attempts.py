"""Room password attempts, bounded per room and per address (issue 16, item 12).

`--wrong-password-delay` slows one guess down, but a guesser may send many at once: the delay does
not serialise anything. Here every attempt takes a token from two buckets, its room's and its
address's, before the password is hashed; when either is empty the attempt is refused with the time
until it would be taken (`too_many_attempts`, `retryAfter`), and neither bucket is charged. Each
bucket holds `burst` attempts and refills completely in `window` seconds. Pure bookkeeping: the
caller passes the clock. Buckets that refilled are forgotten, so memory follows recent guessing only.
"""

from __future__ import annotations

from .ratelimit import Rate, TokenBucket


class PasswordAttempts:
    def __init__(self, *, per_room: float, per_address: float, window: float) -> None:
        self.rates = {"room": Rate(per_room / window, per_room), "address": Rate(per_address / window, per_address)}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._takes = 0

    def take(self, room: str, address: str | None, now: float) -> tuple[str, float] | None:
        """One attempt at `room`'s password from `address`: None if allowed (and counted), else which
        bucket is empty ("room" or "address") and the seconds until it allows one."""
        wanted = [("room", room)] + ([("address", address)] if address is not None else [])
        buckets = [self._bucket(kind, key, now) for kind, key in wanted]
        for (kind, _), bucket in zip(wanted, buckets):
            if bucket.available(now) < 1:
                return kind, bucket.seconds_to_one(now)
        for bucket in buckets:
            bucket.tokens -= 1
        self._takes += 1
        if self._takes % 256 == 0:
            self._forget_full(now)
        return None

    def _bucket(self, kind: str, key: str, now: float) -> TokenBucket:
        bucket = self._buckets.get((kind, key))
        if bucket is None:
            bucket = self._buckets[(kind, key)] = TokenBucket(self.rates[kind], now)
        return bucket

    def _forget_full(self, now: float) -> None:
        for key in [key for key, bucket in self._buckets.items() if bucket.full_at(now)]:
            del self._buckets[key]
