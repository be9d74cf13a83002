"""TCP connections: a cap per client address, a deadline for each HTTP request, and the process's
descriptor limit (docs/security.md, "Connections and transports").

uvicorn accepts every connection and waits on it as long as the client likes: it has no timeout for
a request's head (its keep-alive timeout only starts once a response is over) and nothing bounds how
many connections one address holds. Half-sent requests, 10,000 at a time, held as many descriptors
until the process had none left and stopped answering anyone. The protocol classes here are
uvicorn's own, given through its `http=` and `ws=` options, with:

- `AddressCap`: the TCP connections of each client address, counted from accept to close whatever
  they carry (requests, long-polling, WebSockets: an upgraded connection is still the same
  connection, counted once). Over the cap a connection is answered 503 and closed before anything
  is read from it. Trusted proxies are exempt: every client behind one comes from its address (the
  Socket.IO caps still apply to the forwarded address). IPv6 addresses count by /64, the block one
  subscriber usually has (one attacker has that many addresses).
- `GuardedHttpProtocol`: uvicorn's httptools protocol with a request deadline: from the moment the
  connection opens, or a new request on it starts, the whole request (head and body) must arrive
  within `request_timeout` seconds, or the connection is closed. Between requests uvicorn's own
  keep-alive timeout applies; while the app answers (a long-polling GET waits up to 25 s) nothing.
- `GuardedWebSocketProtocol` (fastws's protocol, the fast path) and `GuardedStockWebSocketProtocol`
  (uvicorn's own websockets-sansio protocol, --fast-path off): the same protocol, which gives the
  connection's place back when it closes.

The guard travels on uvicorn's `Config` (`config.connection_guard`), which uvicorn hands to every
protocol it makes, and which a reloading server pickles for its child process.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from videochat.events.identity import address_block, parse_address
from videochat.fastpath.fastws import DirectWebSocketProtocol

log = logging.getLogger(__name__)

_REFUSAL_TEXT = b"Too many connections from your network address.\n"
REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"connection: close\r\nretry-after: 10\r\ncontent-length: %d\r\n\r\n%s" % (len(_REFUSAL_TEXT), _REFUSAL_TEXT)
)


STREAMED_UPLOADS = "/files/"  # PUTs here are held to web/files.py's bounds, not --request-timeout


class AddressCap:
    """How many TCP connections each client address holds; `admit` refuses one over `limit` (0: no
    limit). Pure bookkeeping, keyed by the transport so that a connection is released once, by
    whichever protocol holds it when it closes."""

    def __init__(self, limit: int, exempt: Iterable[str] = ()) -> None:
        self.limit = limit
        self.exempt = [ipaddress.ip_network(network, strict=False) for network in exempt]
        self._count: dict[str, int] = {}
        self._held: dict[Any, str] = {}  # transport -> the key it is counted under
        self.refused = 0

    def key(self, host: str) -> str | None:
        """What `host`'s connections count under (None: not counted)."""
        ip = parse_address(host)
        if ip is None:
            return host  # not an IP address (a Unix socket has no client address at all)
        if any(ip in network for network in self.exempt):
            return None
        return address_block(ip)  # as a ban holds it: an IPv6 client by its /64

    def admit(self, transport: Any, host: str | None) -> bool:
        if not self.limit or host is None or transport in self._held:
            return True
        key = self.key(host)
        if key is None:
            return True
        count = self._count.get(key, 0)
        if count >= self.limit:
            self.refused += 1
            return False
        self._count[key] = count + 1
        self._held[transport] = key
        return True

    def release(self, transport: Any) -> None:
        key = self._held.pop(transport, None)
        if key is None:
            return
        left = self._count[key] - 1
        if left:
            self._count[key] = left
        else:
            del self._count[key]

    def held(self, host: str) -> int:
        key = self.key(host)
        return self._count.get(key, 0) if key is not None else 0


class ConnectionGuard:
    """What the protocols below apply: the cap per address and the request deadline (seconds)."""

    def __init__(self, *, max_per_address: int, request_timeout: float, trusted_proxies: Iterable[str] = ()) -> None:
        self.cap = AddressCap(max_per_address, trusted_proxies)
        self.request_timeout = request_timeout


def guard_of(config: Any) -> ConnectionGuard | None:
    return getattr(config, "connection_guard", None)


def set_guard(config: Any, guard: ConnectionGuard) -> None:
    """Put the guard on uvicorn's Config (an attribute uvicorn does not know, so not a typed one)."""
    config.connection_guard = guard


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, with the connection cap per address and the request deadline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard_of(self.config)
        self.deadline: asyncio.TimerHandle | None = None  # the timer of the request (or the first one) being received

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        guard = self.guard
        if guard is None:
            return
        if not guard.cap.admit(transport, self.client[0] if self.client else None):
            if guard.cap.refused % 100 == 1:  # a flood would otherwise be a log flood
                log.warning(
                    "refused a connection: too many from its address",
                    extra={
                        "address": self.client[0] if self.client else None,
                        "limit": guard.cap.limit,
                        "refused": guard.cap.refused,
                    },
                )
            transport.write(REFUSAL)
            transport.close()
            return
        self._start_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_deadline()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        scope = getattr(self, "scope", None) or {}
        if scope.get("method") == "PUT" and str(scope.get("path", "")).startswith(STREAMED_UPLOADS):
            # a file's bytes take as long as the uploader's line needs (25 MB at 1 Mbit/s: over three
            # minutes): the app bounds them itself, with its ticket, an idle limit and a total one
            # (web/files.py)
            self._stop_deadline()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_deadline()

    def handle_websocket_upgrade(self) -> None:
        self._stop_deadline()  # the request is whole: the WebSocket protocol takes the connection over
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        if self.guard is not None:
            self.guard.cap.release(self.transport)
        super().connection_lost(exc)

    def _start_deadline(self) -> None:
        if self.guard is not None and self.deadline is None and self.guard.request_timeout:
            self.deadline = self.loop.call_later(self.guard.request_timeout, self._too_late)

    def _stop_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _too_late(self) -> None:
        """The request did not arrive whole in time: the connection is closed (a slow or hostile
        client holds a descriptor no longer)."""
        self.deadline = None
        if not self.transport.is_closing():
            cycle: RequestResponseCycle | None = self.cycle  # uvicorn types it never None; it is, before a request
            if cycle is None or (cycle.scope is not self.scope and cycle.response_complete):
                # the head of a new request is unfinished, and nothing of its response was sent
                self.transport.write(b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
            self.transport.close()


class _GivesPlaceBack:
    """A WebSocket protocol whose connection was counted by GuardedHttpProtocol, which handed it over
    at the upgrade: its place is given back when it closes."""

    transport: Any
    config: Any

    def connection_lost(self, exc: Exception | None) -> None:
        transport = self.transport
        super().connection_lost(exc)  # type: ignore[misc]
        guard = guard_of(self.config)
        if guard is not None:
            guard.cap.release(transport)


class GuardedWebSocketProtocol(_GivesPlaceBack, DirectWebSocketProtocol):
    """fastws's WebSocket protocol (the fast path), counted."""


class GuardedStockWebSocketProtocol(_GivesPlaceBack, WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol (--fast-path off), counted."""


def raise_descriptor_limit() -> tuple[int, int]:
    """Raise the soft limit on open files to the hard one (a system call; every connection takes a
    descriptor, and Linux's default soft limit, 1024, is soon reached). (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target
