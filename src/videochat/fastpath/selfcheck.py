"""The start-up check of the library internals videochat relies on (docs/internals.md).

videochat overrides or reads private members of python-socketio, python-engineio, uvicorn and
websockets. pyproject.toml and requirements/*.lock pin the versions those were checked with, but an
install may still bring others; an internal that is gone or changed shape would then fail somewhere
deep, on the first connection, or worse, quietly. Before serving, `refusal()` looks for every
internal of `INTERNALS` (the class or module, the attribute, the leading parameters of a method)
and, when one is missing, returns the message the server refuses to start with: which internal, of
which installed version, used for what, and what to do (`--fast-path off` when only the fast path
needs it; otherwise the locked versions).

`INTERNALS` is also the table of docs/internals.md (tests/test_selfcheck.py holds them equal).
Nothing here imports the rest of videochat: the check runs before any of it is loaded.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
from dataclasses import dataclass
from typing import Any

FAST = "fast"  # needed with --fast-path on only
BOTH = "both"  # needed on both paths


@dataclass(frozen=True)
class Internal:
    library: str  # the distribution, as pip names it
    owner: str  # the module, or module:Class, that has it
    name: str  # the attribute; `table[key]` for a key of a dict attribute
    used_by: str  # where videochat uses it, and for what
    path: str = FAST
    params: tuple[str, ...] = ()  # a method's first parameters (after self), in order

    @property
    def where(self) -> str:
        return f"{self.owner.replace(':', '.')}.{self.name}"


_SIO, _EIO, _UVICORN, _WS = "python-socketio", "python-engineio", "uvicorn", "websockets"
_SERVER = "socketio.async_server:AsyncServer"
_MANAGER = "socketio.async_manager:AsyncManager"
_PUBSUB = "socketio.async_pubsub_manager:AsyncPubSubManager"
_ADMIN = "socketio.async_admin:InstrumentedAsyncServer"
_ENGINE = "engineio.async_server:AsyncServer"
_SOCKET = "engineio.async_socket:AsyncSocket"
_ASGI_WS = "engineio.async_drivers.asgi:WebSocket"
_UV_WS = "uvicorn.protocols.websockets.websockets_sansio_impl:WebSocketsSansIOProtocol"
_UV_HTTP = "uvicorn.protocols.http.httptools_impl:HttpToolsProtocol"
_UV_CYCLE = "uvicorn.protocols.http.httptools_impl:RequestResponseCycle"
_UV_SERVER = "uvicorn.server:Server"
_WS_PROTOCOL = "websockets.protocol:Protocol"

INTERNALS: tuple[Internal, ...] = (
    # transport/socketio_server.py: the protocol's acks, errors and refusals (both paths)
    Internal(_SIO, _SERVER, "_engineio_server_class", "transport/socketio_server.py: picks the Engine.IO server", BOTH),
    Internal(
        _SIO,
        _SERVER,
        "_handle_eio_connect",
        "transport/socketio_server.py: the handshake deadline starts",
        BOTH,
        ("eio_sid", "environ"),
    ),
    Internal(
        _SIO,
        _SERVER,
        "_handle_disconnect",
        "transport/socketio_server.py: a session left without a namespace",
        BOTH,
        ("eio_sid", "namespace", "reason"),
    ),
    Internal(
        _SIO,
        _SERVER,
        "_handle_eio_message",
        "transport/socketio_server.py: binary refused, malformed packets close the connection, events on / decoded once",
        BOTH,
        ("eio_sid", "data"),
    ),
    Internal(
        _SIO,
        _SERVER,
        "_handle_event",
        "transport/socketio_server.py: reserved event names refused, relays run inline",
        BOTH,
        ("eio_sid", "namespace", "id", "data"),
    ),
    Internal(
        _SIO,
        _SERVER,
        "_handle_event_internal",
        "transport/socketio_server.py: ack requested or not, follow-ups after the ack, rate limits",
        BOTH,
        ("server", "sid", "eio_sid", "data", "namespace", "id"),
    ),
    Internal(
        _SIO,
        _SERVER,
        "_trigger_event",
        "transport/socketio_server.py: handlers not registered through event_handler",
        BOTH,
        ("event", "namespace"),
    ),
    Internal(
        _SIO, _SERVER, "_send_packet", "transport/socketio_server.py: an ack with binary data", BOTH, ("eio_sid", "pkt")
    ),
    Internal(_SIO, _SERVER, "not_handled", "transport/socketio_server.py: no handler, no ack", BOTH),
    Internal(
        _SIO, _SERVER, "manager_initialized", "cluster/sync.py: the Redis channel before the first connection", BOTH
    ),
    Internal(_SIO, _MANAGER, "pending_connect", "transport/manager.py: sockets not let in yet receive nothing", BOTH),
    Internal(
        _SIO,
        _PUBSUB,
        "_publish",
        "storage/bus.py: the library's messages go through the ordered outbox",
        BOTH,
        ("data",),
    ),
    Internal(_SIO, _PUBSUB, "_listen", "storage/bus.py: our messages on the library's channel", BOTH),
    Internal(_SIO, _PUBSUB, "host_id", "storage/bus.py: our own messages are not applied twice", BOTH),
    Internal(
        _SIO,
        _ADMIN,
        "serialize_socket",
        "web/admin.py: no session id, cookie or header shown to admins",
        BOTH,
        ("sid", "namespace", "eio_sid"),
    ),
    Internal(
        _SIO,
        _ADMIN,
        "admin_connect",
        "web/admin.py: the login's address for the login brake",
        BOTH,
        ("sid", "environ", "client_auth"),
    ),
    Internal(_SIO, _ADMIN, "stats_task", "web/admin.py: the stats task stopped at once on shutdown", BOTH),
    Internal(
        _SIO,
        _SERVER,
        "_send_eio_packet",
        "fastpath/broadcast.py: recipients that do not write directly",
        FAST,
        ("eio_sid", "eio_pkt"),
    ),
    Internal(
        _SIO,
        _MANAGER,
        "basic_enter_room",
        "fastpath/manager.py: each socket's rooms indexed",
        FAST,
        ("sid", "namespace", "room", "eio_sid"),
    ),
    Internal(_SIO, _MANAGER, "basic_leave_room", "fastpath/manager.py", FAST, ("sid", "namespace", "room")),
    Internal(
        _SIO,
        _MANAGER,
        "basic_disconnect",
        "fastpath/manager.py: leaves the indexed rooms only",
        FAST,
        ("sid", "namespace"),
    ),
    Internal(_SIO, _MANAGER, "callbacks", "fastpath/manager.py: what basic_disconnect clears", FAST),
    Internal(_SIO, _MANAGER, "pending_disconnect", "fastpath/manager.py: what basic_disconnect clears", FAST),
    # python-engineio
    Internal(
        _EIO, _ENGINE, "_async", "fastpath/directio.py: the server's driver table, its WebSocket driver replaced", FAST
    ),
    Internal(
        _EIO,
        "engineio.async_drivers.asgi",
        "_async[websocket]",
        "fastpath/directio.py: the driver DirectWebSocket replaces",
        FAST,
    ),
    Internal(_EIO, _ASGI_WS, "asgi_send", "fastpath/directio.py: DirectWebSocket extends the ASGI driver", FAST),
    Internal(_EIO, _SOCKET, "_send_ping", "fastpath/directio.py: pings in Rounds, not a task per socket", FAST),
    Internal(
        _EIO,
        _SOCKET,
        "_websocket_handler",
        "fastpath/directio.py: the socket behind the driver (its handler's __self__)",
        FAST,
        ("ws",),
    ),
    Internal(_EIO, _SOCKET, "last_ping", "fastpath/directio.py: the pong check; the ping timeout", FAST),
    Internal(_EIO, _SOCKET, "upgrading", "fastpath/directio.py: the upgrade from long-polling", FAST),
    Internal(_EIO, _SOCKET, "upgraded", "transport/engine.py: a WebSocket's writer is told to close it", BOTH),
    Internal(
        _EIO,
        _SOCKET,
        "close",
        "transport/engine.py: sessions too slow or without a namespace closed",
        BOTH,
        ("wait", "abort", "reason"),
    ),
    # uvicorn
    Internal(_UVICORN, _UV_WS, "handle_connect", "fastpath/fastws.py: the Wire in the scope", FAST, ("event",)),
    Internal(_UVICORN, _UV_WS, "send_receive_event_to_app", "fastpath/fastws.py: no pause per message", FAST),
    Internal(_UVICORN, _UV_WS, "handle_pong", "fastpath/fastws.py: pongs parsed here", FAST, ("event",)),
    Internal(_UVICORN, _UV_WS, "handle_parser_exception", "fastpath/fastws.py: invalid UTF-8 closes", FAST),
    Internal(_UVICORN, _UV_WS, "queue", "fastpath/fastws.py: the receive queue replaced (Inbox)", FAST),
    Internal(_UVICORN, _UV_WS, "writable", "fastpath/fastws.py: the writable event replaced (Flag)", FAST),
    Internal(_UVICORN, _UV_WS, "frames", "fastpath/fastws.py: the fragments of a message", FAST),
    Internal(_UVICORN, _UV_WS, "curr_msg_data_type", "fastpath/fastws.py", FAST),
    Internal(_UVICORN, _UV_WS, "conn", "fastpath/fastws.py: websockets' protocol object", FAST),
    Internal(_UVICORN, _UV_WS, "close_sent", "fastpath/fastws.py: nothing written after the close", FAST),
    Internal(_UVICORN, _UV_WS, "close_timer", "fastpath/fastws.py: the close handshake's deadline", FAST),
    Internal(_UVICORN, _UV_WS, "read_paused", "fastpath/fastws.py: reading paused at 64 messages", FAST),
    Internal(_UVICORN, _UV_WS, "ping_interval", "fastpath/fastws.py: no keepalive pings on Engine.IO WebSockets", FAST),
    Internal(_UVICORN, _UV_HTTP, "on_message_begin", "connections.py: the request deadline", BOTH),
    Internal(_UVICORN, _UV_HTTP, "on_message_complete", "connections.py: the request deadline", BOTH),
    Internal(_UVICORN, _UV_HTTP, "handle_websocket_upgrade", "connections.py: the deadline ends at the upgrade", BOTH),
    Internal(_UVICORN, _UV_HTTP, "cycle", "connections.py: a 408 only before any response", BOTH),
    Internal(_UVICORN, _UV_CYCLE, "response_complete", "connections.py: a 408 only before any response", BOTH),
    Internal(_UVICORN, _UV_SERVER, "_captured_signals", "server.py: exit 0 after a clean shutdown", BOTH),
    # websockets
    Internal(_WS, _WS_PROTOCOL, "parse", "fastpath/fastws.py: a parser made again past the handshake", FAST),
    Internal(_WS, _WS_PROTOCOL, "parser", "fastpath/fastws.py: the parser dropped at the accept", FAST),
    Internal(_WS, "websockets.speedups", "apply_mask", "fastpath/fastws.py: frames unmasked in C", BOTH),
)


@functools.cache
def _source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return ""


def _has(owner: object, name: str) -> bool:
    """Whether `owner` has the attribute, as a class attribute or one its (or a base's) code
    assigns to `self` (instance attributes exist only once an instance is made)."""
    if hasattr(owner, name):
        return True
    if isinstance(owner, type):
        return any(f"self.{name} =" in _source(cls) or f"self.{name}:" in _source(cls) for cls in owner.__mro__)
    return False


def _original(owner: object, name: str) -> Any:
    """The attribute as the library defines it. python-socketio's Admin UI instrumentation replaces
    some of python-engineio's methods on their class while it runs, keeping the original under a
    name-mangled attribute (`_<Class>__<name>`): that original is what the fast path relies on."""
    if isinstance(owner, type):
        for attribute, value in vars(owner).items():
            if attribute.endswith("__" + name.lstrip("_")) and attribute != name:
                return value
    return getattr(owner, name)


def problem(internal: Internal, owner: object) -> str | None:
    """What is wrong with `internal` on `owner` (the class or module it belongs to); None: all there."""
    name, key = internal.name, None
    if name.endswith("]"):
        name, key = name[:-1].split("[", 1)
    if not _has(owner, name):
        return "is missing"
    if key is not None:
        table = getattr(owner, name, None)
        return None if isinstance(table, dict) and key in table else f"has no {key!r} entry"
    if internal.params:
        try:
            parameters = list(inspect.signature(_original(owner, name)).parameters)
        except (TypeError, ValueError):
            return "is not a function"
        if parameters[:1] == ["self"]:
            parameters = parameters[1:]
        if parameters[: len(internal.params)] != list(internal.params):
            return f"takes ({', '.join(parameters)}), not ({', '.join(internal.params)}, ...)"
    return None


def resolve(owner: str) -> object:
    """The module, or module:Class, named by `owner`; ImportError/AttributeError when it is gone."""
    module, _, cls = owner.partition(":")
    found: object = importlib.import_module(module)
    return getattr(found, cls) if cls else found


def problems(*, fast_path: bool) -> list[tuple[Internal, str]]:
    """Every internal the chosen path needs that the installed libraries lack, with what is wrong."""
    found = []
    for internal in INTERNALS:
        if internal.path == FAST and not fast_path:
            continue
        try:
            owner = resolve(internal.owner)
        except (ImportError, AttributeError) as error:
            found.append((internal, f"cannot be looked up ({error})"))
            continue
        wrong = problem(internal, owner)
        if wrong is not None:
            found.append((internal, wrong))
    return found


def _version(library: str) -> str:
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def refusal(*, fast_path: bool) -> str | None:
    """The message to refuse to start with, or None when every internal needed is there."""
    found = problems(fast_path=fast_path)
    if not found:
        return None
    lines = [
        f"{internal.library} {_version(internal.library)}: {internal.where} {wrong}; "
        f"videochat uses it in {internal.used_by}"
        for internal, wrong in found
    ]
    if fast_path and all(internal.path == FAST for internal, _ in found):
        advice = (
            "Start with --fast-path off (VIDEOCHAT_FAST_PATH=off) to serve through the libraries' stock code, "
            "or install the locked versions (requirements/app.lock, bash scripts/setup)."
        )
    else:
        advice = (
            "Install the locked versions (requirements/app.lock, bash scripts/setup); docs/internals.md lists them."
        )
    return "refusing to start: an installed library lacks an internal videochat relies on:\n  " + (
        "\n  ".join(lines) + "\n" + advice
    )
