"""The Socket.IO client manager whose broadcasts are encoded and framed once (`client_manager=`).

python-socketio's `AsyncManager.emit` encodes an event once but then starts an asyncio task per
recipient, each of which queues the packet for that socket's writer task, which hands it to the
ASGI server, which frames it. Here an event is encoded to JSON once, framed as one WebSocket text
frame once, and the same bytes are written to every recipient whose Engine.IO socket writes
directly (`directio.Outbox`, the WebSocket transport); other recipients (long-polling, or a socket
about to close) get the library's path, one after the other, in the same call. Nothing is awaited
for direct recipients, so an emit is never interleaved with another send to the same socket: order
per socket is the order of the emit calls. docs/internals.md tells the whole story.

It keeps `AsyncManager.emit`'s signature and meaning (`room=None` is everyone in the namespace,
`to` a sid or a room, `skip_sid` a sid or a list), so a pub/sub manager can be put in front of it:
`class FastBus(IndexedRooms, RedisBus, BroadcastManager)` (cluster/sync.py). Emits with a callback, and
data that JSON cannot encode alone (binary attachments), take the library's path unchanged.

Recipients come from `get_participants`, transport.manager's: a socket whose namespace has not let it
in yet is nobody's participant, on this path as on the stock one.
"""

from __future__ import annotations

import time
from typing import Any

from engineio import exceptions as eio_exceptions
from engineio import packet as eio_packet

from videochat.fastpath import codec
from videochat.fastpath.directio import writes_directly
from videochat.fastpath.fastws import frame
from videochat.transport.manager import ConnectedOnly


class BroadcastManager(ConnectedOnly):
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: str | list[str] | None = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        namespace = namespace or "/"
        room = to or room
        if callback is not None or namespace not in self.rooms:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        encoded = self._encode(event, data, namespace)
        if encoded is None:  # binary attachments: the library's packets and path
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, **kwargs)
            return
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        sockets = self.server.eio.sockets
        now = time.time()
        ready: bytes | None = None
        others: list[str] = []
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            socket = sockets.get(eio_sid)
            if socket is None:
                continue
            if writes_directly(socket, now):
                if ready is None:
                    ready = frame(encoded, text=True)
                socket.queue.write_frame(ready)
            else:
                others.append(eio_sid)
        if others:
            pkt = eio_packet.Packet(eio_packet.MESSAGE, data=encoded[1:].decode())
            for eio_sid in others:
                try:
                    await self.server._send_eio_packet(eio_sid, pkt)
                except eio_exceptions.EngineIOError:
                    pass  # closed meanwhile: the library's emit ignores it too

    def _encode(self, event: str, data: Any, namespace: str) -> bytes | None:
        """The Engine.IO message `42[event,...args]` (with `/ns,` for other namespaces) as UTF-8, or
        None when the data holds binary (the library then makes attachments) or what JSON cannot
        encode."""
        if isinstance(data, tuple):
            args = [event, *data]
        elif data is None:
            args = [event]
        else:
            args = [event, data]
        try:
            body = codec.encode(args)
        except (TypeError, ValueError):
            return None
        prefix = b"42" if namespace == "/" else f"42{namespace},".encode()
        return prefix + body
