"""Direct messages: a chat message from one member of a room to one other, kept in the room's
history for those two only.

A direct message is stored as any message is, with `to` (the member it went to, as the others see
members) and `audience`: who may read it back later, by the browser ids (identity.py) of its two
people, so that each sees it again after a reload or a reconnect, and nobody else ever does. The
audience never leaves the server: `visible_to` strips it from what it hands out.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

AUDIENCE = "audience"


def reader_key(member_id: str, key: str | None) -> str:
    """Who a member is to a direct message's audience: its browser id, else (a connection the
    server issued no id to) the connection itself."""
    return key if key is not None else f"connection:{member_id}"


def is_direct(message: dict[str, Any]) -> bool:
    return AUDIENCE in message


def public(message: dict[str, Any]) -> dict[str, Any]:
    """The message as clients see it: without its audience."""
    if AUDIENCE not in message:
        return message
    return {name: value for name, value in message.items() if name != AUDIENCE}


def visible_to(messages: Iterable[dict[str, Any]], reader: str) -> list[dict[str, Any]]:
    """The messages `reader` (a `reader_key`) may see, in order: the room's, and the direct messages
    it sent or received."""
    return [public(m) for m in messages if AUDIENCE not in m or reader in m[AUDIENCE]]
