"""Who may talk to the server: the host names it answers to, allowed origins, and the security
headers every response carries."""

from __future__ import annotations

import functools
import ipaddress
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

# Only the app's own scripts, styles, images and connections; media from the camera (mediastream:)
# and blob: URLs for recorded or generated media; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# Camera, microphone and screen capture for this origin only; everything else that can reach a
# person's devices or location, for nobody.
PERMISSIONS_POLICY = ", ".join(
    [
        "camera=(self)",
        "microphone=(self)",
        "display-capture=(self)",
        "fullscreen=(self)",
        "autoplay=(self)",
        "geolocation=()",
        "payment=()",
        "usb=()",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Permissions-Policy": PERMISSIONS_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecurityHeaders:
    """Adds the security headers to every HTTP response (pages, API, static files, Engine.IO).

    A response that sets one of them itself keeps its own (the admin UI's looser CSP).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class OriginPolicy:
    """Browsers may connect from the page's own origin and from an allow-list, nothing else.

    Requests without an Origin header (websocat, Node or Python clients) are not from a browser page
    and are let through: the check exists to stop other web sites from using a visitor's browser.
    The page's own origin is the request's scheme and Host header; behind a reverse proxy the
    scheme comes from X-Forwarded-Proto only when the proxy is trusted (uvicorn rewrites it then).
    """

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed = {normalize_origin(origin) for origin in allowed if origin}

    def allows(self, origin: str | None, scheme: str, host: str | None) -> bool:
        if not origin:
            return True
        origin = normalize_origin(origin)
        if origin in self.allowed:
            return True
        if host is None:
            return False
        return origin == normalize_origin(f"{_browser_scheme(scheme)}://{host}")

    def allows_environ(self, origin: str | None, environ: dict) -> bool:
        """The form python-engineio's `cors_allowed_origins` callable receives.

        Its environ is not to be trusted for the scheme: python-engineio's ASGI driver takes
        `wsgi.url_scheme` from any client's X-Forwarded-Proto and says "http" on HTTPS, so the
        scheme comes from the ASGI scope (which uvicorn sets, and rewrites only for trusted proxies).
        """
        scope = environ.get("asgi.scope") or {}
        return self.allows(origin, scope.get("scheme", "http"), environ.get("HTTP_HOST"))

    def allows_scope(self, scope: Scope) -> bool:
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers", [])}
        return self.allows(headers.get("origin"), scope.get("scheme", "http"), headers.get("host"))


def _browser_scheme(scheme: str) -> str:
    return {"ws": "http", "wss": "https"}.get(scheme, scheme)


def normalize_origin(origin: str) -> str:
    """scheme://host[:port] in lower case, without the default port."""
    parts = urlsplit(origin.strip().lower())
    if not parts.scheme or not parts.hostname:
        return origin.strip().lower()
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return origin.strip().lower()
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


class HostPolicy:
    """The host names the server answers to: its defence against DNS rebinding.

    The Origin check compares a page's origin with the request's own Host. A web site a person
    visits can point its own name at 127.0.0.1 or a LAN address once the page is loaded (DNS
    rebinding): its scripts then reach this server with `Host: their.name` and a matching `Origin`,
    as the same origin, and could enter rooms and read history from that person's browser. So only
    names the server is known by are answered (Django's ALLOWED_HOSTS, Starlette's
    TrustedHostMiddleware); Starlette's middleware is not used because it cannot say "any IP
    literal", log, count, or refuse a WebSocket with 403.

    Always allowed: any IP literal (an address is no name a web site can rebind; the page's origin is
    then the address itself), `localhost`, and the machine's own names (`machine_names`). `allowed`
    adds names and `*.example.com` wildcards (any name below, not example.com itself); `*` answers
    every name (no protection). A request without a Host header is not from a browser and passes.
    """

    def __init__(self, allowed: Iterable[str] = (), machine_names: Iterable[str] = ()) -> None:
        patterns = [_plain_name(pattern) for pattern in allowed if pattern.strip()]
        self.any = "*" in patterns
        self.names = frozenset(
            {
                "localhost",
                *(_plain_name(name) for name in machine_names),
                *(pattern for pattern in patterns if not pattern.startswith("*")),
            }
        )
        self.suffixes = tuple(pattern[1:] for pattern in patterns if pattern.startswith("*."))

    def allows(self, host: str | None) -> bool:
        if not host or self.any:
            return True
        parsed = parse_host(host)
        if parsed is None:
            return False
        name, is_address = parsed
        return is_address or name in self.names or name.endswith(self.suffixes)


@functools.lru_cache(maxsize=256)  # every request asks it, nearly always of the same few names
def parse_host(value: str) -> tuple[str, bool] | None:
    """A Host header's name (lower case, without port or final dot) and whether it is an IP literal;
    None when it is no valid host[:port]."""
    value = value.strip().lower()
    if value.startswith("["):  # an IPv6 literal: [::1] or [::1]:3000
        address, _, port = value[1:].partition("]")
        if port and not _PORT.fullmatch(port):
            return None
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            return None
        return f"[{address}]", True
    name, colon, port = value.partition(":")
    if (colon and not _PORT.fullmatch(":" + port)) or not _NAME.fullmatch(name):
        return None
    name = name.rstrip(".")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name, False
    return name, True


_PORT = re.compile(r":[0-9]{1,5}")
_NAME = re.compile(r"[a-z0-9_.-]{1,253}")


def _plain_name(name: str) -> str:
    return name.strip().lower().rstrip(".")


def machine_names(bind_host: str = "") -> set[str]:
    """The names this machine answers to without configuration: its host name, its first label, and
    `<first label>.local` (phones on a LAN find it by mDNS), and the name it listens on if that is a
    name. Reads no DNS (a broken resolver must not delay the start)."""
    names = set()
    hostname = _plain_name(socket.gethostname())
    if hostname:
        short = hostname.split(".")[0]
        names |= {hostname, short, f"{short}.local"}
    parsed = parse_host(bind_host) if bind_host else None
    if parsed is not None and not parsed[1]:
        names.add(parsed[0])
    return names


class TrustedHosts:
    """Refuses, before anything else is done with it, an HTTP request or WebSocket handshake whose
    Host is not allowed (HostPolicy): 400 with a text that says what to set, a WebSocket 403.

    Called inline by the app rather than wrapped around it: an Engine.IO WebSocket would otherwise
    keep one more suspended coroutine for its whole life (docs/internals.md). Each refused name is
    logged once, at most LOGGED_HOSTS of them per LOG_WINDOW seconds (a client sending a new name
    with every request cannot flood the log or grow the memory); `count(status)` counts every one.
    """

    LOGGED_HOSTS = 100
    LOG_WINDOW = 3600.0

    def __init__(
        self,
        policy: HostPolicy,
        count: Callable[[int], None] = lambda status: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.count = count
        self.clock = clock
        self._logged: set[str] = set()
        self._window_start = clock()
        self._quiet = False

    async def refused(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """True when the request was refused (and answered): the caller does nothing more with it."""
        if self.policy.any or scope["type"] not in ("http", "websocket"):
            return False
        host = next((value.decode("latin-1") for key, value in scope.get("headers", ()) if key == b"host"), None)
        if self.policy.allows(host):
            return False
        shown = (host or "")[:100]
        self._note(shown, scope["type"])
        text = f"Host not allowed: {shown}; list it in --allowed-hosts (docs/security.md).\n"
        if scope["type"] == "http":
            status = 400
            await PlainTextResponse(text, status_code=status, headers=SECURITY_HEADERS)(scope, receive, send)
        else:
            status = 403
            if "websocket.http.response" in scope.get("extensions", {}):
                await PlainTextResponse(text, status_code=status)(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})  # before accepting: 403
        self.count(status)
        return True

    def _note(self, host: str, kind: str) -> None:
        now = self.clock()
        if now - self._window_start >= self.LOG_WINDOW:
            self._logged.clear()
            self._window_start, self._quiet = now, False
        if host in self._logged:
            return
        if len(self._logged) >= self.LOGGED_HOSTS:
            if not self._quiet:
                self._quiet = True
                log.warning(
                    "refused requests for many host names; no more are logged for up to an hour",
                    extra={"logged": len(self._logged)},
                )
            return
        self._logged.add(host)
        log.warning(
            "refused a request for a host name not in --allowed-hosts (a DNS rebinding attempt, or a name to list)",
            extra={"host": host, "kind": kind},
        )
