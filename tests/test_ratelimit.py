"""The token-bucket bookkeeping shared by the password attempts and the admin login brake (pure)."""

from __future__ import annotations

from videochat.model.attempts import PasswordAttempts
from videochat.model.ratelimit import KeyedBuckets, Rate


def test_keyed_buckets_are_made_on_use_and_forgotten_once_refilled():
    buckets = KeyedBuckets(Rate(per_second=1, burst=2), tidy_every=5)
    assert buckets.peek("a") is None
    assert buckets.get("a", now=0).take(0) and buckets.get("a", now=0).take(0)
    assert not buckets.get("a", now=0).take(0)  # the same bucket each time: empty now
    buckets.get("b", now=0).take(0)
    assert buckets.peek("a") is not None and buckets.peek("b") is not None
    buckets.get("c", now=10)  # the fifth use tidies: a and b have refilled by now
    assert buckets.peek("a") is None and buckets.peek("b") is None and buckets.peek("c") is not None


def test_password_attempts_charge_room_and_address_together_or_neither():
    attempts = PasswordAttempts(per_room=3, per_address=2, window=6)
    assert attempts.take("r", "a", now=0) is None and attempts.take("r", "a", now=0) is None
    kind, wait = attempts.take("r", "a", now=0)
    assert kind == "address" and wait == 3.0  # one attempt back every window/attempts seconds
    assert attempts.take("r", "b", now=0) is None  # the refusal above did not charge the room
    kind, _ = attempts.take("r", "c", now=0)
    assert kind == "room"
    assert attempts.take("other", "c", now=0) is None  # nor did that one charge address c
