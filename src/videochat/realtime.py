"""The Socket.IO server, and the one place where client errors become acks or `error` events.

python-socketio answers an acknowledgement with whatever the handler returns, and does not tell the
handler whether the client asked for one. The seed protocol needs both: an ack when there is a
callback, an `error` event when there is none, and broadcasts that go out *after* the ack
("joins, calls ack, then emits welcome"). `Server` records, per event, whether an ack was requested
and runs follow-up work once the ack has been sent.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from typing import Any, Awaitable, Callable

import socketio

from .errors import INTERNAL_ERROR, UserError, failure
from .metrics import Metrics

log = logging.getLogger(__name__)

_ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=False)
_after_ack: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = contextvars.ContextVar(
    "after_ack", default=None
)


class Server(socketio.AsyncServer):
    def __init__(self, *args: Any, metrics: Metrics | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The app's metrics travel with the server, so every handler registered on it can count.
        self.metrics = metrics if metrics is not None else Metrics()

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
        # Runs once per incoming event (in its own task when async_handlers is on), so the
        # context variables below belong to this event alone.
        _ack_requested.set(id is not None)
        followups: list[Callable[[], Awaitable[None]]] = []
        _after_ack.set(followups)
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        for followup in followups:
            try:
                await followup()
            except Exception:
                log.exception("follow-up of event %r failed", data[0] if data else None)


def ack_requested() -> bool:
    return _ack_requested.get()


def after_ack(work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` after the current event's ack has been sent (at once if there is no event)."""
    followups = _after_ack.get()
    if followups is None:
        raise RuntimeError("after_ack() called outside an event handler")
    followups.append(work)


Handler = Callable[..., Awaitable[Any]]


def event_handler(sio: Server, event: str) -> Callable[[Handler], Handler]:
    """Register `fn(sid, *args)` for `event`, translating errors in one place.

    A UserError becomes `{ok: false, error}` in the ack, or an `error` event when the client gave no
    callback; anything else is logged with its traceback and reported as `internal_error`. Either
    way the connection stays up and nobody else notices. The time to answer is measured
    (`videochat_event_seconds`).
    """

    def register(fn: Handler) -> Handler:
        timer = sio.metrics.event_seconds.labels(event)

        @functools.wraps(fn)
        async def wrapper(sid: str, *args: Any) -> Any:
            with timer.time():
                try:
                    return await fn(sid, *args)
                except UserError as error:
                    log.warning("refused %s", event, extra={"event": event, "sid": sid, "code": error.code,
                                                            "reason": error.message})
                    return await report_error(sio, sid, event, error)
                except Exception:
                    log.exception("event %s failed", event, extra={"event": event, "sid": sid})
                    return await report_error(sio, sid, event, INTERNAL_ERROR)

        sio.on(event, wrapper)
        return fn

    return register


async def report_error(sio: Server, sid: str, event: str, error: UserError) -> Any:
    sio.metrics.rejected(error.code)
    if ack_requested():
        return failure(error)
    await sio.emit("error", {**error.as_dict(), "event": event}, to=sid)
    return None
