"""create_app(settings): the whole server as one ASGI application.

`/socket.io/` goes to python-socketio (Engine.IO 4, websocket and long-polling); everything else,
the Socket.IO browser client included, to Starlette. The Starlette lifespan owns the database and
the background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Coroutine
from typing import Any

import socketio
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from videochat.cluster.recordings import SharedRecordings
from videochat.cluster.sfu import SharedSfu
from videochat.cluster.sync import PROCS, Cluster
from videochat.events.ice import IceServers
from videochat.events.identity import BrowserIds
from videochat.events.realtime import Server
from videochat.events.wiring import EventHandlers
from videochat.fastpath.manager import LocalManager
from videochat.model.access import Access
from videochat.model.ratelimit import Limiter
from videochat.model.rooms import Registry
from videochat.model.validation import Limits
from videochat.ops.health import Health
from videochat.ops.logs import configure_logging
from videochat.ops.metrics import HttpMetrics, LiveState, Metrics, MetricsEndpoint, SfuState, route_template
from videochat.settings import Settings, split_list
from videochat.sfu.instances import Instances
from videochat.sfu.local import LocalConfig, LocalJanus
from videochat.storage.base import History
from videochat.storage.history import HistoryStore
from videochat.storage.redis_history import RedisHistory
from videochat.storage.uploads import Uploads
from videochat.transport.manager import ConnectedOnly
from videochat.web.admin import Admin
from videochat.web.files import FileRoutes
from videochat.web.lobby import Lobby
from videochat.web.pages import SOCKET_IO_CLIENT_FILES, STATIC_DIR, VENDOR_DIR, PageConfig, Pages, socket_io_client
from videochat.web.recordings import RecordingRoutes
from videochat.web.security import HostPolicy, OriginPolicy, SecurityHeaders, TrustedHosts, machine_names

log = logging.getLogger(__name__)

SOCKET_IO_PREFIX = "/socket.io/"


class VideochatApp:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.limits = Limits(settings.max_room_name, settings.max_nickname, settings.max_message)
        # several processes as one (--redis): a shared channel, state and history in Redis
        self.cluster = (
            Cluster(settings.redis, heartbeat=settings.redis_heartbeat, fast_path=settings.fast)
            if settings.redis
            else None
        )
        # one process keeps room policies with its history, in SQLite (_keep_policy)
        self.sqlite_history: HistoryStore | None = None
        if self.cluster is not None:
            self.registry = Registry(clock=self.cluster.clock)
            self.history: History = RedisHistory(
                self.cluster.bus,
                size=settings.history_size,
                retention=settings.history_retention,
                max_bytes=settings.history_max_bytes,
            )
        else:
            self.registry = Registry()
            self.history = self.sqlite_history = HistoryStore(
                settings.database_path,
                size=settings.history_size,
                retention=settings.history_retention,
                max_bytes=settings.history_max_bytes,
            )
        self.metrics = Metrics()
        self.limiter = Limiter(
            settings.rates(),
            address_factor=settings.ip_rate_factor,
            max_connections_per_address=settings.max_connections_per_ip,
        )
        self.origins = OriginPolicy(split_list(settings.allowed_origins))
        # the names it answers to (DNS rebinding, docs/security.md); refusals are counted as HTTP
        # requests answered by the route "host_not_allowed"
        self.hosts = TrustedHosts(
            HostPolicy(split_list(settings.allowed_hosts), machine_names(settings.host)),
            count=lambda status: self.metrics.http_requests.labels(HOST_NOT_ALLOWED, str(status)).inc(),
        )
        self.sio = Server(
            async_mode="asgi",
            logger=False,
            engineio_logger=False,
            metrics=self.metrics,
            limiter=self.limiter,
            cors_allowed_origins=self.origins.allows_environ,
            max_http_buffer_size=settings.max_packet_bytes,
            # one process: broadcasts framed once and written to each WebSocket directly, or the
            # library's manager (--fast-path off); several: the same behind the Redis channel
            client_manager=self.cluster.bus if self.cluster else LocalManager() if settings.fast else ConnectedOnly(),
            fast_path=settings.fast,
            max_outgoing_bytes=settings.max_outgoing_bytes,
            handshake_timeout=settings.handshake_timeout,
        )
        self.access = Access()
        self.identities = BrowserIds()  # its secret is read at start (_lifespan)
        if self.cluster is None:  # one process: policies are kept with the history (several: in Redis)
            self.access.on_change = self._keep_policy
        # video calls: signaling over the same rooms; TURN credentials to call participants only
        self.ice = IceServers.from_settings(settings)
        self.instances = self._janus_instances(settings)
        # the chat's files: a file lives as long as its message is in the history (storage/uploads.py)
        self.uploads = Uploads(
            settings.uploads_path, max_bytes=settings.uploads_max_bytes, grace=min(60.0, settings.history_retention)
        )
        self.events = EventHandlers(
            self.sio,
            settings,
            registry=self.registry,
            access=self.access,
            history=self.history,
            limits=self.limits,
            limiter=self.limiter,
            identities=self.identities,
            ice=self.ice,
            uploads=self.uploads,
            instances=self.instances,
        )
        if self.cluster is not None:
            self.cluster.attach(self.registry, self.access, self.history, self.events.room_list, self.events.departures)
            self.sio.before_ack = self.cluster.bus.flush
            if self.events.sfu is not None:  # every process agrees where each call on the SFU lives
                self.cluster.sfu = self.events.sfu.shared = SharedSfu(
                    self.cluster.pid, self.cluster.bus, self.cluster.redis
                )
                self.cluster.sfu.sfu = self.events.sfu
                # and on who records: the recording's folder must be one they all reach (recording.md)
                self.cluster.recordings = SharedRecordings(
                    self.cluster.pid, self.cluster.bus, self.cluster.redis, PROCS
                )
                self.cluster.recordings.recordings = self.events.recordings
                self.events.recordings.shared = self.cluster.recordings
                self.events.sfu.calls.file_tag = "p" + self.cluster.pid[:8]
        self.metrics.count_calls_with(self.registry.count_calls)
        self.lobby = Lobby(self.limits, self.limiter, self.origins)
        self._init_operations(settings)
        page_config = PageConfig(
            self.limits,
            self.events.policy.cap(self.instances is not None),
            settings.upload_budget_kbps,
            settings.max_upload_bytes,
            settings.last_n,
            recording=self.instances is not None,
        )
        self.pages = Pages(self.events.room_list.public, page_config)
        self.files = FileRoutes(self.events.files, self.events.chat, self.uploads, self.identities, self.registry)
        self._tasks: set[asyncio.Task] = set()
        self.recordings = RecordingRoutes(self.events.recordings, self.identities, self.admin)
        self.engineio = socketio.ASGIApp(self.sio, socketio_path="socket.io")
        self.web = Starlette(
            routes=[
                Route("/", self.pages.home),
                WebSocketRoute("/", self.lobby.serve),
                Route("/r/{room:path}", self.pages.room),
                Route("/api/rooms", self.pages.api_rooms),
                *self.files.routes(),
                *self.recordings.routes(),
                *[Route(path, socket_io_client) for path in SOCKET_IO_CLIENT_FILES],
                Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
                *self._operations_routes(),
            ],
            lifespan=self._lifespan,
        )
        # every response gets the security headers (a response that sets its own, such as the
        # admin UI's looser CSP, keeps them) and is counted
        self._outer = SecurityHeaders(HttpMetrics(self._dispatch, self.metrics, _route_label))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self.hosts.refused(scope, receive, send):  # first: every page, file and transport
            return
        if scope["type"] == "websocket" and scope["path"].startswith(SOCKET_IO_PREFIX):
            # An Engine.IO WebSocket: what the middleware and the ASGI adapters below would do
            # (nothing for WebSockets: headers and counts are for HTTP) is skipped, because every
            # coroutine of the chain stays suspended for the connection's life (memory per idle
            # connection, docs/internals.md).
            await self.sio.eio.handle_request(scope, receive, send)
            return
        await self._outer(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path.startswith(SOCKET_IO_PREFIX) and path not in SOCKET_IO_CLIENT_FILES:
            if _asks_for_jsonp(scope):
                await JSONP_REFUSED(scope, receive, send)
                return
            await self.engineio(scope, receive, send)
        else:
            await self.web(scope, receive, send)

    # operations: admin UI, health, metrics (docs/operations.md)

    def _init_operations(self, settings: Settings) -> None:
        self.health = Health()
        if self.cluster is not None:
            self.health.add_check("redis", self.cluster.check)  # history lives there too
        else:
            self.health.add_check("storage", self.history.ping)
        if self.instances is not None:
            self.health.add_check("sfu", self.instances.check)
            self.metrics.registry.register(SfuState(self.instances.snapshot))
        self.metrics.watch(LiveState(self.metrics, self.sio, self.registry, self.lobby))
        self.metrics_endpoint = MetricsEndpoint(self.metrics, settings.metrics_secret())
        self.admin = Admin(
            self.sio,
            self.registry,
            self.events.rooms,
            self.metrics,
            username=settings.admin_username,
            password=settings.admin_secret(),
            read_only=settings.admin_read_only,
            ui_dir=VENDOR_DIR / "admin-ui",
            login_failures=settings.admin_login_failures,
            login_interval=settings.admin_login_interval,
        )

    def _janus_instances(self, settings: Settings) -> Instances | None:
        """The Janus instances calls may move to (docs/sfu.md), or None: calls stay peer to peer."""
        if settings.janus == "off" or settings.sfu_from == 0:
            return None
        if settings.janus_urls:
            return Instances.remote(settings.janus_urls, settings.janus_remote_secret())
        if self.cluster is not None:
            # a Janus each process would run for itself cannot carry a call whose people are spread
            # over the processes: they share Janus instances run elsewhere
            log.warning("with --redis the SFU needs --janus URL (docs/sfu.md): calls stay peer to peer")
            return None
        if not LocalJanus.available():
            log.warning("the janus program is not installed (bash scripts/setup installs it): calls stay peer to peer")
            return None
        folder = settings.data_dir / "janus" / "local"
        return Instances.of_local(LocalJanus(LocalConfig(folder, settings.janus_rtp_range, settings.janus_public_ip)))

    def _operations_routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = [
            Route("/healthz", self.health.healthz),
            Route("/readyz", self.health.readyz),
            Route("/metrics", self.metrics_endpoint.serve),
            Route("/admin/", self.admin.index),
        ]
        if self.admin.enabled:  # the UI's own files, from npm's @socket.io/admin-ui (scripts/setup)
            routes.append(Mount("/admin", StaticFiles(directory=self.admin.ui_dir, check_dir=False), name="admin"))
        return routes

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.history.open()
        if self.cluster is not None:
            await self.cluster.start(self.sio)
            # every process signs browser ids with the same secret, kept in Redis
            if not await self.identities.open_redis(self.cluster.redis):
                self._start(self.identities.keep_trying_redis(self.cluster.redis), "videochat-browser-id-secret")
        else:
            await asyncio.to_thread(self.identities.open_file, self.settings.data_dir)
            assert self.sqlite_history is not None
            for room, policy in (await self.sqlite_history.policies()).items():
                self.access.apply(("policy", room, policy))
            for room, key, until, since in await self.sqlite_history.bans(time.time()):
                self.access.apply(("ban", room, key, until, since))
        takes_files = self.settings.max_upload_bytes > 0
        if takes_files:
            await self.uploads.open()
        self._start(self._expire_history_forever(takes_files), "videochat-history-expiry")
        if self.instances is not None:
            await self.instances.start()
        await self.events.recordings.open()
        try:
            yield
        finally:
            await _step("recordings", self.events.recordings.close())
            if self.instances is not None:
                await _step("Janus", self.instances.stop())
            for task in self._tasks:
                task.cancel()
            await _step("background tasks", asyncio.gather(*self._tasks, return_exceptions=True))
            self.events.room_list.close()
            await _step("Admin UI", self.admin.shutdown())
            await _step("history", self.history.close())
            if self.cluster is not None:
                await _step("cluster", self.cluster.stop())
            log.info("history flushed; stopped")

    async def before_shutdown(self) -> None:
        """Tell every client the server is going away, while their connections are still open."""
        try:
            # this process's clients (ignore_queue: not through Redis); the others' stay connected
            await self.sio.emit("server_shutdown", {"message": "The server is restarting."}, ignore_queue=True)
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

    def _start(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep_policy(self, change: tuple) -> None:
        """Access changes (one process): a room's policy goes to the database with its history, so
        that a locked room whose history outlives a restart stays locked; bans are kept until they
        end, so that a restart does not let a removed member back in."""
        if self.sqlite_history is None:
            return
        if change[0] == "policy":
            _, room, policy = change
            self.sqlite_history.save_policy(room, policy)
        elif change[0] == "ban":
            _, room, key, until, since = change
            self.sqlite_history.save_ban(room, key, until, since)

    async def _expire_history_forever(self, files: bool) -> None:
        interval = max(0.2, min(60.0, self.settings.history_retention / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.history.expire(self.registry.has_room)
                await self.events.departures.release_unused_rooms()  # a locked room's lock lasts as long as its history
                if files:  # a file goes with its message
                    await self.uploads.sweep(self._message_ids)
            except Exception:
                log.exception("history expiry failed; trying again in %.0f s", interval)

    async def _message_ids(self, room: str) -> set[str]:
        return {message["id"] for message in await self.history.recent(room)}


STOP_STEP_SECONDS = 5.0  # each step of the shutdown; a stuck one is named in the log and skipped


async def _step(name: str, step: Awaitable[Any]) -> None:
    """One step of the shutdown, bounded: a process that hangs while stopping is worse than one
    that leaves something undone (a supervisor would kill it, with nothing in the log)."""
    try:
        await asyncio.wait_for(step, STOP_STEP_SECONDS)
    except TimeoutError:
        log.warning("stopping: %s did not finish within %.0f s; going on without it", name, STOP_STEP_SECONDS)
    except Exception:
        log.exception("stopping: %s failed", name)


HOST_NOT_ALLOWED = "host_not_allowed"  # the route label of requests refused for their Host
# Engine.IO's JSONP long-polling (`j=` in the query) answers with a script, `___eio[n]("...")`, that
# any page may load with a <script> tag, which sends no Origin: the Origin check cannot see it. The
# client never uses it, so it is refused.
JSONP_REFUSED = PlainTextResponse("JSONP long-polling is not supported.\n", status_code=400)


def _asks_for_jsonp(scope: Scope) -> bool:
    # read as python-engineio reads it (parse_qs decodes %6A to j)
    query = scope.get("query_string", b"").decode("utf-8", "replace")
    return "j" in urllib.parse.parse_qs(query, keep_blank_values=True)


def _route_label(scope: Scope) -> str:
    if scope.get("path", "").startswith(SOCKET_IO_PREFIX) and "route" not in scope:
        return SOCKET_IO_PREFIX  # Engine.IO long-polling
    return route_template(scope)


def create_app(settings: Settings | None = None) -> VideochatApp:
    return VideochatApp(settings or Settings().validate())


def create_app_from_env() -> VideochatApp:
    """The factory a reloading child process uses: settings come from VIDEOCHAT_* variables."""
    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format, sensitive=settings.log_sensitive)
    return VideochatApp(settings)
