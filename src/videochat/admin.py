"""The Socket.IO Admin UI, served by videochat itself at /admin/, and the `/admin` namespace it uses.

- Off unless a password is configured: without one `sio.instrument()` is never called, so the
  `/admin` namespace has no handler and python-socketio refuses every connection to it.
- The password is kept only as a salted scrypt hash; a login is checked against it in a worker thread
  (scrypt is slow on purpose) and compared in constant time.
- The UI's operations go through the same code as the clients' own events, so the room model
  (rooms.Registry: counts, welcome/bye, room_change) stays right:
  disconnect -> the normal disconnect handler (bye + room_change to the others);
  join -> Chat.enter_room (welcome + room_change); leave -> Chat.leave_room (bye + room_change).
  The socket that is moved is not told (the protocol has no event for it): its page finds out when it
  next sends to the room (`not_in_room`). Only sockets of the main namespace `/` can be moved;
  anything refused is logged.
- Admin sockets live in the `/admin` namespace only: they are not members, never counted, never in
  `room_change`, and nothing sent to them reaches ordinary clients.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from pathlib import Path
from typing import Any

import socketio
from socketio.exceptions import ConnectionRefusedError
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from .chat import Chat, chat_room_name
from .errors import UserError
from .metrics import Metrics
from .passwords import LONGEST_PASSWORD, PasswordHash

log = logging.getLogger(__name__)

ADMIN_NAMESPACE = "/admin"
MAIN_NAMESPACE = "/"

# Content-Security-Policy of the admin pages: everything from this server only. The UI (Vue 2 +
# Vuetify) sets styles from script, hence 'unsafe-inline' for styles and nothing else.
ADMIN_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
             "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


class AdminAuth:
    """`check` is the `auth` callable python-socketio's instrumentation calls with what the UI sent.

    It must be a coroutine *function* (a bound async method): the instrumentation awaits the result
    only when `inspect.iscoroutinefunction(auth)`; an object with an async `__call__` would return an
    un-awaited coroutine, which is truthy, and let everybody in.
    """

    def __init__(self, username: str, password: str, metrics: Metrics) -> None:
        self.username = username
        self.password = PasswordHash(password)
        self.metrics = metrics

    async def check(self, client_auth: Any) -> bool:
        username = client_auth.get("username") if isinstance(client_auth, dict) else None
        password = client_auth.get("password") if isinstance(client_auth, dict) else None
        if password is None:
            # The UI tries its saved address at once, without credentials (python-socketio has no
            # admin sessions to resume); it shows this under the login form.
            self.metrics.admin_logins.labels("refused").inc()
            raise ConnectionRefusedError("enter the user name and password")
        accepted = False
        if isinstance(username, str) and isinstance(password, str) and len(password) <= LONGEST_PASSWORD:
            # The hash is computed whatever the user name, so a wrong name takes as long as a wrong password.
            password_ok = await asyncio.to_thread(self.password.matches, password)
            accepted = hmac.compare_digest(username.encode()[:LONGEST_PASSWORD], self.username.encode()) \
                and password_ok
        self.metrics.admin_logins.labels("accepted" if accepted else "refused").inc()
        if not accepted:
            log.warning("admin login refused", extra={"username": _shown(username)})
            # The UI shows its own "invalid credentials" text for exactly this message.
            raise ConnectionRefusedError("invalid credentials")
        log.info("admin login", extra={"username": username})
        return True


def _shown(value: object) -> object:
    return value[:64] if isinstance(value, str) else None


class AdminOperations:
    """Handlers for what the UI asks (replacing the instrumentation's own, which bypass the room model)."""

    def __init__(self, sio: socketio.AsyncServer, chat: Chat) -> None:
        self.sio = sio
        self.chat = chat

    def register(self) -> None:
        for event, handler in (("_disconnect", self.disconnect), ("join", self.join),
                               ("leave", self.leave), ("emit", self.emit)):
            self.sio.on(event, handler, namespace=ADMIN_NAMESPACE)

    def _targets(self, namespace: Any, room_filter: Any) -> list[str]:
        if room_filter is not None and not isinstance(room_filter, str):
            return []
        return [sid for sid, _ in self.sio.manager.get_participants(namespace, room_filter)]

    async def disconnect(self, admin_sid: str, namespace: Any = None, close: Any = None,
                         room_filter: Any = None) -> None:
        if namespace not in (MAIN_NAMESPACE, ADMIN_NAMESPACE):
            log.warning("admin disconnect refused: unknown namespace", extra={"admin": admin_sid})
            return
        for sid in self._targets(namespace, room_filter):
            log.info("admin disconnects a socket", extra={"admin": admin_sid, "sid": sid, "namespace": namespace,
                                                          "nickname": self._nickname(sid)})
            # The server-side disconnect runs the namespace's disconnect handler: bye and room_change.
            await self.sio.disconnect(sid, namespace=namespace)

    async def join(self, admin_sid: str, namespace: Any = None, room: Any = None, room_filter: Any = None) -> None:
        await self._move(admin_sid, "join", namespace, room, room_filter)

    async def leave(self, admin_sid: str, namespace: Any = None, room: Any = None, room_filter: Any = None) -> None:
        await self._move(admin_sid, "leave", namespace, room, room_filter)

    async def _move(self, admin_sid: str, action: str, namespace: Any, room: Any, room_filter: Any) -> None:
        if namespace != MAIN_NAMESPACE:
            log.warning(f"admin {action} refused: only sockets of the namespace / are in rooms",
                        extra={"admin": admin_sid})
            return
        # the UI shows the Socket.IO rooms (`#lobby`, chat.chat_room): either that or the room's name
        if isinstance(room, str):
            room = chat_room_name(room) or room
        for sid in self._targets(namespace, room_filter):
            try:
                if action == "join":
                    await self.chat.enter_room(sid, room)
                else:
                    await self.chat.leave_room(sid, room)
            except UserError as error:
                log.warning(f"admin {action} refused", extra={"admin": admin_sid, "sid": sid, "code": error.code,
                                                              "reason": error.message})
            except Exception:
                log.exception(f"admin {action} failed", extra={"admin": admin_sid, "sid": sid})
            else:
                log.info(f"admin {action}", extra={"admin": admin_sid, "sid": sid, "room": room,
                                                   "nickname": self._nickname(sid)})

    async def emit(self, admin_sid: str, namespace: Any = None, room_filter: Any = None, event: Any = None,
                   *data: Any) -> None:
        if namespace != MAIN_NAMESPACE or not isinstance(event, str):
            log.warning("admin emit refused", extra={"admin": admin_sid})
            return
        if room_filter is not None and not isinstance(room_filter, str):
            return
        log.info("admin emit", extra={"admin": admin_sid, "event": event, "to": room_filter})
        await self.sio.emit(event, data, to=room_filter, namespace=namespace)

    def _nickname(self, sid: str) -> str | None:
        member = self.chat.registry.member(sid)
        return member.nickname if member else None


class Admin:
    """Instruments the Socket.IO server when a password is configured; serves the UI's files."""

    def __init__(self, sio: socketio.AsyncServer, chat: Chat, metrics: Metrics, *, username: str,
                 password: str | None, read_only: bool, ui_dir: Path) -> None:
        self.enabled = password is not None
        self.ui_dir = ui_dir
        self.instrumentation = None
        if password is None:
            return
        self.instrumentation = sio.instrument(
            auth=AdminAuth(username, password, metrics).check, mode="development", read_only=read_only,
            namespace=ADMIN_NAMESPACE)
        if not read_only:
            AdminOperations(sio, chat).register()

    async def shutdown(self) -> None:
        """Stop the instrumentation's stats task at once (its own shutdown waits out a 2 s sleep)."""
        task = self.instrumentation.stats_task if self.instrumentation is not None else None
        if task is not None:
            self.instrumentation.stop_stats_event.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            self.instrumentation.stats_task = None

    async def index(self, request: Request) -> Response:
        if not self.enabled:
            return PlainTextResponse(
                "The admin UI is off: set VIDEOCHAT_ADMIN_PASSWORD or --admin-password-file "
                "(docs/operations.md).\n", status_code=404)
        index = self.ui_dir / "index.html"
        if not index.is_file():
            return PlainTextResponse("The admin UI is not installed; run the set-up (README).\n", status_code=503)
        html = _served_from_here(index.read_text(encoding="utf-8"))
        return HTMLResponse(html, headers={"Content-Security-Policy": ADMIN_CSP, "Cache-Control": "no-store"})


_EXTERNAL_STYLESHEET = re.compile(r'<link\b[^>]*\bhref="https?://[^"]*"[^>]*>')
_FIRST_SCRIPT = re.compile(r"<script\b")


def _served_from_here(html: str) -> str:
    """The UI's index.html without its links to outside websites (web fonts, icon font).

    The icon font comes from the npm package @mdi/font instead (copied by the set-up); the text font
    falls back to the browser's own. A small script of ours runs first and fills in this server as the
    UI's default address (docs/operations.md).
    """
    html = _EXTERNAL_STYLESHEET.sub("", html)
    head_end = html.index("</head>")
    html = (html[:head_end] + '<link rel="stylesheet" href="/static/vendor/mdi/css/materialdesignicons.min.css">'
            + html[head_end:])
    match = _FIRST_SCRIPT.search(html)
    position = match.start() if match else html.index("</body>")
    return html[:position] + '<script src="/static/js/admin-defaults.js"></script>' + html[position:]
