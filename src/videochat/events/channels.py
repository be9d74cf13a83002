"""The Socket.IO rooms videochat puts sockets in: one per chat room, one per call.

python-socketio puts every socket in a room named after its sid, so a chat room that used its own
name there could be named after another socket's sid: whoever entered it would then speak to that
socket. Sids are base64url (letters, digits, `-`, `_`), so a `#` in front keeps every chat room apart
from every sid; room names cannot contain control characters, so a call room never collides with
either, and neither shows in room lists (those come from the room model).
"""

from __future__ import annotations

CHAT_ROOM_PREFIX = "#"


def chat_room(room: str) -> str:
    """The Socket.IO room of a chat room's members. The Admin UI shows these names (`#lobby`)."""
    return CHAT_ROOM_PREFIX + room


def chat_room_name(sio_room: str) -> str | None:
    """The chat room of a Socket.IO room made by chat_room(), else None."""
    return sio_room[len(CHAT_ROOM_PREFIX) :] if sio_room.startswith(CHAT_ROOM_PREFIX) else None


def call_room(room: str) -> str:
    """The Socket.IO room of a room's call participants."""
    return f"\x00call\x00{room}"
