"""What the rest of the server may ask of a chat history, wherever it is kept.

Two stores implement it: SQLite for one process (history.py, `HistoryStore`) and Redis for several
(redis_history.py, `RedisHistory`). Code above this layer is typed with `History` and never asks
which it has; what only one store does (SQLite keeping room policies across restarts) is asked of
that store by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# A chat message as stored and sent: {id, room, author, text, time} (docs/protocol.md); a direct
# message also has `to` and, stored only, `audience` (model/directs.py), which `recent` gives back as kept
Message = dict[str, Any]


class History(Protocol):
    async def open(self) -> None:
        """Start: open the database or connection, and the background writer if any."""

    async def close(self) -> None:
        """Stop, with every message written that was appended before."""

    async def flush(self) -> None:
        """Wait until every message appended so far is written."""

    async def ping(self) -> None:
        """Raise unless the store answers (/readyz)."""

    async def recent(self, room: str) -> list[Message]:
        """The room's last --history-size messages, oldest first."""

    async def holds(self, room: str) -> bool:
        """Whether any message of the room is kept."""

    def append(self, message: Message) -> None:
        """Keep a message: readable by `recent` at once, written in the background."""

    def room_occupied(self, room: str) -> None:
        """The room has members again: its history stays."""

    def room_emptied(self, room: str, now: float | None = None) -> None:
        """The room has no members: its history expires --history-retention seconds from `now`."""

    async def expire(self, is_occupied: Callable[[str], bool], now: float | None = None) -> list[str]:
        """Forget the history of rooms empty for longer than --history-retention; the rooms forgotten."""
