"""The Socket.IO server's handler framework, and the one place where client errors become acks or `error` events.

python-socketio answers an acknowledgement with whatever the handler returns, and does not tell the
handler whether the client asked for one. The seed protocol needs both: an ack when there is a
callback, an `error` event when there is none, and broadcasts that go out *after* the ack
("joins, calls ack, then emits welcome"). So a handler registered with `event_handler` is given an
`Event`: who sent it, whether an ack was requested, and a list of follow-ups that the server runs
once the ack has been sent (transport/socketio_server.py, where the library's internals are
overridden for this). The rate limit is checked, and its refusal raised, in the handler's wrapper,
like any other refusal.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from videochat.events.outgoing import check_outgoing
from videochat.fastpath import codec
from videochat.fastpath.directio import DirectEngineIO
from videochat.model.errors import INTERNAL_ERROR, UserError, failure
from videochat.model.ratelimit import Limiter, Refused
from videochat.ops.metrics import Metrics
from videochat.transport import jsoncodec
from videochat.transport.engine import GuardedEngineIO
from videochat.transport.socketio_server import RESERVED_EVENTS, Event, Followup, ProtocolServer, run_followups

__all__ = ["RESERVED_EVENTS", "Event", "Followup", "Server", "event_handler", "refuse_unknown_events", "run_followups"]

log = logging.getLogger(__name__)


class Server(ProtocolServer):
    """The protocol's server (transport/socketio_server.py), plus: metrics, rate limits, the fast
    path's Engine.IO server and encoder."""

    def __init__(
        self,
        *args: Any,
        metrics: Metrics | None = None,
        limiter: Limiter | None = None,
        fast_path: bool = True,
        **kwargs: Any,
    ) -> None:
        # Engine.IO options (max_outgoing_bytes included) go to DirectEngineIO on the fast path,
        # which writes each socket's packets straight to its WebSocket, GuardedEngineIO on the stock
        # one (docs/internals.md); acks are encoded with orjson or the standard library
        self.fast_path = fast_path
        super().__init__(
            *args,
            engineio_class=DirectEngineIO if fast_path else GuardedEngineIO,
            encode=codec.encode if fast_path else jsoncodec.encode_standard,
            on_too_slow=self._dropped_too_slow,
            **kwargs,
        )
        # The app's metrics travel with the server, so every handler registered on it can count.
        self.metrics = metrics if metrics is not None else Metrics()
        self.limiter = limiter

    def rejected(self, reason: str) -> None:
        self.metrics.rejected(reason)

    async def emit(self, event: str, *args: Any, undeclared: bool = False, **kwargs: Any) -> None:
        """python-socketio's emit, refusing an event the protocol does not list (outgoing.py) unless
        `undeclared`: an operator's own event, sent from the admin UI."""
        if not undeclared:
            check_outgoing(event, kwargs.get("namespace", args[4] if len(args) > 4 else None))
        await super().emit(event, *args, **kwargs)

    def _dropped_too_slow(self, eio_sid: str, buffered: int) -> None:
        self.metrics.slow_clients_dropped.inc()

    def check_rate(self, event: Event) -> None:
        """Raise `rate_limited` if the sender has sent more of this kind of event than allowed."""
        if self.limiter is None:
            return
        try:
            self.limiter.check_event(event.sid, event.name, time.monotonic())
        except Refused as refused:
            raise UserError("rate_limited", str(refused)) from None


Handler = Callable[..., Awaitable[Any]]


def event_handler(sio: Server, event: str, *, inline: bool = False) -> Callable[[Handler], Handler]:
    """Register `fn(event, *args)` for `event` (an `Event` and the client's arguments), translating
    errors in one place.

    `inline`: `fn` only relays (it awaits nothing but emits), so it may run in the task that reads
    the connection instead of a task of its own (with Redis every event gets its task: its ack
    waits for Redis).

    The rate limit is checked first. A UserError becomes `{ok: false, error}` in the ack, or an
    `error` event when the client gave no callback; anything else is logged with its traceback and
    reported as `internal_error`. Either way the connection stays up and nobody else notices. The
    time to answer is measured (`videochat_event_seconds`).
    """

    def register(fn: Handler) -> Handler:
        timer = sio.metrics.event_seconds.labels(event)

        @functools.wraps(fn)
        async def wrapper(received: Event, *args: Any) -> Any:
            with timer.time():
                try:
                    sio.check_rate(received)
                    result = await fn(received, *args)
                    if sio.before_ack is not None:
                        await sio.before_ack()
                    return result
                except UserError as error:
                    log.warning(
                        "refused %s",
                        event,
                        extra={"event": event, "sid": received.sid, "code": error.code, "reason": error.message},
                    )
                    return await report_error(sio, received, error)
                except Exception:
                    log.exception("event %s failed", event, extra={"event": event, "sid": received.sid})
                    return await report_error(sio, received, INTERNAL_ERROR)

        sio.on(event, wrapper)
        sio.direct_handlers.add(wrapper)
        if inline:
            sio.inline_handlers.add(wrapper)
        return fn

    return register


def refuse_unknown_events(sio: Server) -> None:
    """Answer an event no handler is registered for with `unknown_event` (or `rate_limited`: an
    unknown event counts against the limits like any other)."""

    async def unknown_event(event: Event, *args: Any) -> Any:
        name = str(event.name)[:64]
        try:
            sio.check_rate(event)
            error = UserError("unknown_event", f"Unknown event {name!r}.")
        except UserError as refused:
            error = refused
        log.warning("refused event", extra={"sid": event.sid, "event": name, "code": error.code})
        return await report_error(sio, event, error)

    sio.on("*", unknown_event)
    sio.direct_handlers.add(unknown_event)


async def report_error(sio: Server, event: Event, error: UserError) -> Any:
    """Tell the sender of `event` why it was refused: in the ack when it asked for one, else as an
    `error` event naming the event."""
    sio.metrics.rejected(error.code)
    if event.ack_requested:
        return failure(error)
    await sio.emit("error", {**error.as_dict(), "event": event.name}, to=event.sid)
    return None
