"""The room model on its own (pure: no server needed)."""

from __future__ import annotations

import pytest

from videochat.model.rooms import CallFull, Departure, Media, NotInRoom, Registry


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


# calls: every room is also a call; participants are a subset of its members


def test_joining_a_call_enters_the_room_and_shares_its_count():
    registry = Registry()
    for member in ("chat", "call"):
        registry.connect(member)
    registry.join("chat", "r")
    assert registry.join_call("call", "r", Media(video=False), max_size=6) == (2, True, True)
    assert registry.join_call("call", "r", Media(), max_size=6) == (2, False, False)  # again: no change
    assert registry.join_call("chat", "r", Media(), max_size=6) == (2, False, True)
    assert [p.member.id for p in registry.participants("r")] == ["call", "chat"]
    assert registry.participants("r")[0].as_dict() == {
        "id": "call",
        "nickname": "Anon",
        "media": {"audio": True, "video": False, "screen": False},
        "hand": None,
    }
    assert registry.count_members("r") == 2 and registry.count_participants("r") == 2


def test_a_full_call_refuses_without_changing_anything():
    registry = Registry()
    for member in ("a", "b", "c"):
        registry.connect(member)
    registry.join("c", "r")  # c chats in the room
    registry.join_call("a", "r", Media(), max_size=2)
    registry.join_call("b", "r", Media(), max_size=2)
    with pytest.raises(CallFull) as refused:
        registry.join_call("c", "r", Media(), max_size=2)
    assert refused.value.size == 2
    assert registry.is_member("c", "r") and not registry.in_call("c", "r")
    registry.connect("d")
    with pytest.raises(CallFull):
        registry.join_call("d", "r", Media(), max_size=2)
    assert not registry.is_member("d", "r")


def test_leaving_the_call_keeps_the_room_and_leaving_the_room_leaves_the_call():
    registry = Registry()
    for member in ("a", "b"):
        registry.connect(member)
        registry.join_call(member, "r", Media(), max_size=6)
    assert registry.leave_call("a", "r") is True
    assert registry.leave_call("a", "r") is False
    assert registry.is_member("a", "r") and registry.count_participants("r") == 1
    assert registry.leave("a", "r") == Departure("r", 1, left_call=False)
    assert registry.leave("b", "r") == Departure("r", 0, left_call=True)
    assert registry.participants("r") == [] and not registry.has_room("r")


def test_media_state_is_kept_per_participant():
    registry = Registry()
    registry.connect("a")
    registry.join_call("a", "r", Media(), max_size=6)
    registry.set_media("a", "r", Media(audio=False, screen=True))
    assert registry.media("a", "r").as_dict() == {"audio": False, "video": True, "screen": True}


def test_disconnect_reports_calls_left_and_frees_the_client_id():
    registry = Registry()
    registry.connect("old", client_id="c1")
    registry.join_call("old", "r", Media(), max_size=6)
    registry.join("old", "chat-only")
    assert registry.holder_of_client_id("c1") == "old"
    # the same client on a new socket: the new one holds the id even before the old one is gone
    registry.connect("new", client_id="c1")
    assert registry.holder_of_client_id("c1") == "new"
    member, departures = registry.disconnect("old")
    assert departures == [Departure("r", 0, left_call=True), Departure("chat-only", 0)]
    assert registry.holder_of_client_id("c1") == "new"
    registry.disconnect("new")
    assert registry.holder_of_client_id("c1") is None


def test_copies_follow_snapshots_keep_arrival_order_and_ignore_older_versions():
    """Two processes' registries: each changes its own members and takes the other's snapshots."""
    clock = iter(range(1, 100)).__next__
    here, there = Registry(clock=clock), Registry(clock=clock)
    here.origin, there.origin = "here", "there"
    sent: list[dict] = []
    there.on_change = lambda member_id, what, room: (
        sent.append(there.snapshot(member_id)) if what != "disconnect" else None
    )
    here.connect("a", nickname="A", origin="here")
    here.join("a", "r")  # stamp 1
    there.connect("b", nickname="B", origin="there")
    there.join("b", "r")  # stamp 2
    there.join_call("b", "r", Media(video=False), 6)
    for snapshot in sent:
        assert here.put(snapshot) is not None
    assert [m.id for m in here.members("r")] == ["a", "b"]
    assert here.participants("r")[0].media == Media(video=False)
    assert here.member("b").origin == "there"
    assert here.put(sent[0]) is None  # an older snapshot changes nothing
    # a snapshot that arrives late but belongs earlier is put in its place by stamp
    early = {
        "id": "c",
        "nickname": "C",
        "clientId": None,
        "key": None,
        "origin": "there",
        "version": 1,
        "rooms": {"r": 0.5},
        "calls": {},
    }
    here.put(early)
    assert [m.id for m in here.members("r")] == ["c", "a", "b"]
    # leaving by snapshot reports the departure; forgetting drops a copy without on_change
    there.leave("b", "r")
    assert here.put(sent[-1]) == [Departure("r", 2, left_call=True)]
    here.on_change = lambda *args: pytest.fail("forget must not report")
    member, departures = here.forget("c")
    assert member.id == "c" and departures == [Departure("r", 1)]
    assert [m.id for m in here.members_from("there")] == ["b"]


def test_a_copy_keeps_the_version_of_its_own_process():
    here = Registry()
    here.origin = "here"
    here.put(
        {
            "id": "x",
            "nickname": "X",
            "clientId": "tab-1234",
            "key": None,
            "origin": "there",
            "version": 5,
            "rooms": {"r": 1.0},
            "calls": {},
        }
    )
    seen = []
    here.on_change = lambda member_id, what, room: seen.append((member_id, what, room))
    here.leave("x", "r")  # an owner here removed it: reported, but the version stays the other's
    assert seen == [("x", "leave", "r")]
    assert here.member("x").version == 5
    assert here.holder_of_client_id("tab-1234") == "x"
