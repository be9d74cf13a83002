"""The Socket.IO server, and the one place where client errors become acks or `error` events.

python-socketio answers an acknowledgement with whatever the handler returns, and does not tell the
handler whether the client asked for one. The seed protocol needs both: an ack when there is a
callback, an `error` event when there is none, and broadcasts that go out *after* the ack
("joins, calls ack, then emits welcome"). `Server` records, per event, whether an ack was requested
and runs follow-up work once the ack has been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import socketio
from socketio import packet as sio_packet

from videochat.events.outgoing import check_outgoing
from videochat.fastpath import codec
from videochat.fastpath.directio import DirectEngineIO
from videochat.model.errors import INTERNAL_ERROR, UserError, failure
from videochat.model.ratelimit import Limiter, Refused
from videochat.ops.metrics import Metrics

log = logging.getLogger(__name__)

# Names the Socket.IO libraries use themselves; a client event by one of these names is refused.
# "*" is python-socketio's catch-all: an event by that name would reach the catch-all handler
# without its name, its arguments shifted by one.
RESERVED_EVENTS = frozenset(
    {"connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener", "error", "*"}
)

# A Socket.IO EVENT on the default namespace, optionally with an ack id: `2[...` or `212[...`
_DEFAULT_EVENT = re.compile(r"2(\d{0,100})\[")
# Socket.IO's BINARY_EVENT and BINARY_ACK: a header announcing attachments that follow as messages
_BINARY_PACKETS = ("5", "6")


class BinaryRefused(ValueError):
    """A client sent binary data (an attachment header or a binary message): a protocol error."""


_ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=False)
_refusal: contextvars.ContextVar[UserError | None] = contextvars.ContextVar("refusal", default=None)
_local_only: contextvars.ContextVar[bool] = contextvars.ContextVar("local_only", default=False)
_after_ack: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = contextvars.ContextVar(
    "after_ack", default=None
)


_NONE: dict = {}


class Server(socketio.AsyncServer):
    """python-socketio's server, plus: ack bookkeeping, follow-ups after the ack, rate limits."""

    def __init__(
        self, *args: Any, metrics: Metrics | None = None, limiter: Limiter | None = None, **kwargs: Any
    ) -> None:
        # Engine.IO options (max_outgoing_bytes included) go to DirectEngineIO; what both libraries
        # decode goes through codec (nesting bounded)
        kwargs.setdefault("json", codec.LibraryJSON)
        super().__init__(*args, on_too_slow=self._dropped_too_slow, **kwargs)
        self.eio.has_namespace = self._has_namespace
        # The app's metrics travel with the server, so every handler registered on it can count.
        self.metrics = metrics if metrics is not None else Metrics()
        self.limiter = limiter
        # awaited before each ack: with Redis, what the event changed has reached the other
        # processes before its sender hears back (and may tell someone on another process)
        self.before_ack: Callable[[], Awaitable[None]] | None = None
        # handlers registered through event_handler(): coroutines that never raise, called directly
        self.direct_handlers: set[Callable[..., Awaitable[Any]]] = set()
        # of those, the ones that finish without waiting on anything but the event loop (relays):
        # run in the reading task itself, no task of their own (see _handle_event)
        self.inline_handlers: set[Callable[..., Awaitable[Any]]] = set()
        # event tasks, referenced until they end, and how many each connection has unfinished
        self._running: set[asyncio.Task] = set()
        self._unfinished: dict[str, int] = {}

    async def emit(self, event: str, *args: Any, undeclared: bool = False, **kwargs: Any) -> None:
        """python-socketio's emit, refusing an event the protocol does not list (outgoing.py) unless
        `undeclared`: an operator's own event, sent from the admin UI."""
        if not undeclared:
            check_outgoing(event, kwargs.get("namespace", args[4] if len(args) > 4 else None))
        if _local_only.get():  # inside `locally()`: this process's connections only
            kwargs["ignore_queue"] = True
        await super().emit(event, *args, **kwargs)

    def _engineio_server_class(self):
        # writes each socket's packets straight to its WebSocket (directio.py, docs/internals.md)
        return DirectEngineIO

    # An Engine.IO session that never connects a namespace (or leaves its last one) is closed after
    # --handshake-timeout (directio.DirectEngineIO.expect_namespace): the library would hold it, and
    # its descriptor, for as long as the client answers pings.

    def _has_namespace(self, eio_sid: str) -> bool:
        return any(
            self.manager.sid_from_eio_sid(eio_sid, namespace) is not None for namespace in self.manager.get_namespaces()
        )

    async def _handle_eio_connect(self, eio_sid, environ):
        await super()._handle_eio_connect(eio_sid, environ)
        self.eio.expect_namespace(eio_sid)

    async def _handle_disconnect(self, eio_sid, namespace, reason=None):
        await super()._handle_disconnect(eio_sid, namespace, reason)
        if reason == self.reason.CLIENT_DISCONNECT:  # the client left a namespace, not the session
            self.eio.expect_namespace(eio_sid)

    async def disconnect(self, sid, namespace=None, ignore_queue=False):
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace or "/")
        await super().disconnect(sid, namespace=namespace, ignore_queue=ignore_queue)
        if eio_sid is not None:  # a socket of this process, sent away from a namespace
            self.eio.expect_namespace(eio_sid)

    def _dropped_too_slow(self, eio_sid: str, buffered: int) -> None:
        self.metrics.slow_clients_dropped.inc()

    async def _handle_eio_message(self, eio_sid, data):
        # A packet that does not decode is a protocol error, not a user error: like the Node server
        # (and Galène), close that connection, with a warning rather than a traceback in the log.
        try:
            if type(data) is not str or data[:1] in _BINARY_PACKETS:
                # python-socketio would keep a binary packet and every message after it, up to the
                # number of attachments its header announces (ten digits' worth), in memory
                raise BinaryRefused("binary data (videochat accepts JSON text only)")
            event = _DEFAULT_EVENT.match(data)
            if event is not None:
                # the most frequent packet, decoded here as the library's Packet would decode it
                # (one json.loads), without the object
                id_ = int(event[1]) if event[1] else None
                await self._handle_event(eio_sid, None, id_, codec.decode(data[event.end() - 1 :]))
                return
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            socket = self.eio.sockets.get(eio_sid)
            if socket is None or socket.closed:
                return  # the rest of a long-polling POST whose sender is already being closed
            reason = str(error) if isinstance(error, (BinaryRefused, codec.TooDeep)) else type(error).__name__
            log.warning("closing a connection that sent a malformed Socket.IO packet", extra={"error": reason})
            self.metrics.rejected("malformed_packet")
            await self.eio.disconnect(eio_sid)
            # python-engineio leaves the transport open until the client answers the close
            # packet (a well-behaved one does; this one may not): wake its writer, which then
            # closes the WebSocket, as the library does itself when the reader ends.
            await socket.queue.put(None)

    async def _handle_event(self, eio_sid, namespace, id, data):
        # The library trusts the event's shape: it indexes data[0] (failing on a packet without
        # data), looks the name up in a dict (failing on a list), and hands a client event named
        # "connect" or "disconnect" to the connection handlers. Such events are answered here.
        if not isinstance(data, list) or not data or not isinstance(data[0], str) or data[0] in RESERVED_EVENTS:
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
            name = data[0] if isinstance(data, list) and data and isinstance(data[0], str) else ""
            log.warning("refused an event no client may send", extra={"sid": sid, "event": name[:64]})
            self.metrics.rejected("invalid_event")
            if sid is not None and self.manager.is_connected(sid, namespace or "/"):
                message = f"{name!r} is reserved." if name else "An event needs a name, as text."
                await self.emit(
                    "error",
                    {"code": "invalid_event", "message": message, "event": name[:64]},
                    to=sid,
                    namespace=namespace or "/",
                )
            return
        # what the library's _handle_event does, with one task made directly (and no log call)
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            log.warning("an event from a socket not connected to namespace %s", namespace, extra={"sid": sid})
            return
        if not self.async_handlers:
            await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
            return
        if (
            self.before_ack is None
            and sid not in self._unfinished
            and self.handlers.get(namespace, _NONE).get(data[0]) in self.inline_handlers
        ):
            # A relay (a chat message, an offer): it never waits on I/O, so running it here, before
            # this connection's next packet is read, costs no latency and saves a task per event;
            # what it raises stays its own (the caller would take it for a malformed packet). Not
            # while an earlier event of this connection is unfinished in its task: that one may not
            # even have started, and a relay must not overtake it (an offer its join_room).
            try:
                await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
            except Exception:
                log.exception("event %r failed", data[0])
            return
        task = asyncio.get_running_loop().create_task(
            self._handle_event_internal(self, sid, eio_sid, data, namespace, id)
        )
        self._running.add(task)
        self._unfinished[sid] = self._unfinished.get(sid, 0) + 1
        task.add_done_callback(functools.partial(self._event_done, sid))

    def _event_done(self, sid: str, task: asyncio.Task) -> None:
        self._running.discard(task)
        left = self._unfinished.pop(sid) - 1
        if left:
            self._unfinished[sid] = left

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
        # Runs once per incoming event (in its own task when async_handlers is on), so the
        # context variables below belong to this event alone.
        _ack_requested.set(id is not None)
        _refusal.set(self._check_rate(sid, data, namespace))
        followups: list[Callable[[], Awaitable[None]]] = []
        _after_ack.set(followups)
        handler = self.handlers.get(namespace, _NONE).get(data[0])
        if handler in self.direct_handlers:
            reply = await handler(sid, *data[1:])  # what the library's _trigger_event does for it
        else:
            reply = await server._trigger_event(data[0], namespace, sid, *data[1:])
        if reply is not self.not_handled and id is not None:
            await self._send_ack(server, eio_sid, namespace, id, reply)
        for followup in followups:
            try:
                await followup()
            except Exception:
                log.exception("follow-up of event %r failed", data[0])

    async def _send_ack(self, server, eio_sid: str, namespace: str | None, id: int, reply: Any) -> None:
        # What python-socketio's _handle_event_internal sends (a tuple is several arguments), with
        # the packet encoded directly: its Packet class first walks the whole reply looking for
        # bytes, which costs more than the encoding. A reply with bytes takes the library's path.
        args = [] if reply is None else list(reply) if isinstance(reply, tuple) else [reply]
        prefix = "3" if namespace in (None, "/") else f"3{namespace},"
        try:
            encoded = codec.encode(args)
        except (TypeError, ValueError):
            await server._send_packet(eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace, id=id, data=args))
            return
        await server.eio.send_encoded(eio_sid, f"{prefix}{id}".encode() + encoded)

    def _check_rate(self, sid: str, data: list, namespace: str | None) -> UserError | None:
        if self.limiter is None or (namespace or "/") != "/":
            return None
        try:
            self.limiter.check_event(sid, data[0], time.monotonic())
        except Refused as refused:
            return UserError("rate_limited", str(refused))
        return None


@contextlib.contextmanager
def locally() -> Iterator[None]:
    """Emits inside go to this process's connections only, not through Redis to the others."""
    token = _local_only.set(True)
    try:
        yield
    finally:
        _local_only.reset(token)


def refusal() -> UserError | None:
    """The rate limiter's verdict on the current event (None: go ahead)."""
    return _refusal.get()


def ack_requested() -> bool:
    return _ack_requested.get()


def after_ack(work: Callable[[], Awaitable[None]]) -> None:
    """Run `work` after the current event's ack has been sent (at once if there is no event)."""
    followups = _after_ack.get()
    if followups is None:
        raise RuntimeError("after_ack() called outside an event handler")
    followups.append(work)


Handler = Callable[..., Awaitable[Any]]


def event_handler(sio: Server, event: str, *, inline: bool = False) -> Callable[[Handler], Handler]:
    """Register `fn(sid, *args)` for `event`, translating errors in one place.

    `inline`: `fn` only relays (it awaits nothing but emits), so it may run in the task that reads
    the connection instead of a task of its own (with Redis every event gets its task: its ack
    waits for Redis).

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
                    refused = refusal()
                    if refused is not None:
                        raise refused
                    result = await fn(sid, *args)
                    if sio.before_ack is not None:
                        await sio.before_ack()
                    return result
                except UserError as error:
                    log.warning(
                        "refused %s",
                        event,
                        extra={"event": event, "sid": sid, "code": error.code, "reason": error.message},
                    )
                    return await report_error(sio, sid, event, error)
                except Exception:
                    log.exception("event %s failed", event, extra={"event": event, "sid": sid})
                    return await report_error(sio, sid, event, INTERNAL_ERROR)

        sio.on(event, wrapper)
        sio.direct_handlers.add(wrapper)
        if inline:
            sio.inline_handlers.add(wrapper)
        return fn

    return register


async def report_error(sio: Server, sid: str, event: str, error: UserError) -> Any:
    sio.metrics.rejected(error.code)
    if ack_requested():
        return failure(error)
    await sio.emit("error", {**error.as_dict(), "event": event}, to=sid)
    return None
