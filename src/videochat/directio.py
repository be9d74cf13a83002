"""Engine.IO over a WebSocket without a writer task: packets are written as they are sent.

python-engineio gives every connection an outgoing queue and, on WebSocket, a writer task that
takes packets from it and hands each to the ASGI server; its reader wraps every frame it waits for
in a new task and a timeout. Here (docs/internals.md):

- `Outbox` is the socket's queue (engineio's public `create_queue` hook). On long-polling it is the
  usual asyncio queue. Once the socket's WebSocket is accepted it is *attached* to that connection's
  `fastws.Wire`: what waits in it is written, and from then on every packet put in it (messages,
  acks, pings, the Close) is framed and written at once, in the order it was sent, so per-socket
  order holds for everything. After a Close nothing more is written. When the connection has more
  than `max_outgoing_bytes` waiting for a client that does not read, the connection is dropped
  (bounded memory), with the reason logged and counted.
- `DirectWebSocket` replaces the library's WebSocket handler for connections served by
  `fastws.DirectWebSocketProtocol` (others keep the library's): the same Engine.IO handshake and
  upgrade from long-polling, then one loop reading frames, no task or timeout per frame (a silent
  client is still closed by Engine.IO's ping timeout check).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

import engineio
from engineio import exceptions, packet
from engineio.async_drivers import asgi

from .fastws import WIRE_EXTENSION, Wire, frame

log = logging.getLogger(__name__)

DEFAULT_MAX_OUTGOING_BYTES = 1 << 20
TOO_SLOW = "too slow to read"  # the disconnect reason of a client dropped for not reading


class Outbox(asyncio.Queue):
    """An Engine.IO socket's outgoing queue that, attached to a WebSocket, writes instead of queueing."""

    def __init__(self, max_outgoing_bytes: int, on_too_slow: Callable[["Outbox", int], None]) -> None:
        super().__init__()
        self.max_outgoing_bytes = max_outgoing_bytes
        self.on_too_slow = on_too_slow
        self.wire: Wire | None = None
        self.shut = False  # a Close was written, or the connection was dropped: write nothing more
        self.failure: str | None = None

    @property
    def direct(self) -> bool:
        return self.wire is not None

    def attach(self, wire: Wire) -> None:
        """Write what waits, then write every packet as it is put (the WebSocket is accepted)."""
        while not self.empty():
            pkt = self.get_nowait()
            self.task_done()
            if pkt is not None and pkt.packet_type == packet.NOOP:
                continue  # only ends a long-polling request
            self.wire = wire
            self._write_packet(pkt)
        self.wire = wire

    def put_nowait(self, pkt: Any) -> None:
        if self.wire is None:
            super().put_nowait(pkt)
        else:
            self._write_packet(pkt)

    def _write_packet(self, pkt: packet.Packet | None) -> None:
        if pkt is None:  # the library's way to say "close this transport"
            self.close()
            return
        self.write_frame(frame(pkt.encode()))
        if pkt.packet_type == packet.CLOSE:
            self.close()

    def write_frame(self, data: bytes) -> bool:
        """Write ready-made WebSocket frames for this socket; False if it is shut."""
        wire = self.wire
        if self.shut or wire is None or not wire.write(data):
            return False
        buffered = wire.buffered()
        if buffered > self.max_outgoing_bytes:
            self.shut = True
            self.failure = TOO_SLOW
            self.on_too_slow(self, buffered)
            wire.abort()
            return False
        return True

    def close(self) -> None:
        """Nothing more goes out; the WebSocket closing handshake starts."""
        if not self.shut:
            self.shut = True
            if self.wire is not None:
                self.wire.close()


class DirectWebSocket(asgi.WebSocket):
    """The Engine.IO WebSocket transport of one socket, on a connection that offers a Wire."""

    def __init__(self, handler: Callable, server: "DirectEngineIO") -> None:
        super().__init__(handler, server)
        self.server = server
        self.socket = getattr(handler, "__self__", None)  # the AsyncSocket whose handler this is

    async def __call__(self, environ: dict) -> str:
        wire = (environ.get("asgi.scope") or {}).get("extensions", {}).get(WIRE_EXTENSION)
        socket = self.socket
        if wire is None or socket is None or not isinstance(socket.queue, Outbox):
            return await super().__call__(environ)  # the library's own handler
        self.asgi_receive = environ["asgi.receive"]
        self.asgi_send = environ["asgi.send"]
        await self.asgi_send({"type": "websocket.accept"})
        await self._serve(socket, wire)
        return ""

    async def _read(self) -> str | bytes | None:
        event = await self.asgi_receive()
        if event["type"] != "websocket.receive":
            return None
        data = event.get("text")
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
        try:
            while True:
                data = await self._read()
                if data is None:
                    break
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
            await socket.close(wait=False, abort=True,
                               reason=outbox.failure or self.server.reason.TRANSPORT_CLOSE)

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


def _decoded(data: str | bytes) -> tuple[int | None, Any]:
    try:
        pkt = packet.Packet(encoded_packet=data)
    except (ValueError, TypeError, IndexError):
        return None, None
    return pkt.packet_type, pkt.data


class DirectEngineIO(engineio.AsyncServer):
    """python-engineio's server whose sockets write straight to their WebSocket (see the module)."""

    def __init__(self, *args: Any, max_outgoing_bytes: int = DEFAULT_MAX_OUTGOING_BYTES,
                 on_too_slow: Callable[[str, int], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_outgoing_bytes = max_outgoing_bytes
        self.on_too_slow = on_too_slow
        # the driver table is the library's way to choose a WebSocket implementation per server
        self._async = {**self._async, "websocket": DirectWebSocket}

    def create_queue(self, *args: Any, **kwargs: Any) -> Outbox:
        return Outbox(self.max_outgoing_bytes, self._too_slow)

    def _too_slow(self, outbox: Outbox, buffered: int) -> None:
        sid = next((sid for sid, s in self.sockets.items() if s.queue is outbox), None)
        log.warning("dropping a connection too slow to read what it is sent",
                    extra={"eio_sid": sid, "buffered_bytes": buffered, "limit": self.max_outgoing_bytes})
        if self.on_too_slow is not None:
            self.on_too_slow(sid or "", buffered)
