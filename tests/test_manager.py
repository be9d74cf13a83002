"""The indexed client manager behaves exactly as python-socketio's (pure: no server needed)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from socketio.base_manager import BaseManager

from videochat.fastpath.manager import IndexedRooms

SIDS = ["s1", "s2", "s3"]
ROOMS = ["r1", "r2"]
NAMESPACES = ["/", "/admin"]


class Indexed(IndexedRooms, BaseManager):
    pass


operations = st.lists(
    st.tuples(
        st.sampled_from(["connect", "enter", "leave", "disconnect", "close"]),
        st.sampled_from(SIDS),
        st.sampled_from(NAMESPACES),
        st.sampled_from(ROOMS),
    ),
    max_size=40,
)


def apply(manager: BaseManager, ops) -> list:
    seen = []
    for op, sid, namespace, room in ops:
        connected = sid in manager.rooms.get(namespace, {}).get(None, {})
        if op == "connect" and not connected:
            manager.basic_enter_room(sid, namespace, None, eio_sid="e-" + sid)
            manager.basic_enter_room(sid, namespace, sid, eio_sid="e-" + sid)
            manager.pending_connect.setdefault(namespace, []).append(sid)
        elif op == "enter" and connected:
            manager.basic_enter_room(sid, namespace, room)
        elif op == "leave":
            manager.basic_leave_room(sid, namespace, room)
        elif op == "disconnect":
            manager.basic_disconnect(sid, namespace)
        elif op == "close":
            manager.basic_close_room(room, namespace)
        seen.append({(ns, s): sorted(manager.get_rooms(s, ns), key=str) for ns in NAMESPACES for s in SIDS})
    return seen


@settings(max_examples=300, deadline=None)
@given(operations)
def test_indexed_rooms_match_the_library(ops):
    plain, indexed = BaseManager(), Indexed()
    assert apply(plain, ops) == apply(indexed, ops)
    assert {ns: {room: dict(members) for room, members in rooms.items()} for ns, rooms in plain.rooms.items()} == {
        ns: {room: dict(members) for room, members in rooms.items()} for ns, rooms in indexed.rooms.items()
    }
    assert plain.pending_connect == indexed.pending_connect
