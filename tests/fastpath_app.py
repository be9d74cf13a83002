"""A tiny Socket.IO app on videochat's fast path, for what videochat itself never sends: binary
payloads, and pings often enough to watch them (tests/test_fastpath.py starts it as a process).

Usage: python fastpath_app.py   (prints `listening on http://127.0.0.1:PORT`)
Events: `join(room)` enters a room; `blob(room, [byte values])` sends those bytes, as binary, to the
others in the room, and the ack says how many bytes it had. Clients cannot send binary themselves:
videochat's server refuses it (a protocol error, docs/security.md "Binary attachments"), so the byte
values come as JSON numbers.
"""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from videochat.events.realtime import Server
from videochat.fastpath.broadcast import BroadcastManager
from videochat.fastpath.fastws import DirectWebSocketProtocol


def create_app():
    import socketio

    sio = Server(
        async_mode="asgi",
        client_manager=BroadcastManager(),
        ping_interval=1,
        ping_timeout=2,
        logger=False,
        engineio_logger=False,
    )

    @sio.on("join")
    async def join(sid, room):
        await sio.enter_room(sid, room)
        return {"ok": True}

    @sio.on("blob")
    async def blob(sid, room, values):
        data = bytes(values)
        # this app's own event, not one of the protocol's (events/outgoing.py)
        await sio.emit("blob", (data, {"from": sid}), room=room, skip_sid=sid, undeclared=True)
        return {"ok": True, "bytes": len(data)}

    return socketio.ASGIApp(sio)


class AnnouncingServer(uvicorn.Server):
    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        port = self.servers[0].sockets[0].getsockname()[1]
        print(f"listening on http://127.0.0.1:{port}", flush=True)


async def main() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # uvicorn's WebSocket keepalive pings every 0.3 s: Engine.IO connections must not get them (they
    # have Engine.IO's pings; tests/test_fastpath.py watches a silent client's frames)
    config = uvicorn.Config(
        create_app(), ws=DirectWebSocketProtocol, log_level="warning", lifespan="off", ws_ping_interval=0.3
    )
    await AnnouncingServer(config).serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(main())
