"""python-engineio's server with the limits videochat keeps on every path (docs/security.md).

Both paths (`--fast-path on` and `off`, docs/internals.md) run on this class: the fast path's
`fastpath.directio.DirectEngineIO` is a subclass. It uses python-engineio's public extension points
only (`create_queue`, `on`, `handle_request`, `send`, the sockets' `close`):

- `BoundedQueue`, each socket's outgoing queue: what waits in it for the client (a WebSocket whose
  client stopped reading, a long-polling client that stopped fetching) is counted; past
  `max_outgoing_bytes` what waits is dropped and the session is closed with the reason
  `too slow to read` (the library's queue has no bound: the server's memory grew for as long as the
  client's room talked). Its `join` returns at once (see `BoundedQueue.join`).
- An Engine.IO session belongs to the address that opened it: a request naming its `sid` from
  another address (a long-polling POST or GET, a WebSocket upgrade) is refused, so that a leaked
  session id is not enough to speak or listen as its client.
- `expect_namespace` closes a session that has no Socket.IO namespace connected `handshake_timeout`
  seconds later: the Socket.IO server calls it when a session opens and when one leaves its last
  namespace (python-engineio holds such a session, and its descriptor, for as long as the client
  answers pings).
- `send_encoded`, a text message already encoded as UTF-8 (the fast path writes those without
  decoding them again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import engineio
from engineio import packet
from engineio.async_socket import AsyncSocket

log = logging.getLogger(__name__)

DEFAULT_MAX_OUTGOING_BYTES = 1 << 20
TOO_SLOW = "too slow to read"  # the disconnect reason of a client dropped for not reading


def queued_size(pkt: packet.Packet | None) -> int:
    """About the bytes a queued packet takes on the wire (and more than that in memory): its text or
    binary payload; a few bytes for a control packet. Cheap: packets are counted twice each."""
    data = pkt.data if pkt is not None else None
    if type(data) is str:
        return len(data) if data.isascii() else len(data.encode())
    if isinstance(data, (bytes, bytearray)):
        return len(data)
    return 0 if pkt is None else 64


class BoundedQueue(asyncio.Queue):
    """An asyncio queue of Engine.IO packets with what waits in it counted: past `max_bytes`, what
    waits is dropped, nothing more but the library's `None` ("close the transport") is queued, and
    `on_overflow(queue, buffered)` is called once.

    On long-polling packets wait here for the client's next GET; on the library's WebSocket, for
    its writer task, which waits in turn for the connection to take the previous one (uvicorn
    stops taking frames once its transport holds more than its high-water mark)."""

    def __init__(self, max_bytes: int, on_overflow: Callable[[BoundedQueue, int], None]) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self.on_overflow = on_overflow
        self.queued_bytes = 0
        self.shut = False  # dropped: what is put is discarded

    def put_nowait(self, item: Any) -> None:
        if self.shut and item is not None:
            return
        self.queued_bytes += queued_size(item)
        super().put_nowait(item)
        if self.queued_bytes > self.max_bytes and not self.shut:
            self._drop()

    def get_nowait(self) -> Any:  # (asyncio.Queue.get ends here too)
        item = super().get_nowait()
        self.queued_bytes -= queued_size(item)
        return item

    async def join(self) -> None:
        """Returns at once: a server-side disconnect must not wait on a queue nobody drains.

        python-engineio's `AsyncSocket.close` (every `AsyncServer.disconnect`) marks the socket
        closed, then waits here until every queued packet was taken. On long-polling only a GET
        takes them, and a closed socket's next GET is refused: unless a GET was already waiting, the
        wait never ended, and with it the request that caused the disconnect (a POST over the size
        limit: never answered, its connection left in CLOSE-WAIT for good, shutdown held up). A
        GET that was waiting has been woken by the CLOSE packet put before this and still takes
        what is queued, and a WebSocket's writer goes on without this wait: not waiting loses
        nothing."""

    def _drop(self) -> None:
        buffered, self.queued_bytes = self.queued_bytes, 0
        self.shut = True
        while not self.empty():
            super().get_nowait()
            self.task_done()
        self.on_overflow(self, buffered)


def scope_address(scope: dict) -> str:
    """The client's address of an ASGI request (uvicorn puts the X-Forwarded-For address there for
    trusted proxies only)."""
    client = scope.get("client")
    return client[0] if client else ""


class GuardedEngineIO(engineio.AsyncServer):
    """python-engineio's server with the limits of the module; the stock path's Engine.IO server."""

    def __init__(
        self,
        *args: Any,
        max_outgoing_bytes: int = DEFAULT_MAX_OUTGOING_BYTES,
        on_too_slow: Callable[[str, int], None] | None = None,
        handshake_timeout: float = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_outgoing_bytes = max_outgoing_bytes
        self.on_too_slow = on_too_slow
        self.handshake_timeout = handshake_timeout
        # whether a session has a Socket.IO namespace connected (set by the Socket.IO server)
        self.has_namespace: Callable[[str], bool] | None = None
        self._closing: set[asyncio.Task] = set()  # sessions being closed (referenced until done)

    # each session's address

    def on(self, event: str, handler: Callable | None = None) -> Any:
        if event == "connect" and handler is not None:
            handler = self._remembering_address(handler)
        return super().on(event, handler)

    def _remembering_address(self, handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def connect(sid: str, environ: dict, *args: Any) -> Any:
            socket = self.sockets.get(sid)  # a new session, whose socket exists by now
            if socket is not None:
                socket.opened_from = scope_address(environ.get("asgi.scope") or {})
            return await handler(sid, environ, *args)

        return connect

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        # ASGI: (scope, receive, send)
        if len(args) == 3 and isinstance(args[0], dict) and self._foreign_session(args[0]):
            scope, send = args[0], args[2]
            log.warning(
                "refused a request for an Engine.IO session opened from another address",
                extra={"address": scope_address(scope)},
            )
            await _refuse(scope, send, "Invalid session")
            return None
        return await super().handle_request(*args, **kwargs)

    def _foreign_session(self, scope: dict) -> bool:
        query = scope.get("query_string") or b""
        if b"sid=" not in query:
            return False  # a new session
        sid = urllib.parse.parse_qs(query.decode("latin-1")).get("sid", [None])[0]
        socket = self.sockets.get(sid) if sid else None
        opened_from = getattr(socket, "opened_from", None)
        return opened_from is not None and opened_from != scope_address(scope)

    # sessions without a namespace

    def expect_namespace(self, sid: str) -> None:
        """Close the session `sid` unless a namespace is connected on it `handshake_timeout` seconds
        from now (a session that never connects one is held by nobody but an attacker)."""
        socket = self.sockets.get(sid)
        if socket is not None and self.handshake_timeout and not (socket.closing or socket.closed):
            self._check_handshake_later(socket)

    def _check_handshake_later(self, socket: AsyncSocket) -> None:
        ref = weakref.ref(socket)  # a closed session is not held until its check
        asyncio.get_running_loop().call_later(self.handshake_timeout, self._handshake_due, ref)

    def _handshake_due(self, ref: weakref.ref) -> None:
        socket = ref()
        if socket is not None:
            self._handshake_over(socket)

    def _handshake_over(self, socket: AsyncSocket) -> None:
        if socket.closing or socket.closed or self.has_namespace is None or self.has_namespace(socket.sid):
            return
        log.info(
            "closing an Engine.IO session that connected no namespace in time",
            extra={"eio_sid": socket.sid, "timeout": self.handshake_timeout},
        )
        self._close_later(socket, self.reason.SERVER_DISCONNECT, abort=False)

    def _close_later(self, socket: AsyncSocket, reason: Any, *, abort: bool) -> None:
        """Close an Engine.IO session from a callback (the task is referenced until it is done)."""
        task = asyncio.get_running_loop().create_task(_close(socket, reason, abort=abort))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # sending

    async def send_encoded(self, sid: str, data: bytes) -> None:
        """`send` for a text message already encoded as UTF-8."""
        await self.send(sid, data.decode())

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        return BoundedQueue(self.max_outgoing_bytes, self._too_slow)

    def _too_slow(self, queue: Any, buffered: int) -> None:
        socket = next((s for s in self.sockets.values() if s.queue is queue), None)
        sid = socket.sid if socket is not None else None
        log.warning(
            "dropping a connection too slow to read what it is sent",
            extra={
                "eio_sid": sid,
                "buffered_bytes": buffered,
                "limit": self.max_outgoing_bytes,
                "transport": "websocket" if socket is not None and socket.upgraded else "polling",
            },
        )
        if self.on_too_slow is not None:
            self.on_too_slow(sid or "", buffered)
        if socket is not None:
            self._close_later(socket, TOO_SLOW, abort=True)


async def _close(socket: AsyncSocket, reason: Any, *, abort: bool) -> None:
    await socket.close(wait=False, abort=abort, reason=reason)
    if socket.upgraded:
        # a WebSocket: the library's writer closes it once it takes this (python-engineio's own
        # "close the transport"); the client need not answer the CLOSE packet
        socket.queue.put_nowait(None)


async def _refuse(scope: dict, send: Callable[[dict], Awaitable[None]], message: str) -> None:
    """What python-engineio answers a request it refuses: 400 with its message as JSON text (a
    WebSocket is closed before it is accepted: 403)."""
    body = json.dumps(message)
    if scope.get("type") == "websocket":
        await send({"type": "websocket.close", "reason": body})
        return
    await send({"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body.encode()})
