"""The Socket.IO Admin UI, served by videochat itself at /admin/, and the `/admin` namespace it uses.

- Off unless a password is configured: without one `sio.instrument()` is never called, so the
  `/admin` namespace has no handler and python-socketio refuses every connection to it.
- The password is kept only as a salted scrypt hash; a login is checked against it in a worker thread
  (scrypt is slow on purpose) and compared in constant time. Failed logins are braked per address
  (`LoginBrake`): once an address has used up its failures it is refused at once, without hashing.
- While a login is checked the socket is already in the namespace ("pending"): broadcast.py keeps
  pending sockets out of every emit, so nothing of /admin reaches anyone before being let in.
- What the instrumentation tells admins about each socket (`Instrumentation.serialize_socket`) holds
  no Engine.IO session id (with one, anyone could speak as that long-polling client), no cookies and
  no Authorization headers.
- The UI's operations go through the same code as the clients' own events, so the room model
  (rooms.Registry: counts, welcome/bye, room_change) stays right:
  disconnect -> the normal disconnect handler (bye + room_change to the others);
  join -> Rooms.enter_room (welcome + room_change); leave -> Rooms.leave_room (bye + room_change).
  The socket that is moved is not told (the protocol has no event for it): its page finds out when it
  next sends to the room (`not_in_room`). Only sockets of the main namespace `/` can be moved;
  anything refused is logged.
- Admin sockets live in the `/admin` namespace only: they are not members, never counted, never in
  `room_change`, and nothing sent to them reaches ordinary clients.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import hashlib
import hmac
import logging
import math
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from socketio.async_admin import InstrumentedAsyncServer
from socketio.exceptions import ConnectionRefusedError
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from videochat.events.channels import chat_room_name
from videochat.events.realtime import Event, Followup, Server, run_followups
from videochat.events.rooms import Rooms
from videochat.events.sessions import client_address
from videochat.model.errors import UserError
from videochat.model.passwords import LONGEST_PASSWORD, PasswordHash
from videochat.model.ratelimit import KeyedBuckets, Rate
from videochat.model.rooms import Registry
from videochat.ops.metrics import Metrics

log = logging.getLogger(__name__)

ADMIN_NAMESPACE = "/admin"
MAIN_NAMESPACE = "/"

# Content-Security-Policy of the admin pages: everything from this server only. The UI (Vue 2 +
# Vuetify) sets styles from script, hence 'unsafe-inline' for styles and nothing else.
ADMIN_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


# The address of the login being checked: the instrumentation calls `auth` with the credentials alone.
_login_address: contextvars.ContextVar[str] = contextvars.ContextVar("admin_login_address", default="")


class LoginBrake:
    """Failed admin logins per address: a token bucket of `failures` that regains one every
    `interval` seconds. A login that would be hashed takes a token first (so that attempts made at
    once count at once, not when their hashes end) and gets it back when it succeeds; an address with
    no token left is refused without hashing. Buckets that have refilled are forgotten (memory)."""

    def __init__(self, failures: int, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = Rate(1 / interval, failures)
        self.clock = clock
        self._buckets = KeyedBuckets(self.rate)

    def take(self, address: str) -> float:
        """0 when `address` may try (a token is taken), else the seconds until it may."""
        now = self.clock()
        bucket = self._buckets.get(address, now)
        if bucket.take(now):
            return 0.0
        return (1 - bucket.tokens) / self.rate.per_second

    def give_back(self, address: str) -> None:
        bucket = self._buckets.peek(address)
        if bucket is not None:
            bucket.tokens = min(self.rate.burst, bucket.tokens + 1)


class AdminAuth:
    """`check` is the `auth` callable python-socketio's instrumentation calls with what the UI sent.

    It must be a coroutine *function* (a bound async method): the instrumentation awaits the result
    only when `inspect.iscoroutinefunction(auth)`; an object with an async `__call__` would return an
    un-awaited coroutine, which is truthy, and let everybody in.
    """

    def __init__(self, username: str, password: str, metrics: Metrics, brake: LoginBrake) -> None:
        self.username = username
        self.password = PasswordHash(password)
        self.metrics = metrics
        self.brake = brake

    async def check(self, client_auth: Any) -> bool:
        username = client_auth.get("username") if isinstance(client_auth, dict) else None
        password = client_auth.get("password") if isinstance(client_auth, dict) else None
        if password is None:
            # The UI tries its saved address at once, without credentials (python-socketio has no
            # admin sessions to resume); it shows this under the login form. Nothing is hashed.
            self.metrics.admin_logins.labels("refused").inc()
            raise ConnectionRefusedError("enter the user name and password")
        address = _login_address.get()
        wait = self.brake.take(address)
        if wait:
            self.metrics.admin_logins.labels("braked").inc()
            log.warning(
                "admin login refused: too many failures from its address",
                extra={"address": address, "username": _shown(username)},
            )
            # Not "invalid credentials": the UI shows any other message as it is.
            raise ConnectionRefusedError(f"too many failed logins from your address; try again in {math.ceil(wait)} s")
        accepted = False
        if isinstance(username, str) and isinstance(password, str) and len(password) <= LONGEST_PASSWORD:
            # The hash is computed whatever the user name, so a wrong name takes as long as a wrong password.
            password_ok = await asyncio.to_thread(self.password.matches, password)
            accepted = hmac.compare_digest(username.encode()[:LONGEST_PASSWORD], self.username.encode()) and password_ok
        self.metrics.admin_logins.labels("accepted" if accepted else "refused").inc()
        if not accepted:
            log.warning("admin login refused", extra={"address": address, "username": _shown(username)})
            # The UI shows its own "invalid credentials" text for exactly this message.
            raise ConnectionRefusedError("invalid credentials")
        self.brake.give_back(address)
        log.info("admin login", extra={"username": username, "address": address})
        return True


# Request headers an admin is not shown (named as the instrumentation names them): credentials of
# the user's browser, and the WebSocket key.
_PRIVATE_HEADERS = frozenset({"cookie", "authorization", "proxy_authorization", "sec_websocket_key"})


class Instrumentation(InstrumentedAsyncServer):
    """python-socketio's instrumentation for the Admin UI, which tells the login's address to
    `AdminAuth` and shows admins no secret of any socket.

    The library's serialization of a socket holds its Engine.IO session id (`clientId`, and in the
    query of its handshake when it has one): with it, a POST to
    `/socket.io/?transport=polling&sid=...` speaks as a long-polling client. It is replaced by an
    alias (a keyed hash: the same socket keeps its alias, the UI still groups a client's sockets)
    wherever it appears; the user's cookies and Authorization headers are left out; the address is
    the client's (the Engine.IO environ says 127.0.0.1 for everyone)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._alias_key = os.urandom(32)
        super().__init__(*args, **kwargs)

    async def admin_connect(self, sid: str, environ: dict, client_auth: Any) -> Any:
        token = _login_address.set(client_address(environ))
        try:
            return await super().admin_connect(sid, environ, client_auth)
        finally:
            _login_address.reset(token)

    def serialize_socket(self, sid: str, namespace: str, eio_sid: str | None = None) -> dict[str, Any]:
        shown: dict[str, Any] = super().serialize_socket(sid, namespace, eio_sid)
        eio_sid = shown["clientId"]
        alias = hmac.new(self._alias_key, eio_sid.encode(), hashlib.sha256).hexdigest()[:20]
        handshake = shown["handshake"]
        handshake["headers"] = {
            name: value for name, value in handshake["headers"].items() if name not in _PRIVATE_HEADERS
        }
        handshake["query"].pop("sid", None)
        handshake["address"] = client_address(self.sio.environ.get(eio_sid, {}))
        aliased: dict[str, Any] = _replaced(shown, eio_sid, alias)
        return aliased


def _replaced(value: Any, secret: str, alias: str) -> Any:
    """`value` (strings, lists and dicts) with `secret` replaced by `alias` wherever it appears."""
    if isinstance(value, str):
        return value.replace(secret, alias) if secret in value else value
    if isinstance(value, dict):
        return {_replaced(key, secret, alias): _replaced(item, secret, alias) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, secret, alias) for item in value]
    return value


def _shown(value: object) -> object:
    return value[:64] if isinstance(value, str) else None


class AdminOperations:
    """Handlers for what the UI asks (replacing the instrumentation's own, which bypass the room model)."""

    def __init__(self, sio: Server, registry: Registry, rooms: Rooms) -> None:
        self.sio = sio
        self.registry = registry
        self.rooms = rooms

    def register(self) -> None:
        for event, handler in (
            ("_disconnect", self.disconnect),
            ("join", self.join),
            ("leave", self.leave),
            ("emit", self.emit),
        ):
            self.sio.on(event, handler, namespace=ADMIN_NAMESPACE)

    def _targets(self, namespace: Any, room_filter: Any) -> list[str]:
        if room_filter is not None and not isinstance(room_filter, str):
            return []
        return [sid for sid, _ in self.sio.manager.get_participants(namespace, room_filter)]

    async def disconnect(
        self, admin_sid: str, namespace: Any = None, close: Any = None, room_filter: Any = None
    ) -> None:
        if namespace not in (MAIN_NAMESPACE, ADMIN_NAMESPACE):
            log.warning("admin disconnect refused: unknown namespace", extra={"admin": admin_sid})
            return
        for sid in self._targets(namespace, room_filter):
            log.info(
                "admin disconnects a socket",
                extra={"admin": admin_sid, "sid": sid, "namespace": namespace, "nickname": self._nickname(sid)},
            )
            # The server-side disconnect runs the namespace's disconnect handler: bye and room_change.
            await self.sio.disconnect(sid, namespace=namespace)

    async def join(self, admin_sid: str, namespace: Any = None, room: Any = None, room_filter: Any = None) -> None:
        await self._move(admin_sid, "join", namespace, room, room_filter)

    async def leave(self, admin_sid: str, namespace: Any = None, room: Any = None, room_filter: Any = None) -> None:
        await self._move(admin_sid, "leave", namespace, room, room_filter)

    async def _move(self, admin_sid: str, action: str, namespace: Any, room: Any, room_filter: Any) -> None:
        if namespace != MAIN_NAMESPACE:
            log.warning(
                f"admin {action} refused: only sockets of the namespace / are in rooms", extra={"admin": admin_sid}
            )
            return
        # the UI shows the Socket.IO rooms (`#lobby`, channels.chat_room): either that or the room's name
        if isinstance(room, str):
            room = chat_room_name(room) or room
        # what the moves make the others hear (welcome, room_change) goes out once all are made, as
        # after the ack of a client's own event
        followups: list[Followup] = []
        for sid in self._targets(namespace, room_filter):
            # each move is the member's own event, without an ack: it runs the same handler
            event = Event(sid, "enter_room" if action == "join" else "leave_room", followups=followups)
            try:
                if action == "join":
                    await self.rooms.enter_room(event, room)
                else:
                    await self.rooms.leave_room(event, room)
            except UserError as error:
                log.warning(
                    f"admin {action} refused",
                    extra={"admin": admin_sid, "sid": sid, "code": error.code, "reason": error.message},
                )
            except Exception:
                log.exception(f"admin {action} failed", extra={"admin": admin_sid, "sid": sid})
            else:
                log.info(
                    f"admin {action}",
                    extra={"admin": admin_sid, "sid": sid, "room": room, "nickname": self._nickname(sid)},
                )
        await run_followups(f"admin {action}", followups)

    async def emit(
        self, admin_sid: str, namespace: Any = None, room_filter: Any = None, event: Any = None, *data: Any
    ) -> None:
        if namespace != MAIN_NAMESPACE or not isinstance(event, str):
            log.warning("admin emit refused", extra={"admin": admin_sid})
            return
        if room_filter is not None and not isinstance(room_filter, str):
            return
        log.info("admin emit", extra={"admin": admin_sid, "event": event, "to": room_filter})
        # any name the operator chose, not one of the protocol's (events/outgoing.py)
        await self.sio.emit(event, data, to=room_filter, namespace=namespace, undeclared=True)

    def _nickname(self, sid: str) -> str | None:
        member = self.registry.member(sid)
        return member.nickname if member else None


class Admin:
    """Instruments the Socket.IO server when a password is configured; serves the UI's files."""

    def __init__(
        self,
        sio: Server,
        registry: Registry,
        rooms: Rooms,
        metrics: Metrics,
        *,
        username: str,
        password: str | None,
        read_only: bool,
        ui_dir: Path,
        login_failures: int = 10,
        login_interval: float = 60.0,
    ) -> None:
        self.enabled = password is not None
        self.ui_dir = ui_dir
        self.instrumentation = None
        self.auth: AdminAuth | None = None
        if password is None:
            return
        # what sio.instrument() makes, with the changes of Instrumentation
        self.auth = auth = AdminAuth(username, password, metrics, LoginBrake(login_failures, login_interval))
        self.instrumentation = Instrumentation(
            sio, auth=auth.check, mode="development", read_only=read_only, namespace=ADMIN_NAMESPACE
        )
        if not read_only:
            AdminOperations(sio, registry, rooms).register()

    async def shutdown(self) -> None:
        """Stop the instrumentation's stats task at once (its own shutdown waits out a 2 s sleep)."""
        instrumentation = self.instrumentation
        task = instrumentation.stats_task if instrumentation is not None else None
        if instrumentation is not None and task is not None:
            instrumentation.stop_stats_event.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            instrumentation.stats_task = None

    async def refusal(self, request: Request) -> Response | None:
        """An HTTP admin request's answer if its Basic credentials (the admin UI's user name and
        password, braked per address as logins are) do not let it in; None if they do."""
        if self.auth is None:
            return PlainTextResponse("The admin surface is off: no admin password is set.\n", status_code=404)
        username, password = _basic_credentials(request.headers.get("authorization", ""))
        token = _login_address.set(request.client.host if request.client else "")
        try:
            await self.auth.check({"username": username, "password": password} if password is not None else {})
        except ConnectionRefusedError as error:
            status = 429 if "too many" in str(error) else 401
            return PlainTextResponse(
                f"{error}\n", status_code=status, headers={"WWW-Authenticate": 'Basic realm="videochat admin"'}
            )
        finally:
            _login_address.reset(token)
        return None

    async def index(self, request: Request) -> Response:
        if not self.enabled:
            return PlainTextResponse(
                "The admin UI is off: set VIDEOCHAT_ADMIN_PASSWORD or --admin-password-file (docs/operations.md).\n",
                status_code=404,
            )
        index = self.ui_dir / "index.html"
        if not index.is_file():
            return PlainTextResponse("The admin UI is not installed; run the set-up (README).\n", status_code=503)
        html = _served_from_here(index.read_text(encoding="utf-8"))
        return HTMLResponse(html, headers={"Content-Security-Policy": ADMIN_CSP, "Cache-Control": "no-store"})


_EXTERNAL_STYLESHEET = re.compile(r'<link\b[^>]*\bhref="https?://[^"]*"[^>]*>')
_FIRST_SCRIPT = re.compile(r"<script\b")


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or len(encoded) > 4 * LONGEST_PASSWORD:
        return None, None
    try:
        username, colon, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return (username, password) if colon else (None, None)


def _served_from_here(html: str) -> str:
    """The UI's index.html without its links to outside websites (web fonts, icon font).

    The icon font comes from the npm package @mdi/font instead (copied by the set-up); the text font
    falls back to the browser's own. A small script of ours runs first and fills in this server as the
    UI's default address (docs/operations.md).
    """
    html = _EXTERNAL_STYLESHEET.sub("", html)
    head_end = html.index("</head>")
    html = (
        html[:head_end]
        + '<link rel="stylesheet" href="/static/vendor/mdi/css/materialdesignicons.min.css">'
        + html[head_end:]
    )
    match = _FIRST_SCRIPT.search(html)
    position = match.start() if match else html.index("</body>")
    return html[:position] + '<script src="/static/js/admin-defaults.js"></script>' + html[position:]
