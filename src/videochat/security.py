"""Who may talk to the server: allowed origins, and the security headers every response carries."""

from __future__ import annotations

from typing import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Only the app's own scripts, styles, images and connections; media from the camera (mediastream:)
# and blob: URLs for recorded or generated media; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = "; ".join([
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
])

# Camera, microphone and screen capture for this origin only; everything else that can reach a
# person's devices or location, for nobody.
PERMISSIONS_POLICY = ", ".join([
    "camera=(self)",
    "microphone=(self)",
    "display-capture=(self)",
    "fullscreen=(self)",
    "autoplay=(self)",
    "geolocation=()",
    "payment=()",
    "usb=()",
])

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
