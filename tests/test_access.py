"""The access model on its own (pure: owner succession, admission, bans and their expiry)."""

from __future__ import annotations

import json

import pytest

from videochat.model.access import Access, Refusal, RoomPolicy


def test_owner_is_the_one_handed_the_room_while_present_else_the_longest_present():
    access = Access()
    access.created("r", private=False)
    assert access.owner_of("r", ["a", "b", "c"]) == "a"
    access.hand_over("r", "c")
    assert access.owner_of("r", ["a", "b", "c"]) == "c"
    assert access.owner_of("r", ["a", "b"]) == "a"  # c left: the longest present again


def test_admission_refuses_the_banned_and_a_full_room_but_not_members():
    access = Access()
    access.configure("r", max_members=2)
    with pytest.raises(Refusal) as full:
        access.admit("r", "k", count=2, already_member=False, now=0)
    assert full.value.code == "room_full"
    access.admit("r", "k", count=2, already_member=True, now=0)
    access.ban("r", "k", until=10, now=0)
    with pytest.raises(Refusal) as banned:
        access.admit("r", "k", count=0, already_member=False, now=5)
    assert banned.value.code == "banned" and "5 seconds" in banned.value.message
    access.admit("r", "k", count=0, already_member=False, now=10)


def test_expired_bans_are_forgotten_so_they_do_not_pile_up():
    access = Access()
    for n in range(100):
        access.ban("r", f"k{n}", until=1, now=0)
    access.ban("r", "late", until=20, now=5)
    assert access.banned_until("r", "late", now=6) == 20
    assert all(access.banned_until("r", f"k{n}", now=0) is None for n in range(100))  # gone at now=5


def test_changes_travel_as_data_and_apply_elsewhere():
    from videochat.model.passwords import PasswordHash

    here, there = Access(), Access()
    changes = []
    here.on_change = changes.append
    here.created("r", private=True)
    here.configure("r", password_hash=PasswordHash("sesame"), max_members=3)
    here.hand_over("r", "b")
    here.ban("r", "browser:x", until=50, now=0)
    for change in json.loads(json.dumps(changes)):  # what goes over Redis
        there.apply(change)
    policy = there.policy("r")
    assert (policy.owner, policy.max_members, policy.private) == ("b", 3, True)
    assert policy.password_hash.matches("sesame") and not policy.password_hash.matches("guess")
    assert there.banned_until("r", "browser:x", now=10) == 50
    here.emptied("r")
    there.apply(changes[-1])
    assert there.policy("r") == RoomPolicy()


def test_an_address_ban_admits_only_ids_issued_before_it():
    access = Access()
    access.ban("r", "address:10.0.0.1", until=100, now=50)
    admit = lambda since, address="address:10.0.0.1": access.admit(  # noqa: E731
        "r", "browser:someone", count=0, already_member=False, now=60, address=address, known_since=since
    )
    admit(49.9)  # known before the ban
    admit(70, address="address:10.0.0.2")  # another address
    for since in (50, 55, None):  # issued since the ban, or not known at all
        with pytest.raises(Refusal) as refused:
            admit(since)
        assert refused.value.code == "banned" and "network address" in refused.value.message
    access.admit("r", "browser:x", count=0, already_member=False, now=100, address="address:10.0.0.1", known_since=99)


def test_a_policy_outlives_its_members_and_its_owner_is_known_by_key():
    access = Access()
    assert access.created("r", private=False, owner_key="browser:o")
    access.configure("r", max_members=5)
    keys = {"o2": "browser:o", "x": "browser:x"}.get
    assert access.owner_of("r", ["x", "o2"], key_of=keys) == "o2"  # the owner back on a new socket
    assert access.owner_of("r", ["x"], key_of=keys) == "x"  # away: the longest present
    assert not access.created("r", private=True, owner_key="browser:x")  # kept, as it was
    assert access.policy("r").owner_key == "browser:o" and access.policy("r").max_members == 5
    assert access.is_owner_key("r", "browser:o") and not access.is_owner_key("r", None)
    access.hand_over("r", "x", "browser:x")
    assert access.owner_of("r", ["o2", "x"], key_of=keys) == "x"
    access.ban("r", "browser:y", until=10, now=0)
    assert access.has_bans("r", now=5) and not access.has_bans("r", now=10) and not access.has_bans("q", now=0)
    assert access.rooms() == ["r"]
    access.emptied("r")
    assert access.rooms() == [] and access.policy("r") == RoomPolicy()
