"""python-socketio's client manager, with the rooms of each socket indexed.

The library finds the rooms of a socket by scanning every room of the namespace, and every socket
has a room of its own: each disconnect (and each `get_rooms`) costs time in proportion to the number
of people connected. With 500 people connected a churn of joins spent ~7% of the server's time
there; with 5,000 it would dominate. `IndexedRooms` keeps, for each socket, the rooms it is in (as
Node's adapter does), and leaves exactly those.

It is a mixin over the library's managers (`client_manager=` is the library's extension point):
`LocalManager` for one process, and bus.Bus for several on Redis, both over broadcast.py's
BroadcastManager (events framed once and written to each WebSocket directly).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from videochat.fastpath.broadcast import BroadcastManager

if TYPE_CHECKING:
    # What the mixin is put in front of, for the checker: the library's manager (untyped, so Any).
    # At run time the mixin has no base of its own; the class that uses it supplies the manager.
    from socketio import AsyncManager as _Manager
else:
    _Manager = object


class IndexedRooms(_Manager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (namespace, sid) -> the rooms it entered. Not the two every socket is in from its connection
        # (None: the namespace's room of everyone; its own sid room), which basic_disconnect leaves
        # by name: an idle socket then has no entry here at all (memory per connection).
        self._memberships: dict[tuple[str, str], dict[Hashable, None]] = {}

    def basic_enter_room(self, sid: str, namespace: str, room: Hashable, eio_sid: str | None = None) -> Any:
        result = super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)  # may refuse: then no entry
        if room is not None and room != sid:
            self._memberships.setdefault((namespace, sid), {})[room] = None
        return result

    def basic_leave_room(self, sid: str, namespace: str, room: Hashable) -> None:
        super().basic_leave_room(sid, namespace, room)
        rooms = self._memberships.get((namespace, sid))
        if rooms is not None:
            rooms.pop(room, None)
            if not rooms:
                del self._memberships[(namespace, sid)]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        if namespace not in self.rooms:
            return
        for room in list(self._memberships.get((namespace, sid), ())):
            self.basic_leave_room(sid, namespace, room)
        self._memberships.pop((namespace, sid), None)
        self.basic_leave_room(sid, namespace, sid)
        self.basic_leave_room(sid, namespace, None)
        # what the library's basic_disconnect does besides leaving rooms
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: str, namespace: str) -> list[Hashable]:
        own = [sid] if sid in self.rooms.get(namespace, {}).get(sid, ()) else []
        return own + list(self._memberships.get((namespace, sid), ()))


class LocalManager(IndexedRooms, BroadcastManager):
    """One process: python-socketio's in-memory manager, rooms indexed, broadcasts framed once."""
