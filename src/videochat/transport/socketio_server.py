"""python-socketio's server with the protocol's rules for what reaches a handler, and when it is answered.

Every path (the fast one and the libraries' stock one) keeps these: binary data and packets that do
not decode close the connection; reserved event names are refused; a session that never joins a
namespace is closed after the handshake deadline; and a handler registered as *direct* is given an
`Event` (who sent it, whether the client asked for an ack, and follow-ups that run once the ack has
been sent) instead of the library's bare arguments. python-socketio has no public hook for any of
these, so `ProtocolServer` overrides its private methods (each one is listed in docs/internals.md and
checked at start-up by fastpath/selfcheck.py); events/realtime.py builds the handler framework on
top of it with public API only.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
from socketio import packet as sio_packet

from videochat.transport import jsoncodec
from videochat.transport.engine import GuardedEngineIO

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


Followup = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Event:
    """One event from a client, as its handler sees it (made by `Server` for each event)."""

    sid: str
    name: str
    # whether the client gave a callback: a refusal is then the ack, else an `error` event
    ack_requested: bool = False
    # run in order once the ack has been sent (broadcasts the sender must hear after its answer)
    followups: list[Followup] = field(default_factory=list)

    def after_ack(self, work: Followup) -> None:
        """Run `work` after this event's ack has been sent."""
        self.followups.append(work)

    async def run_followups(self) -> None:
        await run_followups(self.name, self.followups)


async def run_followups(name: str, followups: list[Followup]) -> None:
    """Run the follow-ups of event `name` in order; one that fails is logged and the next runs."""
    for followup in followups:
        try:
            await followup()
        except Exception:
            log.exception("follow-up of event %r failed", name)


_NONE: dict = {}


class ProtocolServer(socketio.AsyncServer):
    """python-socketio's server with the protocol's rules (see the module); the handler framework
    (events/realtime.py) subclasses it."""

    def __init__(
        self,
        *args: Any,
        engineio_class: type[GuardedEngineIO] = GuardedEngineIO,
        encode: Callable[[Any], bytes] = jsoncodec.encode_standard,
        **kwargs: Any,
    ) -> None:
        # The caller picks the Engine.IO server (GuardedEngineIO, or the fast path's subclass) and
        # the encoder of acks; what both libraries decode goes through jsoncodec (nesting bounded)
        self.engineio_class = engineio_class
        self.encode = encode
        kwargs.setdefault("json", jsoncodec.LibraryJSON)
        super().__init__(*args, **kwargs)
        self.eio.has_namespace = self._has_namespace
        # awaited before each ack: with Redis, what the event changed has reached the other
        # processes before its sender hears back (and may tell someone on another process)
        self.before_ack: Callable[[], Awaitable[None]] | None = None
        # handlers registered as direct (events/realtime.py's event_handler, refuse_unknown_events):
        # coroutines that never raise, called directly with an Event
        self.direct_handlers: set[Callable[..., Awaitable[Any]]] = set()
        # of those, the ones that finish without waiting on anything but the event loop (relays):
        # run in the reading task itself, no task of their own (see _handle_event)
        self.inline_handlers: set[Callable[..., Awaitable[Any]]] = set()
        # event tasks, referenced until they end, and how many each connection has unfinished
        self._running: set[asyncio.Task] = set()
        self._unfinished: dict[str, int] = {}

    def rejected(self, reason: str) -> None:
        """A packet or event refused here (`malformed_packet`, `invalid_event`): for subclasses to count."""

    def _engineio_server_class(self) -> type[GuardedEngineIO]:
        return self.engineio_class

    # An Engine.IO session that never connects a namespace (or leaves its last one) is closed after
    # --handshake-timeout (directio.DirectEngineIO.expect_namespace): the library would hold it, and
    # its descriptor, for as long as the client answers pings.

    def _has_namespace(self, eio_sid: str) -> bool:
        return any(
            self.manager.sid_from_eio_sid(eio_sid, namespace) is not None for namespace in self.manager.get_namespaces()
        )

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> None:
        await super()._handle_eio_connect(eio_sid, environ)
        self.eio.expect_namespace(eio_sid)

    async def _handle_disconnect(self, eio_sid: str, namespace: str | None, reason: str | None = None) -> None:
        await super()._handle_disconnect(eio_sid, namespace, reason)
        if reason == self.reason.CLIENT_DISCONNECT:  # the client left a namespace, not the session
            self.eio.expect_namespace(eio_sid)

    async def disconnect(self, sid: str, namespace: str | None = None, ignore_queue: bool = False) -> None:
        eio_sid = self.manager.eio_sid_from_sid(sid, namespace or "/")
        await super().disconnect(sid, namespace=namespace, ignore_queue=ignore_queue)
        if eio_sid is not None:  # a socket of this process, sent away from a namespace
            self.eio.expect_namespace(eio_sid)

    async def _handle_eio_message(self, eio_sid: str, data: str | bytes) -> None:
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
                await self._handle_event(eio_sid, None, id_, jsoncodec.decode(data[event.end() - 1 :]))
                return
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
            socket = self.eio.sockets.get(eio_sid)
            if socket is None or socket.closed:
                return  # the rest of a long-polling POST whose sender is already being closed
            reason = str(error) if isinstance(error, (BinaryRefused, jsoncodec.TooDeep)) else type(error).__name__
            log.warning("closing a connection that sent a malformed Socket.IO packet", extra={"error": reason})
            self.rejected("malformed_packet")
            await self.eio.disconnect(eio_sid)
            # python-engineio leaves the transport open until the client answers the close
            # packet (a well-behaved one does; this one may not): wake its writer, which then
            # closes the WebSocket, as the library does itself when the reader ends.
            await socket.queue.put(None)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        # The library trusts the event's shape: it indexes data[0] (failing on a packet without
        # data), looks the name up in a dict (failing on a list), and hands a client event named
        # "connect" or "disconnect" to the connection handlers. Such events are answered here.
        if not isinstance(data, list) or not data or not isinstance(data[0], str) or data[0] in RESERVED_EVENTS:
            sid = self.manager.sid_from_eio_sid(eio_sid, namespace or "/")
            name = data[0] if isinstance(data, list) and data and isinstance(data[0], str) else ""
            log.warning("refused an event no client may send", extra={"sid": sid, "event": name[:64]})
            self.rejected("invalid_event")
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

    async def _handle_event_internal(
        self, server: socketio.AsyncServer, sid: str, eio_sid: str, data: list[Any], namespace: str, id: int | None
    ) -> None:
        # Runs once per incoming event (in its own task when async_handlers is on)
        handlers = self.handlers.get(namespace, _NONE)
        handler = handlers.get(data[0])
        if handler is None:  # the library's order: the event's own handler, else the catch-all
            handler = handlers.get("*")
        if handler not in self.direct_handlers:
            reply = await server._trigger_event(data[0], namespace, sid, *data[1:])
            if reply is not self.not_handled and id is not None:
                await self._send_ack(server, eio_sid, namespace, id, reply)
            return
        event = Event(sid, data[0], id is not None)
        reply = await handler(event, *data[1:])  # what the library's _trigger_event does for it
        if id is not None:
            await self._send_ack(server, eio_sid, namespace, id, reply)
        if event.followups:
            await event.run_followups()

    async def _send_ack(
        self, server: socketio.AsyncServer, eio_sid: str, namespace: str | None, id: int, reply: Any
    ) -> None:
        # What python-socketio's _handle_event_internal sends (a tuple is several arguments), with
        # the packet encoded directly: its Packet class first walks the whole reply looking for
        # bytes, which costs more than the encoding. A reply with bytes takes the library's path.
        args = [] if reply is None else list(reply) if isinstance(reply, tuple) else [reply]
        prefix = "3" if namespace in (None, "/") else f"3{namespace},"
        try:
            encoded = self.encode(args)
        except (TypeError, ValueError):
            await server._send_packet(eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace, id=id, data=args))
            return
        await server.eio.send_encoded(eio_sid, f"{prefix}{id}".encode() + encoded)
