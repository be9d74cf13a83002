"""The room model on its own (pure: no server needed)."""

from __future__ import annotations

import pytest

from videochat.rooms import Departure, NotInRoom, Registry


def test_rooms_exist_while_they_have_members_in_creation_order():
    registry = Registry()
    for member in ("a", "b", "c"):
        registry.connect(member)
    assert registry.join("a", "kitchen") == (1, True)
    assert registry.join("b", "garden") == (1, True)
    assert registry.join("c", "kitchen") == (2, True)
    assert registry.join("c", "kitchen") == (2, False)
    assert registry.room_names() == ["kitchen", "garden"]
    assert registry.room_summaries() == [{"name": "kitchen", "count": 2}, {"name": "garden", "count": 1}]
    assert registry.leave("b", "garden") == Departure("garden", 0)
    assert registry.room_names() == ["kitchen"]


def test_members_are_kept_in_order_of_arrival():
    registry = Registry()
    for member in ("x", "y", "z"):
        registry.connect(member, nickname=member.upper())
        registry.join(member, "r")
    registry.leave("x", "r")
    registry.join("x", "r")
    assert [m.id for m in registry.members("r")] == ["y", "z", "x"]


def test_disconnect_leaves_every_room_and_reports_who_remains():
    registry = Registry()
    registry.connect("a")
    registry.connect("b")
    for room in ("one", "two"):
        registry.join("a", room)
    registry.join("b", "one")
    member, departures = registry.disconnect("a")
    assert member is not None and member.id == "a"
    assert departures == [Departure("one", 1), Departure("two", 0)]
    assert registry.room_names() == ["one"]
    assert registry.disconnect("a") == (None, [])


def test_leaving_a_room_one_is_not_in_is_an_error():
    registry = Registry()
    registry.connect("a")
    with pytest.raises(NotInRoom):
        registry.leave("a", "nowhere")


def test_rename_returns_old_name_and_rooms_to_tell():
    registry = Registry()
    registry.connect("a")
    registry.join("a", "r1")
    assert registry.rename("a", "Alice") == ("Anon", ["r1"])
    assert registry.members("r1")[0].nickname == "Alice"
