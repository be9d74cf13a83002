"""Limits per connection and per client address: token buckets for what clients send, and a cap on
connections per address. Pure bookkeeping: the caller passes the clock.

Over a limit, the event is refused at once (error `rate_limited`); nothing is queued, so a flood
costs the server no memory.
"""

from __future__ import annotations

from dataclasses import dataclass

# What each Socket.IO event costs, by kind. Events not listed (unknown ones included) are "other".
EVENT_KINDS = {
    "new_message": "message",
    "direct_message": "message",
    "upload_file": "message",  # a file in the chat is a message (and its bytes have budgets of their own)
    "enter_room": "join",
    "join_room": "join",
    "ice_servers": "join",  # a TURN credential costs what a join does
    "nickname": "nickname",
    "offer": "signal",
    "answer": "signal",
    "ice": "signal",
    "media_state": "signal",
    "reaction": "message",  # shown to everyone in the call, as a message is
    "raise_hand": "message",  # shown to everyone in the room
    "lower_hand": "message",
    "knock_answer": "message",
    "sfu_publish": "join",  # three Janus requests: it costs what a join does
    "sfu_unpublish": "join",
    "sfu_answer": "signal",
    "sfu_candidate": "signal",
    "sfu_layers": "other",
    "sfu_status": "join",
    "start_recording": "join",  # the call may move to the SFU: it costs what a join does
    "stop_recording": "join",
    "delete_recording": "join",
    "retry_recording": "join",
}
KINDS = ("message", "join", "nickname", "signal", "other")
DESCRIPTIONS = {
    "message": "chat messages and reactions",
    "join": "room joins",
    "nickname": "nickname changes",
    "signal": "call signaling messages",
    "other": "requests",
}


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: float

    def describe(self) -> str:
        return f"{self.per_second:g} per second, bursts of {self.burst:g}"


class TokenBucket:
    __slots__ = ("rate", "tokens", "updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = rate.burst
        self.updated = now

    def take(self, now: float) -> bool:
        # what available() does, inline: this runs for every event a client sends
        self.tokens = min(self.rate.burst, self.tokens + (now - self.updated) * self.rate.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def available(self, now: float) -> float:
        """Refill up to `now`; the tokens there are (take one with `tokens -= 1`)."""
        self.tokens = min(self.rate.burst, self.tokens + (now - self.updated) * self.rate.per_second)
        self.updated = now
        return self.tokens

    def seconds_to_one(self, now: float) -> float:
        """Seconds until a token is there (0 if one is)."""
        return max(0.0, (1 - self.available(now)) / self.rate.per_second)

    def full_at(self, now: float) -> bool:
        """Whether the bucket would be full by now (so forgetting it changes nothing)."""
        return self.tokens + (now - self.updated) * self.rate.per_second >= self.rate.burst


class KeyedBuckets:
    """Token buckets of one rate by key (an address, a room), made on first use. Now and then the
    buckets that have refilled are forgotten: they hold no information, so memory follows recent use
    only (password attempts, admin logins)."""

    def __init__(self, rate: Rate, *, tidy_every: int = 256) -> None:
        self.rate = rate
        self.tidy_every = tidy_every
        self._buckets: dict[str, TokenBucket] = {}
        self._uses = 0

    def get(self, key: str, now: float) -> TokenBucket:
        self._uses += 1
        if self._uses % self.tidy_every == 0:
            for full in [k for k, bucket in self._buckets.items() if bucket.full_at(now)]:
                del self._buckets[full]
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, now)
        return bucket

    def peek(self, key: str) -> TokenBucket | None:
        """The bucket of `key` if it has one (nothing is made)."""
        return self._buckets.get(key)


class Refused(Exception):
    def __init__(self, kind: str, rate: Rate, scope: str) -> None:
        self.kind, self.rate, self.scope = kind, rate, scope
        where = "from this connection" if scope == "connection" else "from your network address"
        super().__init__(
            f"Too many {DESCRIPTIONS[kind]} {where}; the limit is {rate.describe()}. Wait a moment and try again."
        )


class Limiter:
    def __init__(self, rates: dict[str, Rate], *, address_factor: float, max_connections_per_address: int) -> None:
        self.rates = rates
        self.address_rates = {
            kind: Rate(r.per_second * address_factor, r.burst * address_factor) for kind, r in rates.items()
        }
        self.max_connections = max_connections_per_address
        self._address_of: dict[str, str] = {}
        self._keys_from: dict[str, set[str]] = {}  # address -> its connections (their count is the cap's)
        self._by_connection: dict[tuple[str, str], TokenBucket] = {}
        self._by_address: dict[tuple[str, str], TokenBucket] = {}
        self._checks = 0

    # connections

    def connect(self, key: str, address: str) -> bool:
        """Count a new connection; False (and nothing counted) when its address has too many."""
        if self.max_connections and self.connections_from(address) >= self.max_connections:
            return False
        self._address_of[key] = address
        self._keys_from.setdefault(address, set()).add(key)
        return True

    def disconnect(self, key: str) -> None:
        address = self._address_of.pop(key, None)
        if address is None:
            return
        keys = self._keys_from[address]
        keys.discard(key)
        if not keys:
            del self._keys_from[address]
        for kind in KINDS:
            self._by_connection.pop((key, kind), None)

    def connections_from(self, address: str) -> int:
        return len(self._keys_from.get(address, ()))

    def address_of(self, key: str) -> str | None:
        return self._address_of.get(key)

    def keys_from(self, address: str) -> set[str]:
        """The connections counted for `address` now."""
        return self._keys_from.get(address, set())

    # events

    def check_event(self, key: str, event: str, now: float) -> None:
        self.check(key, EVENT_KINDS.get(event, "other"), now)

    def check(self, key: str, kind: str, now: float) -> None:
        """Take one token for `kind` from the connection's and its address's buckets, or raise Refused."""
        rate = self.rates[kind]
        bucket = self._by_connection.get((key, kind))
        if bucket is None:
            bucket = self._by_connection[(key, kind)] = TokenBucket(rate, now)
        if not bucket.take(now):
            raise Refused(kind, rate, "connection")
        address = self._address_of.get(key)
        if address is not None:
            address_rate = self.address_rates[kind]
            shared = self._by_address.get((address, kind))
            if shared is None:
                shared = self._by_address[(address, kind)] = TokenBucket(address_rate, now)
            if not shared.take(now):
                raise Refused(kind, address_rate, "address")
        self._checks += 1
        if self._checks % 1024 == 0:
            self._forget_full_address_buckets(now)

    def _forget_full_address_buckets(self, now: float) -> None:
        # An address bucket that has refilled holds no information: drop it to bound memory.
        for key in [k for k, b in self._by_address.items() if b.full_at(now)]:
            del self._by_address[key]
