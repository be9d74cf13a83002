"""uvicorn's WebSocket protocol (`ws=`), plus a way for the app to write ready-made frames.

ASGI gives an application no transport: every message goes through `send()` as a dict, is framed
by the `websockets` library and written, once per recipient. For the broadcast fast path
(docs/internals.md) this protocol class publishes a small `Wire` object in the connection's ASGI
scope (`scope["extensions"]["videochat.wire"]`); the scope travels unchanged through middleware
that wraps `send`, so the app reaches it wherever it sits. Everything else is uvicorn's own
`websockets-sansio` implementation: handshake, close handshake, keepalive pings, size limit.

Four changes besides the extension:
- complete, unfragmented, masked text, binary and pong frames from the client are parsed here (a
  few lines and websockets' C unmasking) instead of by the `websockets` parser's generators, the
  largest cost of an incoming message in the profile; anything else (a close, a ping, a fragment,
  an oversized or invalid frame) hands the connection's bytes from that frame on to `websockets`
  for good, so its checks and the closing handshake stay as they were;
- the receive queue and the "writable" event are small classes without deques (memory per idle
  connection);
- incoming messages no longer pause and resume reading for each message (two system calls per
  frame); reading pauses once `INCOMING_HIGH_WATER` messages wait for the app, which still bounds
  what one connection can make the server hold;
- memory per idle connection (docs/internals.md): the handshake's request and response objects,
  and websockets' parser while frames are parsed here, are dropped once the connection is
  accepted; the instance keeps only the attributes that differ from the class's (`_compact`);
  `receive` hands the app a future rather than a coroutine; an app with pings of its own turns
  uvicorn's keepalive pings off for its connection (`app_pings`).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import Protocol
from websockets.speedups import apply_mask

if TYPE_CHECKING:
    from uvicorn._types import ASGISendEvent

WIRE_EXTENSION = "videochat.wire"
INCOMING_HIGH_WATER = 64  # messages received and not yet taken by the app before reading pauses

_TEXT, _BINARY = 0x81, 0x82  # FIN + opcode


_MISSING = object()
_SCALARS = (bool, int, float, str, bytes, type(None))


def frame(payload: str | bytes, *, text: bool | None = None) -> bytes:
    """One unmasked, unfragmented WebSocket frame (RFC 6455 section 5.2) as a server sends it:
    text for `str`, binary for `bytes` unless `text` (UTF-8 already). Built once, it can be written
    to any number of clients."""
    if isinstance(payload, str):
        data, first = payload.encode(), _TEXT
    else:
        data, first = bytes(payload), _TEXT if text else _BINARY
    length = len(data)
    if length < 126:
        return bytes((first, length)) + data
    if length < 65536:
        return struct.pack("!BBH", first, 126, length) + data
    return struct.pack("!BBQ", first, 127, length) + data


class Wire:
    """What the app may do to one accepted WebSocket connection, synchronously, bypassing ASGI.

    Writes are gathered and go out together once the event loop's current round of callbacks is
    over: one system call per connection per round, whatever number of frames it was sent in that
    round (under load, a client in a busy room gets several). Node's streams do the same (writes made
    while one is in flight leave together). Anything else the protocol writes (the close handshake, an
    ASGI send) first flushes what waits here, so the order on the wire is the order of the calls.

    `limit(n, on_overflow)` bounds what may wait for this client, here and in the transport: past
    `n` bytes, `on_overflow(buffered)` is called instead of writing (it drops the connection).
    """

    __slots__ = ("_protocol", "_pending", "_pending_bytes", "_flusher", "_limit", "_on_overflow", "_left_in_transport")

    def __init__(self, protocol: DirectWebSocketProtocol) -> None:
        self._protocol = protocol
        self._pending: list[bytes] | None = None
        self._pending_bytes = 0
        self._flusher = _Flusher.of(protocol.loop)
        self._limit = 1 << 62
        self._on_overflow: Callable[[int], None] | None = None
        self._left_in_transport = 0  # what the transport still held after the last flush

    def limit(self, max_bytes: int, on_overflow: Callable[[int], None]) -> None:
        self._limit, self._on_overflow = max_bytes, on_overflow

    def release(self) -> None:
        """The connection is gone: drop what waits and the callback (no reference cycle is left)."""
        self._pending, self._pending_bytes, self._on_overflow = None, 0, None

    def write(self, data: bytes) -> bool:
        """Write ready-made frames; False (nothing written) once the connection is closing or over
        its limit."""
        protocol = self._protocol
        if protocol.close_sent or protocol.disconnected:  # a transport closing otherwise: see flush
            return False
        size = self._pending_bytes + len(data)
        if size + self._left_in_transport > self._limit:
            # the transport may have drained since the last flush: ask it
            self._left_in_transport = protocol.transport.get_write_buffer_size()
            if size + self._left_in_transport > self._limit:
                self._overflow(size + self._left_in_transport)
                return False
        pending = self._pending
        if pending is None:
            self._pending = [data]
            self._flusher.add(self)
        else:
            pending.append(data)
        self._pending_bytes = size
        return True

    def flush(self) -> None:
        """Hand what waits to the transport now (one system call when the kernel takes it)."""
        pending = self._pending
        if pending is None:
            return
        self._pending, self._pending_bytes = None, 0
        protocol = self._protocol
        transport = protocol.transport
        if protocol.disconnected or transport.is_closing():
            return
        if len(pending) == 1:
            transport.write(pending[0])
        else:
            transport.writelines(pending)
        left = self._left_in_transport = transport.get_write_buffer_size()
        if left > self._limit:
            self._overflow(left)

    def _overflow(self, buffered: int) -> None:
        self._pending, self._pending_bytes = None, 0
        if self._on_overflow is not None:
            self._on_overflow(buffered)

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start the closing handshake (uvicorn closes the transport if the peer does not answer)."""
        self._protocol.close_now(code, reason)

    def abort(self) -> None:
        """Drop the connection at once, discarding what is buffered for it."""
        self._pending, self._pending_bytes = None, 0
        self._protocol.transport.abort()


class _Flusher:
    """The connections of one event loop with writes waiting, flushed in one callback per round."""

    _by_loop: dict[int, _Flusher] = {}

    __slots__ = ("_loop", "_dirty")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._dirty: list[Wire] = []

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Flusher:
        flusher = cls._by_loop.get(id(loop))
        if flusher is None or flusher._loop is not loop:
            flusher = cls._by_loop[id(loop)] = cls(loop)
        return flusher

    def add(self, wire: Wire) -> None:
        if not self._dirty:
            self._loop.call_soon(self._flush)
        self._dirty.append(wire)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for wire in dirty:
            wire.flush()


class Inbox:
    """What uvicorn's protocol uses of its receive queue (one reader: the ASGI app), in a list and
    one future instead of asyncio.Queue's four deques (about 3 KB per connection).

    `get` is a plain method that returns a future (already done when a message waits): the app's
    `await receive()` then waits on that future alone, with no coroutine of ours or uvicorn's kept
    suspended for every idle connection."""

    __slots__ = ("_items", "_waiter", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._items: list = []
        self._waiter: asyncio.Future | None = None
        self._loop = loop

    def put_nowait(self, item: object) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():  # (a cancelled reader leaves its future done)
                waiter.set_result(item)
                return
        self._items.append(item)

    def get(self) -> asyncio.Future:
        future = self._loop.create_future()
        if self._items:
            future.set_result(self._items.pop(0))
        else:
            self._waiter = future
        return future

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items)


class Flag:
    """What uvicorn's protocol uses of asyncio.Event (`writable`), without a deque per connection."""

    __slots__ = ("_value", "_waiters", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._value = True
        self._waiters: list[asyncio.Future] | None = None
        self._loop = loop

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if not self._value:
            waiter = self._loop.create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            await waiter
        return True


def app_pings(wire: Wire) -> None:
    """Before the accept: this connection's app checks liveness itself (Engine.IO pings and closes a
    client that stops answering), so uvicorn's WebSocket keepalive pings are not started for it.
    Other WebSocket routes (the lobby) keep them."""
    wire._protocol.ping_interval = None  # uvicorn's start_keepalive then starts no timer


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol that offers a `Wire` to the application."""

    # uvicorn's asyncio.Queue and asyncio.Event, replaced by what it uses of them (Inbox, Flag)
    queue: Inbox  # type: ignore[assignment]
    writable: Flag  # type: ignore[assignment]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = Inbox(self.loop)
        self.writable = Flag(self.loop)

    # parse client frames here while True (see the module); bytes of an incomplete frame wait here
    fast_frames = False
    partial = b""
    wire: Wire | None = None
    # An idle connection's state once its handshake is over. uvicorn sets some forty attributes per
    # connection, most to the same values for all of them (its config, app, loop, logger; None,
    # False); after the accept those are left to these class attributes and the instance keeps a
    # dict of the ten that are its own (`_compact`, about 1.2 KB less per connection). Anything
    # uvicorn assigns later goes back into the instance as usual.
    scheme = "ws"
    handshake_initiated = True
    handshake_complete = True
    close_sent = False
    disconnected = False
    close_timer = None
    initial_response = None
    read_paused = False
    ping_timer = None
    pong_timer = None
    pending_ping_payload = None
    ping_sent_at = 0.0
    last_ping_rtt = 0.0
    curr_msg_data_type: Literal["text", "bytes"] = "bytes"
    # typed never None by uvicorn, which sets them at the handshake; `send` clears them after it
    request = None  # type: ignore[assignment]
    response = None  # type: ignore[assignment]
    _SHARED = (
        "config",
        "app",
        "loop",
        "logger",
        "root_path",
        "asgi_version",
        "app_state",
        "connections",
        "tasks",
        "default_headers",
        "close_timeout",
        "ping_interval",
        "ping_timeout",
    )

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # the ASGI task has been created, not started: the scope can still be completed
        scope = getattr(self, "scope", None)
        if scope is not None and not self.close_sent:
            self.wire = scope["extensions"][WIRE_EXTENSION] = Wire(self)
            # the request was the whole of what arrived: the parser now waits for a first frame
            self.fast_frames = not self.conn.reader.buffer

    def data_received(self, data: bytes) -> None:
        if not self.fast_frames or self.close_sent:
            self._hand_over()
            super().data_received(self.partial + data if self.partial else data)
            self.partial = b""
            return
        if self.partial:
            data, self.partial = self.partial + data, b""
        position = self._parse_frames(data)
        if position is not None:  # from here on, websockets parses this connection
            self._hand_over()
            super().data_received(data[position:])

    def _hand_over(self) -> None:
        """From here on websockets parses this connection's frames."""
        self.fast_frames = False
        if self.conn.parser is None:  # dropped at the accept (`send`): a new one, past the handshake
            # (unreachable for the checker only: websockets types the parser as never None)
            self.conn.parser = Protocol.parse(self.conn)  # type: ignore[unreachable]
            next(self.conn.parser)

    def _parse_frames(self, data: bytes) -> int | None:
        """Deliver the complete simple frames at the start of `data`; keep an incomplete one for
        later; return where a frame this does not handle starts (None: all taken)."""
        position, size, limit = 0, len(data), self.config.ws_max_size or 1 << 62
        while position < size:
            if size - position < 2:
                self.partial = data[position:]
                return None
            first, second = data[position], data[position + 1]
            if first not in (0x81, 0x82, 0x8A) or not second & 0x80:
                return position  # fragments, close, ping, reserved bits, an unmasked frame
            length, start = second & 0x7F, position + 2
            if length == 126:
                if size - start < 2:
                    self.partial = data[position:]
                    return None
                length, start = struct.unpack_from("!H", data, start)[0], start + 2
            elif length == 127:
                if size - start < 8:
                    self.partial = data[position:]
                    return None
                length, start = struct.unpack_from("!Q", data, start)[0], start + 8
            if length > limit:
                return position  # websockets closes the connection with 1009
            end = start + 4 + length
            if end > size:
                self.partial = data[position:]
                return None
            payload = apply_mask(data[start + 4 : end], data[start : start + 4])
            if first == 0x81:
                try:
                    text = payload.decode()
                except UnicodeDecodeError:
                    return position  # websockets closes the connection with 1007
                self.queue.put_nowait({"type": "websocket.receive", "text": text})
            elif first == 0x82:
                self.queue.put_nowait({"type": "websocket.receive", "bytes": payload})
            else:
                self.handle_pong(Frame(Opcode.PONG, payload))
            position = end
            if not self.read_paused and self.queue.qsize() >= INCOMING_HIGH_WATER:
                self.read_paused = True
                self.transport.pause_reading()
        return None

    async def send(self, message: ASGISendEvent) -> None:
        if self.wire is not None:
            self.wire.flush()  # what the app wrote directly goes first
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete and not self.close_sent:
            # only needed to build the handshake response; a few KB per connection otherwise
            self.request = self.response = None
            if self.fast_frames:
                # websockets' parser is a chain of suspended generators, the first of which still
                # holds the handshake request and its headers (~2.5 KB); frames are parsed here
                # until one this class does not handle, and only then is a parser made again
                self.conn.parser = None  # type: ignore[assignment]  # (typed never None by websockets)
            self._compact()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # the scope holds the Wire, which holds this protocol: without this reference the cycle is
        # broken and a closed connection is freed as soon as the app lets go of it, rather than by
        # the cycle collector, which rarely looks at long-lived objects (server.GC_THRESHOLDS)
        self.scope = None  # type: ignore[assignment]
        if self.wire is not None:  # the same through this protocol's reference and the Wire's
            self.wire.release()  # callback into its Outbox, which holds the Wire
            self.wire = None

    def receive(self) -> asyncio.Future:  # type: ignore[override]
        """uvicorn's `receive`, as a plain method: the app awaits the Inbox's future directly."""
        future = self.queue.get()
        if self.read_paused and self.queue.empty():
            self.read_paused = False
            self.transport.resume_reading()
        return future

    def _compact(self) -> None:
        cls = type(self)
        state = self.__dict__
        for name in self._SHARED:  # the first connection's values become the class's
            if name not in cls.__dict__ and name in state:
                setattr(cls, name, state[name])
        own = {}
        for name, value in state.items():
            default = getattr(cls, name, _MISSING)
            if value is default or (type(value) in _SCALARS and type(value) is type(default) and value == default):
                continue
            own[name] = value
        self.__dict__ = own

    def send_receive_event_to_app(self) -> None:
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return  # past `websocket.close`: as uvicorn, read on until the peer's close reply
        if self.curr_msg_data_type == "text":
            try:
                self.queue.put_nowait({"type": "websocket.receive", "text": data.decode()})
            except UnicodeDecodeError:
                self.logger.warning("closing a WebSocket that sent invalid UTF-8")
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        else:
            self.queue.put_nowait({"type": "websocket.receive", "bytes": data})
        if not self.read_paused and self.queue.qsize() >= INCOMING_HIGH_WATER:
            self.read_paused = True
            self.transport.pause_reading()

    def close_now(self, code: int, reason: str) -> None:
        """What uvicorn does for an app's `websocket.close`, without awaiting."""
        if self.wire is not None:
            self.wire.flush()  # frames written before the close go before it
        if self.close_sent or self.disconnected or self.transport.is_closing() or not self.handshake_complete:
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
