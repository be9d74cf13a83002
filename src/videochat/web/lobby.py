"""The plain WebSocket lobby at `/` (the seed's first step, for websocat and other simple clients).

Clients send `{"type": "nickname" | "new_message", "payload": string}`; every lobby client, the
sender included, receives the text `<nickname>: <message>`. Each client has its own bounded outbox
and writer task, so a slow reader delays nobody: when its outbox is full it is disconnected.
A frame that is not understood is answered with an error text; JSON nested deeper than
jsoncodec.MAX_DEPTH is no mistake of a person typing, and closes the connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field

from starlette.types import Message
from starlette.websockets import WebSocket, WebSocketDisconnect

from videochat.model.errors import UserError
from videochat.model.ratelimit import Limiter, Refused
from videochat.model.rooms import DEFAULT_NICKNAME
from videochat.model.validation import Limits
from videochat.transport import jsoncodec
from videochat.web.security import OriginPolicy

log = logging.getLogger(__name__)

OUTBOX_SIZE = 256
POLICY_VIOLATION = 1008


@dataclass(eq=False)
class LobbyClient:
    websocket: WebSocket
    nickname: str = DEFAULT_NICKNAME
    outbox: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(OUTBOX_SIZE))
    key: str = field(default_factory=lambda: f"lobby-{uuid.uuid4().hex}")  # its name for the limiter


class Lobby:
    def __init__(self, limits: Limits, limiter: Limiter, origins: OriginPolicy) -> None:
        self.limits = limits
        self.limiter = limiter
        self.origins = origins
        self.clients: set[LobbyClient] = set()

    async def serve(self, websocket: WebSocket) -> None:
        if not self.origins.allows_scope(websocket.scope):
            log.warning("lobby refused a page from another origin", extra={"origin": websocket.headers.get("origin")})
            await websocket.close(POLICY_VIOLATION)  # before accepting: the handshake gets 403
            return
        client = LobbyClient(websocket)
        address = websocket.client.host if websocket.client else ""
        if not self.limiter.connect(client.key, address):
            log.warning("lobby refused a connection: too many from its address", extra={"address": address})
            await websocket.close(POLICY_VIOLATION)
            return
        try:
            await self._serve(client)
        finally:
            self.limiter.disconnect(client.key)

    async def _serve(self, client: LobbyClient) -> None:
        websocket = client.websocket
        await websocket.accept()
        self.clients.add(client)
        writer = asyncio.create_task(self._write(client), name="videochat-lobby-writer")
        log.info("lobby client connected", extra={"clients": len(self.clients)})
        try:
            while True:
                frame = await websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                self._handle(client, frame)
        except jsoncodec.TooDeep as error:
            log.warning("lobby closed a connection that sent JSON nested too deeply", extra={"reason": str(error)})
            await websocket.close(POLICY_VIOLATION, str(error))
        except WebSocketDisconnect:
            pass
        finally:
            self.clients.discard(client)
            writer.cancel()
            log.info("lobby client disconnected", extra={"nickname": client.nickname, "clients": len(self.clients)})

    def _handle(self, client: LobbyClient, frame: Message) -> None:
        try:
            kind, payload = self._parse(frame)
            try:
                self.limiter.check(client.key, "nickname" if kind == "nickname" else "message", time.monotonic())
            except Refused as refused:
                raise UserError("rate_limited", str(refused)) from None
            if kind == "nickname":
                client.nickname = self.limits.nickname(payload)
            else:
                text = self.limits.message(payload)
                self.broadcast(f"{client.nickname}: {text}")
        except UserError as error:
            log.warning(
                "lobby refused a frame",
                extra={"nickname": client.nickname, "code": error.code, "reason": error.message[:200]},
            )
            self._send(client, f"error: {error.message}")

    @staticmethod
    def _parse(frame: Message) -> tuple[str, object]:
        text = frame.get("text")
        if text is None:
            raise UserError("invalid_frame", "binary frames are not understood; send JSON text")
        try:
            data = jsoncodec.decode(text)
        except jsoncodec.TooDeep:
            raise  # not a mistake to explain: the connection is closed (serve)
        except ValueError:
            raise UserError("invalid_frame", 'not JSON; send {"type": "new_message", "payload": "..."}') from None
        if not isinstance(data, dict):
            raise UserError("invalid_frame", 'expected a JSON object like {"type": "new_message", "payload": "..."}')
        kind = data.get("type")
        if kind not in ("nickname", "new_message"):
            raise UserError("invalid_frame", f'unknown type {kind!r}; expected "nickname" or "new_message"')
        if "payload" not in data:
            raise UserError("invalid_frame", "missing payload")
        return kind, data["payload"]

    def broadcast(self, text: str) -> None:
        for client in list(self.clients):
            self._send(client, text)

    def _send(self, client: LobbyClient, text: str) -> None:
        try:
            client.outbox.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("lobby client too slow: disconnecting it", extra={"waiting": OUTBOX_SIZE})
            self.clients.discard(client)
            client.outbox = asyncio.Queue(1)
            client.outbox.put_nowait(None)  # tells its writer to close the connection

    async def _write(self, client: LobbyClient) -> None:
        try:
            while True:
                text = await client.outbox.get()
                if text is None:
                    await client.websocket.close(POLICY_VIOLATION, "too slow to keep up")
                    return
                await client.websocket.send_text(text)
        except asyncio.CancelledError:
            raise
        except Exception:  # the connection went away under us; the reader cleans up
            self.clients.discard(client)

    async def close_all(self, reason: str) -> None:
        for client in list(self.clients):
            try:
                await client.websocket.close(1001, reason)
            except Exception:
                pass
