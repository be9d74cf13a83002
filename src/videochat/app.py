"""create_app(settings): the whole server as one ASGI application.

`/socket.io/` goes to python-socketio (Engine.IO 4, websocket and long-polling); everything else,
the Socket.IO browser client included, to Starlette. The Starlette lifespan owns the database and
the background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

import socketio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from .chat import Chat
from .history import HistoryStore
from .ice import IceServers
from .lobby import Lobby
from .logs import configure_logging
from .realtime import Server
from .rooms import Registry
from .settings import Settings
from .signaling import Signaling
from .validation import Limits
from .web import SOCKET_IO_CLIENT_FILES, STATIC_DIR, Pages, SecurityHeaders, socket_io_client

log = logging.getLogger(__name__)

SOCKET_IO_PREFIX = "/socket.io/"


class VideochatApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = Limits(settings.max_room_name, settings.max_nickname, settings.max_message)
        self.registry = Registry()
        self.history = HistoryStore(
            settings.database_path, size=settings.history_size, retention=settings.history_retention
        )
        self.sio = Server(async_mode="asgi", logger=False, engineio_logger=False)
        self.chat = Chat(self.sio, self.registry, self.history, self.limits)
        self.chat.register()
        # video calls (issue 3): signaling over the same rooms, ICE servers over HTTP too
        self.ice = IceServers.from_settings(settings)
        self.signaling = Signaling(self.sio, self.registry, self.chat, self.limits, self.ice,
                                   max_call_size=settings.max_call_size,
                                   upload_budget_kbps=settings.upload_budget_kbps)
        self.signaling.register()
        self.lobby = Lobby(self.limits)
        self.pages = Pages(self.registry, self.limits)
        self._tasks: set[asyncio.Task] = set()
        self.engineio = socketio.ASGIApp(self.sio, socketio_path="socket.io")
        self.web = Starlette(
            routes=[
                Route("/", self.pages.home),
                WebSocketRoute("/", self.lobby.serve),
                Route("/r/{room:path}", self.pages.room),
                Route("/api/rooms", self.pages.api_rooms),
                Route("/api/ice-servers", self.ice.endpoint),
                *[Route(path, socket_io_client) for path in SOCKET_IO_CLIENT_FILES],
                Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            ],
            middleware=[Middleware(SecurityHeaders)],
            lifespan=self._lifespan,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path.startswith(SOCKET_IO_PREFIX) and path not in SOCKET_IO_CLIENT_FILES:
            await self.engineio(scope, receive, send)
        else:
            await self.web(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.history.open()
        self._start(self._expire_history_forever(), "videochat-history-expiry")
        try:
            yield
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.history.close()
            log.info("history flushed; stopped")

    async def before_shutdown(self) -> None:
        """Tell every client the server is going away, while their connections are still open."""
        try:
            await self.sio.emit("server_shutdown", {"message": "The server is restarting."})
            await self.lobby.close_all("server shutting down")
            await self._drain_outgoing(timeout=1.0)
        except Exception:
            log.exception("could not tell clients about the shutdown")

    async def _drain_outgoing(self, timeout: float) -> None:
        """Give Engine.IO's per-socket writers a moment to send what is queued (bounded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        sockets = list(self.sio.eio.sockets.values())
        while loop.time() < deadline and any(not s.queue.empty() for s in sockets if not s.closed):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the last frames taken from the queues are being written

    def _start(self, coroutine, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _expire_history_forever(self) -> None:
        interval = max(0.2, min(60.0, self.settings.history_retention / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.history.expire(self.registry.has_room)
            except Exception:
                log.exception("history expiry failed; trying again in %.0f s", interval)


def create_app(settings: Settings | None = None) -> VideochatApp:
    return VideochatApp(settings or Settings().validate())


def create_app_from_env() -> VideochatApp:
    """The factory a reloading child process uses: settings come from VIDEOCHAT_* variables."""
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    return VideochatApp(settings)
