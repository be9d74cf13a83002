"""A client of Janus's WebSocket API (the `janus-protocol` subprotocol): one session, its handles.

Requests carry a transaction; Janus answers `success` or `error`, or `ack` and later an `event`
with the same transaction (a plugin message that takes time: join, publish, configure). Whatever
else arrives for a handle (`webrtcup`, `media`, `hangup`, plugin events without a transaction) goes
to that handle's listener. The session is kept alive with a keepalive well inside Janus's 60 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

log = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 25.0  # Janus drops a session silent for 60 s (session_timeout)
REQUEST_SECONDS = 10.0
MAX_MESSAGE_BYTES = 1 << 20  # an SDP offer for 50 streams is ~60 KB


class JanusError(Exception):
    """Janus refused a request, or is gone. `code` is Janus's (403: wrong secret, 0: no answer)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code = code
        self.reason = reason


Listener = Callable[[dict], None]


class Janus:
    """A session of the API; with `admin=True` a connection to the admin API instead (no session:
    `admin_request`, its secret sent as `admin_secret`)."""

    def __init__(self, url: str, api_secret: str | None = None, *, admin: bool = False) -> None:
        self.url = url
        self._secret = api_secret
        self._admin = admin
        self._ws: ClientConnection | None = None
        self.session: int | None = None
        self._pending: dict[str, tuple[asyncio.Future[dict], bool]] = {}
        self._listeners: dict[int, Listener] = {}
        self._tasks: list[asyncio.Task] = []
        self._numbers = itertools.count(1)
        self.closed = asyncio.Event()
        self.on_close: Callable[[], None] | None = None

    async def connect(self, timeout: float = 5.0) -> None:
        self._ws = await asyncio.wait_for(
            websockets.connect(
                self.url,
                subprotocols=[websockets.Subprotocol("janus-admin-protocol" if self._admin else "janus-protocol")],
                max_size=MAX_MESSAGE_BYTES,
            ),
            timeout,
        )
        self._tasks.append(asyncio.create_task(self._read_forever(), name="videochat-janus-reader"))
        if self._admin:
            return
        try:
            created = await self._request({"janus": "create"})
        except BaseException:
            await self.close()
            raise
        self.session = int(created["data"]["id"])
        self._tasks.append(asyncio.create_task(self._keep_alive(), name="videochat-janus-keepalive"))

    async def attach(self, plugin: str = "janus.plugin.videoroom") -> Handle:
        reply = await self._request({"janus": "attach", "plugin": plugin, "session_id": self.session})
        return Handle(self, int(reply["data"]["id"]))

    async def info(self) -> dict:
        return await self._request({"janus": "info"})

    async def admin_request(self, body: dict) -> dict:
        """A request of the admin API (`list_handles`, `handle_info`, ...): its answer."""
        assert self._admin, "an admin request goes to the admin API"
        return await self._request(body)

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                if self.session is not None and not self.closed.is_set():
                    await asyncio.wait_for(self._send({"janus": "destroy", "session_id": self.session}), 1.0)
            await self._ws.close()
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                task.cancel()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        self._lost("closed")

    # requests

    async def _request(self, body: dict, *, wait_event: bool = False, timeout: float = REQUEST_SECONDS) -> dict:
        if self.closed.is_set() or self._ws is None:
            raise JanusError(0, "not connected")
        transaction = f"{next(self._numbers)}-{secrets.token_hex(4)}"
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = (future, wait_event)
        try:
            await self._send({**body, "transaction": transaction})
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise JanusError(0, f"no answer to {body.get('janus')} within {timeout:.0f} s") from None
        finally:
            self._pending.pop(transaction, None)
        if reply.get("janus") == "error":
            error = reply.get("error") or {}
            raise JanusError(int(error.get("code", 0)), str(error.get("reason", "unknown error")))
        return reply

    async def _send(self, body: dict) -> None:
        assert self._ws is not None
        if self._secret is not None:
            body = {**body, ("admin_secret" if self._admin else "apisecret"): self._secret}
        try:
            await self._ws.send(json.dumps(body))
        except websockets.ConnectionClosed as error:
            raise JanusError(0, f"connection lost: {error}") from None

    async def _read_forever(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    log.warning("Janus sent something that is not JSON; ignored")
                    continue
                if isinstance(message, dict):
                    self._dispatch(message)
        except websockets.ConnectionClosed:
            pass
        except Exception:
            log.exception("reading from Janus failed")
        finally:
            self._lost("connection closed")

    def _dispatch(self, message: dict) -> None:
        kind = message.get("janus")
        waiting = self._pending.get(str(message.get("transaction")))
        if waiting is not None:
            future, wait_event = waiting
            if kind == "ack" and wait_event:
                return  # the event follows
            if not future.done():
                future.set_result(message)
            return
        if kind == "timeout":
            log.warning("Janus timed the session out")
            self._lost("session timed out")
            return
        listener = self._listeners.get(int(message.get("sender") or 0))
        if listener is not None:
            try:
                listener(message)
            except Exception:
                log.exception("a Janus event listener failed")

    def _lost(self, why: str) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(JanusError(0, why))
        if self.on_close is not None:
            self.on_close()

    async def _keep_alive(self) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(KEEPALIVE_SECONDS)
            try:
                await self._request({"janus": "keepalive", "session_id": self.session})
            except JanusError as error:
                log.warning("Janus keepalive failed: %s", error.reason)
                if self._ws is not None:
                    await self._ws.close()
                return


class Handle:
    """One plugin handle: a publisher, a subscriber, or the handle that creates rooms."""

    def __init__(self, janus: Janus, handle_id: int) -> None:
        self.janus = janus
        self.id = handle_id

    def listen(self, listener: Listener) -> None:
        self.janus._listeners[self.id] = listener

    async def message(
        self, body: dict, jsep: dict | None = None, *, timeout: float = REQUEST_SECONDS
    ) -> tuple[dict, dict | None]:
        """A plugin request; returns the plugin's data and its jsep (an offer or answer), if any."""
        request: dict[str, Any] = {"janus": "message", "session_id": self.janus.session, "handle_id": self.id}
        request["body"] = body
        if jsep is not None:
            request["jsep"] = jsep
        reply = await self.janus._request(request, wait_event=True, timeout=timeout)
        data = (reply.get("plugindata") or {}).get("data") or {}
        if "error_code" in data or "error" in data:
            raise JanusError(int(data.get("error_code", 0)), str(data.get("error", "plugin error")))
        return data, reply.get("jsep")

    async def trickle(self, candidate: dict | None) -> None:
        """A candidate of the peer connection on this handle; None: the peer's gathering ended."""
        await self.janus._request(
            {
                "janus": "trickle",
                "session_id": self.janus.session,
                "handle_id": self.id,
                "candidate": candidate if candidate is not None else {"completed": True},
            }
        )

    async def detach(self) -> None:
        self.janus._listeners.pop(self.id, None)
        with contextlib.suppress(JanusError):
            await self.janus._request({"janus": "detach", "session_id": self.janus.session, "handle_id": self.id})
