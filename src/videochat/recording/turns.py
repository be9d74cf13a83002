"""Processing recordings one at a time, taking turns between the people who recorded them: whoever
stopped fifty recordings does not make everyone else wait for all fifty. Each one's next job waits
behind at most one job of each other person waiting (round robin, first come first served within one
person's jobs). A waiter cancelled (the recording deleted, the server stopping) leaves the line, and
passes the turn on if it had just been given it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class FairTurns:
    def __init__(self) -> None:
        self._busy = False
        # whose turn comes next, in order (a dict keeps insertion order: a ring, rotated by _next)
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}

    def waiting(self) -> int:
        return sum(len(line) for line in self._waiting.values())

    @contextlib.asynccontextmanager
    async def turn(self, who: str) -> AsyncIterator[None]:
        if self._busy or self._waiting:
            ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(who, deque()).append(ticket)
            try:
                await ticket
            except asyncio.CancelledError:
                if ticket.done() and not ticket.cancelled():
                    self._next()  # given the turn as it was cancelled: the next one's
                else:
                    self._leave(who, ticket)
                raise
        self._busy = True
        try:
            yield
        finally:
            self._next()

    def _leave(self, who: str, ticket: asyncio.Future[None]) -> None:
        line = self._waiting.get(who)
        if line is not None:
            with contextlib.suppress(ValueError):
                line.remove(ticket)
            if not line:
                del self._waiting[who]

    def _next(self) -> None:
        while self._waiting:
            who = next(iter(self._waiting))
            line = self._waiting.pop(who)
            ticket = line.popleft()
            if line:
                self._waiting[who] = line  # to the back of the ring
            if not ticket.done():
                ticket.set_result(None)
                return  # _busy stays True: the turn passed on
        self._busy = False
