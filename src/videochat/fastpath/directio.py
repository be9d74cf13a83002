"""Engine.IO over a WebSocket without a writer task: packets are written as they are sent.

python-engineio gives every connection an outgoing queue and, on WebSocket, a writer task that
takes packets from it and hands each to the ASGI server; its reader wraps every frame it waits for
in a new task and a timeout. Here (docs/internals.md):

- `Outbox` is the socket's queue (engineio's public `create_queue` hook). On long-polling it is
  transport.engine's `BoundedQueue` (what waits counted and bounded, as on the stock path). Once
  the socket's WebSocket is accepted it is *attached* to that connection's
  `fastws.Wire`: what waits in it is written, and from then on every packet put in it (messages,
  acks, pings, the Close) is framed and written at once, in the order it was sent, so per-socket
  order holds for everything. After a Close nothing more is written. When the connection has more
  than `max_outgoing_bytes` waiting for a client that does not read, the connection is dropped
  (bounded memory), with the reason logged and counted.
- `DirectWebSocket` replaces the library's WebSocket handler for connections served by
  `fastws.DirectWebSocketProtocol` (others keep the library's): the same Engine.IO handshake and
  upgrade from long-polling, then one loop reading frames, no task or timeout per frame (a silent
  client is still closed by Engine.IO's ping timeout check). A text message goes straight to the
  server's `message` handler (python-socketio's), without the packet object, the log call and the
  closure python-engineio makes for each; other packets take the library's `receive`.
- `DirectEngineIO.send` writes a text message to such a socket at once, framed, without a packet
  object and the queue's round trip; others (long-polling, binary) take the library's path.
- Pings, pong checks and the handshake deadline of transport.engine wait in `Rounds`: one timer
  per quarter second for all sockets rather than one per socket (memory per idle connection).

The limits of every path (the session's address, the handshake deadline, the bound on what waits
for a client) are transport.engine's `GuardedEngineIO`, which `DirectEngineIO` extends.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from collections.abc import Callable
from types import MethodType
from typing import Any

from engineio import exceptions, packet
from engineio.async_drivers import asgi
from engineio.async_socket import AsyncSocket

from videochat.fastpath.fastws import WIRE_EXTENSION, Wire, app_pings, frame
from videochat.transport.engine import TOO_SLOW, BoundedQueue, GuardedEngineIO

log = logging.getLogger(__name__)


class Outbox:
    """An Engine.IO socket's outgoing queue that, attached to a WebSocket, writes instead of queueing.

    It offers what python-engineio uses of an asyncio.Queue; a real one is made only while packets
    must wait (long-polling, or before the WebSocket is accepted): an idle WebSocket socket holds
    none (an asyncio.Queue is four deques, about 3 KB).
    """

    __slots__ = ("max_outgoing_bytes", "on_too_slow", "wire", "shut", "failure", "_queue")

    def __init__(self, max_outgoing_bytes: int, on_too_slow: Callable[[Outbox, int], None]) -> None:
        self.max_outgoing_bytes = max_outgoing_bytes
        self.on_too_slow = on_too_slow
        self.wire: Wire | None = None
        self.shut = False  # a Close was written, or the connection was dropped: write nothing more
        self.failure: str | None = None
        self._queue: BoundedQueue | None = None

    @property
    def direct(self) -> bool:
        return self.wire is not None

    def attach(self, wire: Wire) -> None:
        """Write what waits, then write every packet as it is put (the WebSocket is accepted)."""
        waiting, self._queue = self._queue, None
        self.wire = wire
        wire.limit(self.max_outgoing_bytes, self._overflow)
        while waiting is not None and not waiting.empty():
            pkt = waiting.get_nowait()
            waiting.task_done()
            if pkt is None or pkt.packet_type != packet.NOOP:  # a NOOP only ends a long-polling request
                self._write_packet(pkt)

    # what python-engineio uses of asyncio.Queue

    def _waiting(self) -> BoundedQueue:
        if self._queue is None:
            self._queue = BoundedQueue(self.max_outgoing_bytes, self._drop_waiting)
        return self._queue

    def put_nowait(self, pkt: Any) -> None:
        if self.wire is not None:
            self._write_packet(pkt)
        elif not self.shut:  # (a dropped long-polling client is kept nothing more)
            # Long-polling: the packet waits for the client's next GET, bounded as a WebSocket's
            # Wire is (a client that stops fetching, and keeps its session alive with pongs POSTed
            # blindly, would make it grow for as long as its room talks)
            self._waiting().put_nowait(pkt)

    async def put(self, pkt: Any) -> None:
        self.put_nowait(pkt)

    async def get(self) -> Any:
        return await self._waiting().get()

    def get_nowait(self) -> Any:
        if self._queue is None:
            raise asyncio.QueueEmpty
        return self._queue.get_nowait()

    def task_done(self) -> None:
        if self._queue is not None:
            self._queue.task_done()

    async def join(self) -> None:
        """Returns at once, as BoundedQueue.join does (and why)."""

    def empty(self) -> bool:
        return self._queue is None or self._queue.empty()

    def qsize(self) -> int:
        return 0 if self._queue is None else self._queue.qsize()

    def full(self) -> bool:
        return False

    def _write_packet(self, pkt: packet.Packet | None) -> None:
        if pkt is None:  # the library's way to say "close this transport"
            self.close()
            return
        self.write_frame(frame(pkt.encode()))
        if pkt.packet_type == packet.OPEN:
            # python-engineio's connect handler keeps this packet in a local variable for the
            # connection's life: its data (a dict of five entries) is not needed once written
            pkt.data = None
        if pkt.packet_type == packet.CLOSE:
            self.close()

    def write_frame(self, data: bytes) -> bool:
        """Write ready-made WebSocket frames for this socket; False if it is shut."""
        wire = self.wire
        return not self.shut and wire is not None and wire.write(data)

    def _drop_waiting(self, waiting: BoundedQueue, buffered: int) -> None:
        """More than max_outgoing_bytes wait for a long-polling client: drop it and what waits."""
        self._queue = None
        self.shut = True
        self.failure = TOO_SLOW
        self.on_too_slow(self, buffered)  # the server closes the session (GuardedEngineIO._too_slow)

    def _overflow(self, buffered: int) -> None:
        """More than max_outgoing_bytes wait for this client: drop it (the Wire calls this)."""
        if self.shut:
            return
        self.shut = True
        self.failure = TOO_SLOW
        self.on_too_slow(self, buffered)
        if self.wire is not None:
            self.wire.abort()

    def close(self) -> None:
        """Nothing more goes out; the WebSocket closing handshake starts."""
        if not self.shut:
            self.shut = True
            if self.wire is not None:
                self.wire.close()


def writes_directly(socket: AsyncSocket, now: float) -> bool:
    """Whether a packet for `socket` may be framed and written at once (`Outbox.write_frame`): its
    WebSocket is attached and it is not closing, nor past its ping timeout (the library's `send`
    would close it then: such sockets take the library's path)."""
    outbox = socket.queue
    return (
        type(outbox) is Outbox
        and outbox.wire is not None
        and not socket.closing
        and not (socket.last_ping and now - socket.last_ping > socket.server.ping_timeout)
    )


class DirectWebSocket(asgi.WebSocket):
    """The Engine.IO WebSocket transport of one socket, on a connection that offers a Wire."""

    def __init__(self, handler: Callable, server: DirectEngineIO) -> None:
        super().__init__(handler, server)
        self.server = server
        self.socket = getattr(handler, "__self__", None)  # the AsyncSocket whose handler this is

    async def __call__(self, environ: dict) -> str:
        wire = (environ.get("asgi.scope") or {}).get("extensions", {}).get(WIRE_EXTENSION)
        socket = self.socket
        if wire is None or socket is None or not isinstance(socket.queue, Outbox):
            served: str = await super().__call__(environ)  # the library's own handler
            return served
        self.asgi_receive = environ["asgi.receive"]
        self.asgi_send = environ["asgi.send"]
        # python-engineio makes a class per request to read its body (a few KB), and the environ
        # is kept for the connection's life (python-socketio's get_environ): a WebSocket has no body
        _release(environ.pop("wsgi.input", None))
        # and the request's headers are in it (HTTP_*, what get_environ users read): the scope's own
        # list of them, a second copy kept as long, is emptied (nothing reads it after the handshake)
        environ["asgi.scope"]["headers"] = ()
        app_pings(wire)  # Engine.IO's pings tell when a client is gone: no WebSocket pings besides
        await self.asgi_send({"type": "websocket.accept"})
        await self._serve(socket, wire)
        return ""

    async def _read(self) -> str | bytes | None:
        event = await self.asgi_receive()
        if event["type"] != "websocket.receive":
            return None
        data: str | bytes | None = event.get("text")
        if data is None:
            data = event.get("bytes")
        if data is not None and len(data) > self.server.max_http_buffer_size:
            log.warning("closing a connection that sent a packet over the size limit")
            return None
        return data

    async def _serve(self, socket: Any, wire: Wire) -> None:
        outbox: Outbox = socket.queue
        if socket.connected:
            if not await self._upgrade(socket, wire):
                return
        else:
            socket.connected = True
            socket.upgraded = True
            outbox.attach(wire)
        on_message = self.server.handlers.get("message")
        sid = socket.sid
        try:
            while True:
                data = await self._read()
                if data is None:
                    break
                if type(data) is str and data[:1] == "4" and data[1:2].isdigit() and on_message is not None:
                    # a text message whose payload starts with a digit (every Socket.IO packet does):
                    # what AsyncSocket.receive and the library's Packet decoding come to for it
                    try:
                        await on_message(sid, data[1:])
                    except Exception:
                        log.exception("message handler error")
                    continue
                try:
                    await socket.receive(packet.Packet(encoded_packet=data))
                except exceptions.UnknownPacketError:
                    pass
                except exceptions.SocketIsClosedError:
                    break
                except (ValueError, TypeError, KeyError, IndexError):
                    log.warning("closing a connection that sent a malformed Engine.IO packet")
                    break
        finally:
            outbox.close()
            await socket.close(wait=False, abort=True, reason=outbox.failure or self.server.reason.TRANSPORT_CLOSE)

    async def _upgrade(self, socket: Any, wire: Wire) -> bool:
        """From long-polling to this WebSocket: probe, then the client's UPGRADE (Engine.IO 4)."""
        socket.upgrading = True  # the library holds long-polling replies meanwhile
        try:
            probe = await self._read()
            if probe is None or _decoded(probe) != (packet.PING, "probe"):
                return False
            wire.write(frame(packet.Packet(packet.PONG, data="probe").encode()))
            await socket.queue.put(packet.Packet(packet.NOOP))  # ends the long-polling request
            upgrade = await self._read()
            if upgrade is None or _decoded(upgrade)[0] != packet.UPGRADE:
                return False
            socket.queue.attach(wire)  # packets queued meanwhile go out first, in order
            socket.upgraded = True
            return True
        finally:
            socket.upgrading = False


def _release(body_reader: Any) -> None:
    """Empty the closure of python-engineio's per-request body reader class. A class is a reference
    cycle, freed only by the cycle collector, and its closure holds the connection's ASGI `receive`
    (uvicorn's protocol, and through it all of the connection's objects): a closed connection would
    stay in memory until a full collection, which comes rarely (server.GC_THRESHOLDS)."""
    for attribute in vars(type(body_reader)).values() if body_reader is not None else ():
        for cell in getattr(attribute, "__closure__", None) or ():
            cell.cell_contents = None


class Rounds:
    """Calls `action(socket)` for each socket once its delay is over, with one timer for all the
    sockets due within the same `tick` instead of a timer per socket (a timer handle, its context
    and its arguments are about 0.6 KB, and every connection always has one or two: its next ping,
    and the check that the last ping was answered). A socket may wait up to one tick longer.

    Sockets are held by weak references: a closed connection is freed at once, not when its next
    ping was due (a timer handle held it, and all its connection's objects, up to a ping interval)."""

    def __init__(self, action: Callable[[Any], None], tick: float = 0.25) -> None:
        self.action = action
        self.tick = tick
        self._due: dict[int, list] = {}  # tick number -> the sockets due then

    def add(self, delay: float, socket: Any) -> None:
        loop = asyncio.get_running_loop()
        slot = math.ceil((loop.time() + delay) / self.tick)
        sockets = self._due.get(slot)
        if sockets is None:
            sockets = self._due[slot] = []
            loop.call_at(slot * self.tick, self._run, slot)
        sockets.append(weakref.ref(socket))

    def _run(self, slot: int) -> None:
        for ref in self._due.pop(slot, ()):
            socket = ref()
            if socket is None:
                continue
            try:
                self.action(socket)
            except Exception:
                log.exception("a timed Engine.IO action failed")


def _send_ping(socket: AsyncSocket) -> None:
    """What AsyncSocket._send_ping does once its sleep is over (its send checks the ping timeout,
    which cannot have passed: the ping is just being sent). On a direct WebSocket, the pong is then
    checked for after the timeout: the library's reader had a timeout on every read for that."""
    if socket.closing or socket.closed:
        return
    socket.last_ping = time.time()
    socket.queue.put_nowait(packet.Packet(packet.PING))
    if isinstance(socket.queue, Outbox) and socket.queue.wire is not None:
        server = socket.server
        # one tick more, so that the check never runs before the timeout is over
        server.pong_checks.add(server.ping_timeout + server.pong_checks.tick, socket)


def _check_pong(socket: AsyncSocket) -> None:
    """A ping unanswered for longer than the timeout (a pong resets last_ping; a ping sent since is
    younger): close the WebSocket, which ends the socket with reason "ping timeout" (Engine.IO's
    service task may have closed it first)."""
    outbox, sent = socket.queue, socket.last_ping
    if (
        sent is not None
        and time.time() - sent >= socket.server.ping_timeout
        and isinstance(outbox, Outbox)
        and not outbox.shut
    ):
        outbox.failure = socket.server.reason.PING_TIMEOUT
        outbox.close()


def _decoded(data: str | bytes) -> tuple[int | None, Any]:
    try:
        pkt = packet.Packet(encoded_packet=data)
    except (ValueError, TypeError, IndexError):
        return None, None
    return pkt.packet_type, pkt.data


class DirectEngineIO(GuardedEngineIO):
    """python-engineio's server whose sockets write straight to their WebSocket (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handshakes = Rounds(self._handshake_over)
        # the driver table is the library's way to choose a WebSocket implementation per server
        self._async: dict[str, Any] = {**self._async, "websocket": DirectWebSocket}
        self.pings = Rounds(_send_ping)
        self.pong_checks = Rounds(_check_pong)

    def start_background_task(self, target: Callable, *args: Any, **kwargs: Any) -> Any:
        # A socket's next ping is a task sleeping a ping interval (one per connection, a couple of KB
        # each); `pings` does the same: at the end of the interval, unless closing, the ping is sent.
        if isinstance(target, MethodType) and target.__func__ is AsyncSocket._send_ping and not args and not kwargs:
            self.pings.add(self.ping_interval, target.__self__)
            return None
        return super().start_background_task(target, *args, **kwargs)

    def _check_handshake_later(self, socket: AsyncSocket) -> None:
        self.handshakes.add(self.handshake_timeout, socket)

    def _close_later(self, socket: AsyncSocket, reason: Any, *, abort: bool) -> None:
        outbox = socket.queue
        if isinstance(outbox, Outbox) and outbox.wire is not None:
            # a direct WebSocket: dropped at once, and its reader loop ends the session
            if not outbox.shut:
                outbox.failure = reason
                outbox.shut = True
                outbox.wire.abort()
            return
        super()._close_later(socket, reason, abort=abort)

    async def send(self, sid: str, data: Any) -> None:
        if type(data) is str:
            await self.send_encoded(sid, data.encode())
        else:
            await super().send(sid, data)

    async def send_encoded(self, sid: str, data: bytes) -> None:
        """`send` for a text message already encoded as UTF-8 (no decoding and encoding again on a
        direct WebSocket)."""
        socket = self.sockets.get(sid)
        if socket is not None and writes_directly(socket, time.time()):
            socket.queue.write_frame(frame(b"4" + data, text=True))
            return
        await super().send(sid, data.decode())

    def create_queue(self, *args: Any, **kwargs: Any) -> Outbox:
        return Outbox(self.max_outgoing_bytes, self._too_slow)
