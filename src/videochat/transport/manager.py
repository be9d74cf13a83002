"""python-socketio's client manager with one rule both paths keep: a socket is nobody's participant
until its namespace has let it in.

python-socketio puts a socket in its namespace, "pending", before the connect handler runs, which
may take long (the Admin UI's login hashes a password). Until that handler has let it in, no
broadcast, no message to a room, not even one to its own sid reaches it. `get_participants` is where
every emit of the library finds its recipients (and the fast path's BroadcastManager, a subclass),
so the rule holds for all of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import socketio


class ConnectedOnly(socketio.AsyncManager):
    def get_participants(self, namespace: str, room: Any) -> Iterator[tuple[str, str]]:
        participants: Iterator[tuple[str, str]] = super().get_participants(namespace, room)
        pending = self.pending_connect.get(namespace)
        if not pending:  # nobody is being checked: the library's list as it is
            return participants
        waiting = set(pending)
        return ((sid, eio_sid) for sid, eio_sid in participants if sid not in waiting)
