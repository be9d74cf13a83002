"""Prometheus metrics, owned by one app: its own CollectorRegistry, no module-level metric.

Counters are incremented where things happen (through the methods below); gauges are read from the
live state at each scrape (LiveState), so they cannot drift from the room model. docs/operations.md
lists every metric.

Hooks for the code of calls, which counts what only it knows:
- `metrics.signaling_relayed(kind)` once per relayed signaling message, `kind` one of a fixed set
  ("offer", "answer", "ice", ...) — never a value taken from the client;
- `metrics.count_calls_with(fn)`: `fn()` returns how many calls are in progress; read at each scrape.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Iterator, Sized
from typing import Any, Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from videochat.model.rooms import Registry

log = logging.getLogger(__name__)

# Time to answer an event, in seconds: enter_room reads history (cached, or SQLite on first use).
EVENT_SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.chat_messages = Counter(
            "videochat_chat_messages", "Chat messages accepted and relayed to the others in their room.", registry=r
        )
        self.signaling_messages = Counter(
            "videochat_signaling_messages", "Call signaling messages relayed, by kind.", ["kind"], registry=r
        )
        self.rejected_inputs = Counter(
            "videochat_rejected_inputs", "Socket.IO inputs refused, by error code.", ["reason"], registry=r
        )
        self.event_seconds = Histogram(
            "videochat_event_seconds",
            "Time to answer a Socket.IO event (enter_room included), by event.",
            ["event"],
            buckets=EVENT_SECONDS_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "videochat_http_requests",
            "HTTP requests answered, by route template and status.",
            ["route", "status"],
            registry=r,
        )
        self.admin_logins = Counter(
            "videochat_admin_logins", "Admin UI connection attempts, by result.", ["result"], registry=r
        )
        self.slow_clients_dropped = Counter(
            "videochat_slow_clients_dropped",
            "WebSocket connections dropped because more than --max-outgoing-bytes waited for the client to read.",
            registry=r,
        )
        ProcessCollector(registry=r)  # memory, CPU, open files of this process
        self._count_calls: Callable[[], int] = lambda: 0

    # what the handlers call

    def chat_relayed(self) -> None:
        self.chat_messages.inc()

    def signaling_relayed(self, kind: str) -> None:
        self.signaling_messages.labels(kind).inc()

    def rejected(self, reason: str) -> None:
        self.rejected_inputs.labels(reason).inc()

    def count_calls_with(self, count: Callable[[], int]) -> None:
        """Where the gauge of calls in progress reads its value (the call code registers it)."""
        self._count_calls = count

    def calls_in_progress(self) -> int:
        return self._count_calls()

    # exposition

    def watch(self, live: LiveState) -> None:
        self.registry.register(live)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class Lobby(Protocol):
    """What is counted of the plain WebSocket lobby (web/lobby.py, a layer above this one)."""

    @property
    def clients(self) -> Sized: ...


class LiveState:
    """Gauges read from the live state at scrape time: connections, rooms, members, calls."""

    # sio: the Socket.IO server (events/, a layer above; python-socketio has no types)
    def __init__(self, metrics: Metrics, sio: Any, registry: Registry, lobby: Lobby) -> None:
        self.metrics = metrics
        self.sio = sio
        self.registry = registry
        self.lobby = lobby

    def describe(self) -> list[Metric]:
        return []  # not known before a scrape; keeps registration from calling collect()

    def collect(self) -> Iterator[Metric]:
        by_transport = {"polling": 0, "websocket": 0}
        for sid in self.registry.member_ids():
            try:
                by_transport[self.sio.transport(sid)] += 1
            except (KeyError, TypeError):  # gone between the two looks
                pass
        sockets = GaugeMetricFamily(
            "videochat_socketio_connections",
            "Socket.IO clients connected (admin UI excluded), by current transport "
            "(a client that upgrades moves from polling to websocket).",
            labels=["transport"],
        )
        for transport, count in by_transport.items():
            sockets.add_metric([transport], count)
        yield sockets
        yield GaugeMetricFamily(
            "videochat_lobby_connections", "Plain WebSocket lobby clients connected.", value=len(self.lobby.clients)
        )
        summaries = self.registry.room_summaries()
        yield GaugeMetricFamily(
            "videochat_rooms", "Rooms that exist (a room exists while it has members).", value=len(summaries)
        )
        yield from room_size_gauges([summary["count"] for summary in summaries])
        yield GaugeMetricFamily(
            "videochat_calls_in_progress", "Video calls going on.", value=self.metrics.calls_in_progress()
        )


class SfuState:
    """Gauges of the Janus instances (sfu/instances.py's snapshot), per instance: up, calls,
    publishers, subscribers, the bitrates in and out (sfu/traffic.py). The instance label is "local" or host:port, never a secret."""

    def __init__(self, snapshot: Callable[[], list[dict]]) -> None:
        self.snapshot = snapshot

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        families = {
            "up": GaugeMetricFamily("videochat_janus_up", "1 while the Janus instance answers.", labels=["instance"]),
            "calls": GaugeMetricFamily("videochat_janus_calls", "Calls placed on the instance.", labels=["instance"]),
            "publishers": GaugeMetricFamily(
                "videochat_janus_publishers", "Streams sent to the instance (camera, screen).", labels=["instance"]
            ),
            "subscribers": GaugeMetricFamily(
                "videochat_janus_subscribers", "People receiving from the instance.", labels=["instance"]
            ),
            "received_bps": GaugeMetricFamily(
                "videochat_janus_received_bitrate",
                "Bits per second the instance receives from this server's publishers (a Janus run by "
                "videochat; 0 for one run elsewhere).",
                labels=["instance"],
            ),
            "forwarded_bps": GaugeMetricFamily(
                "videochat_janus_forwarded_bitrate",
                "Bits per second the instance forwards to this server's subscribers (a Janus run by "
                "videochat; 0 for one run elsewhere).",
                labels=["instance"],
            ),
        }
        for instance in self.snapshot():
            families["up"].add_metric([instance["name"]], 1 if instance["healthy"] else 0)
            for key in ("calls", "publishers", "subscribers", "received_bps", "forwarded_bps"):
                families[key].add_metric([instance["name"]], instance[key])
        yield from families.values()


# Rooms are counted by how many members they have, in these ranges (the label values, fixed).
ROOM_SIZE_RANGES = ((1, 1), (2, 2), (3, 5), (6, 10), (11, 50), (51, None))


def room_size_gauges(sizes: list[int]) -> Iterator[Metric]:
    """What an operator needs of the rooms without their names: rooms by size, memberships, the
    largest room. Room names are chosen by users and private rooms are secret (docs/security.md, "`/metrics`"): a label
    per room would publish every name, private ones included, to whoever may scrape."""
    by_size = GaugeMetricFamily(
        "videochat_rooms_by_size",
        "Rooms by their number of members (a range: 1, 2, 3-5, 6-10, 11-50, 51+).",
        labels=["members"],
    )
    for low, high in ROOM_SIZE_RANGES:
        label = str(low) if low == high else f"{low}-{high}" if high else f"{low}+"
        by_size.add_metric([label], sum(1 for size in sizes if size >= low and (high is None or size <= high)))
    yield by_size
    yield GaugeMetricFamily(
        "videochat_room_memberships",
        "Members in rooms, summed over the rooms (a member of two rooms counts twice).",
        value=sum(sizes),
    )
    yield GaugeMetricFamily(
        "videochat_largest_room_members", "Members of the largest room (0 without rooms).", value=max(sizes, default=0)
    )


class HttpMetrics:
    """Counts every HTTP response by route template (bounded labels) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics, route_of: Callable[[Scope], str]) -> None:
        self.app = app
        self.metrics = metrics
        self.route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.http_requests.labels(self.route_of(scope), str(status)).inc()


def route_template(scope: Scope) -> str:
    """The template of the Starlette route that answered (`/r/{room:path}`), never the raw path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MetricsEndpoint:
    """GET /metrics, behind a bearer token when one is configured."""

    def __init__(self, metrics: Metrics, token: str | None) -> None:
        self.metrics = metrics
        # Only a digest is kept; comparing digests takes the same time whatever the guess.
        self._token_digest = hashlib.sha256(token.encode()).digest() if token else None

    async def serve(self, request: Request) -> Response:
        if self._token_digest is not None and not self._authorized(request.headers.get("authorization", "")):
            return PlainTextResponse(
                "A bearer token is needed: Authorization: Bearer <token>.\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="videochat metrics"'},
            )
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(hashlib.sha256(token.strip().encode()).digest(), self._token_digest or b"")
