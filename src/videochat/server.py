"""Running the app under uvicorn: TLS, reload, the start-up line, and a shutdown that tells clients."""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import logging
import os
import signal
import socket
import sys
from typing import Any

import uvicorn

from videochat.app import VideochatApp, create_app
from videochat.connections import (
    ConnectionGuard,
    GuardedHttpProtocol,
    GuardedStockWebSocketProtocol,
    GuardedWebSocketProtocol,
    raise_descriptor_limit,
    set_guard,
)
from videochat.settings import Settings, split_list
from videochat.tls import ensure_self_signed

log = logging.getLogger("videochat")

GRACEFUL_SHUTDOWN_SECONDS = 5  # bounds the wait for long-polling requests in flight
# Python's cycle collector runs after every 700 net allocations and walks every live object of the
# generations it collects; a server with thousands of sockets (each a web of tasks, queues and
# protocol objects) spent ~20% of a churn benchmark there (bench/). What exists at start-up is
# frozen out of the collections, and the young generation is collected less often: cyclic garbage
# may then hold up to ~50,000 objects (a few MB) before it is freed.
GC_THRESHOLDS = (50_000, 50, 100)


class VideochatServer(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        _dump_stacks_on_sigusr1()  # before "listening", which tells a test or supervisor it may ask
        await super().startup(sockets)
        if self.started and self.servers:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            scheme = "https" if self.config.ssl else "http"
            shown = f"[{host}]" if ":" in host else host
            app = _find_app(self.config.loaded_app)
            if app is not None:  # which Socket.IO path serves (--fast-path, docs/internals.md)
                log.info(
                    "Socket.IO served through %s", "the fast path" if app.settings.fast else "the libraries' stock code"
                )
            # last: a test or supervisor that waits for this line finds everything before it in the log
            log.info("listening on %s://%s:%d", scheme, shown, port)
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        log.info("stopping")
        app = _find_app(self.config.loaded_app)
        if app is not None:
            await app.before_shutdown()
        await super().shutdown(sockets)
        # uvicorn re-raises the signal that stopped it once it is done; we have shut down cleanly
        # already, so the process exits 0 instead of dying of SIGTERM or a KeyboardInterrupt.
        getattr(self, "_captured_signals", []).clear()


def _dump_stacks_on_sigusr1() -> None:
    """`kill -USR1` prints where the process is: every thread's stack (even with the event loop
    blocked) and every asyncio task's (when the loop runs), on stderr. For a process that hangs."""
    if not hasattr(signal, "SIGUSR1"):
        return
    loop = asyncio.get_running_loop()

    def tasks() -> None:
        for task in asyncio.all_tasks(loop):
            print(f"--- task {task.get_name()}", file=sys.stderr)
            task.print_stack(limit=12, file=sys.stderr)
        sys.stderr.flush()

    loop.add_signal_handler(signal.SIGUSR1, tasks)
    # after the loop's handler, which it then calls (chain): threads first, tasks when the loop runs
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True, chain=True)


def _find_app(app: Any) -> VideochatApp | None:
    """uvicorn wraps the app in its own middleware; find ours inside."""
    for _ in range(10):
        if isinstance(app, VideochatApp):
            return app
        app = getattr(app, "app", None)
    return None


def run(settings: Settings) -> int:
    trusted = split_list(settings.trusted_proxies)
    ssl: dict[str, Any] = {}
    if settings.self_signed:
        cert, key = ensure_self_signed(settings.data_dir, settings.host)
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    elif settings.tls_cert is not None:
        ssl = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
    common = dict(
        host=settings.host,
        port=settings.port,
        log_config=None,  # our own logging (videochat.logs) is already set up
        access_log=settings.log_level == "debug",
        ws_per_message_deflate=False,  # chat frames are small; deflate costs CPU and memory per socket
        ws_max_size=settings.max_packet_bytes,
        # uvicorn's websockets-sansio, plus direct writes for broadcasts on the fast path
        # (docs/internals.md); both with the cap on connections per address, and HTTP with a
        # deadline for each request (connections.py)
        ws=GuardedWebSocketProtocol if settings.fast else GuardedStockWebSocketProtocol,
        http=GuardedHttpProtocol,
        # Forwarded headers are believed only from listed proxies (uvicorn trusts 127.0.0.1 by default).
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else "",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        lifespan="on",
        **ssl,
    )
    guard = ConnectionGuard(
        max_per_address=settings.max_tcp_connections_per_ip,
        request_timeout=settings.request_timeout,
        trusted_proxies=trusted,
    )
    before, after = raise_descriptor_limit()
    if after != before:
        log.info("open files limit raised from %d to %d", before, after)
    if settings.reload:
        # The reloading child builds the app from VIDEOCHAT_* variables (create_app_from_env).
        os.environ.update(settings.to_env())
        config = uvicorn.Config(
            "videochat.app:create_app_from_env",
            factory=True,
            reload=True,
            reload_dirs=[os.path.dirname(__file__)],
            **common,
        )
        set_guard(config, guard)
        server = VideochatServer(config)
        sock = config.bind_socket()
        uvicorn.supervisors.ChangeReload(config, target=server.run, sockets=[sock]).run()
        return 0
    config = uvicorn.Config(create_app(settings), **common)
    set_guard(config, guard)
    server = VideochatServer(config)
    server.run()
    return 0 if server.started else 1
