from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
import pytest_asyncio

from redis_server import ProcessGroup, RedisServer
from support import ADMIN_PASSWORD, SHARED_ADDRESS, Recorder, ServerProcess
from turn import TurnServer
from watchdog import Watchdog


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Watchdog(), "videochat-watchdog")


# Tests whose media goes through Janus run in a network namespace of their own (tests/sfu/netns,
# which sets VIDEOCHAT_NETNS to the namespace's address); the test command runs them there after the
# rest. Elsewhere they are left out, and in the namespace only they run.
NETNS_TESTS = ("tests/sfu/media/", "tests/browser/test_call_sfu.py", "tests/browser/test_call_recording.py")
NETNS = os.environ.get("VIDEOCHAT_NETNS")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        in_netns = any(part in item.nodeid or item.nodeid.startswith(part) for part in NETNS_TESTS)
        (keep if in_netns == bool(NETNS) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest_asyncio.fixture(scope="session", loop_scope="session", autouse=True)
async def _watchdog_knows_the_loop(pytestconfig: pytest.Config):
    """The watchdog (tests/watchdog.py) cancels a hung test's tasks on the session's event loop."""
    pytestconfig.pluginmanager.get_plugin("videochat-watchdog").loop = asyncio.get_running_loop()
    yield


# The chat, room, moderation and call-signaling suites run twice: against one process, and against
# two processes sharing rooms through a real Redis, with the clients spread over both (docs/deploy.md).
BOTH_BACKENDS = {
    "test_chat",
    "test_direct",
    "test_files",
    "test_hands",
    "test_knocks",
    "test_moderation",
    "test_reactions",
    "test_signaling",
}
# These run with the fast path on and off (--fast-path, docs/internals.md): a library upgrade that
# breaks an internal fails the fast runs only, and the stock path keeps every promise the tests check.
BOTH_PATHS = {"test_chat", "test_signaling", "test_fastpath", "test_attack_packets"}
# what a server of the "stock" runs is started with
STOCK_PATH = {"VIDEOCHAT_FAST_PATH": "off"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.module.__name__ in BOTH_BACKENDS and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["single", "redis"], indirect=True)
    if metafunc.module.__name__ in BOTH_PATHS and "path" in metafunc.fixturenames:
        metafunc.parametrize("path", ["fast", "stock"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """ "single" (one process), or "redis" (two processes on Redis) in the suites of BOTH_BACKENDS."""
    return getattr(request, "param", "single")


@pytest.fixture
def path(request: pytest.FixtureRequest) -> str:
    """ "fast" (--fast-path on, the default), or "stock" (off) in the suites of BOTH_PATHS."""
    return getattr(request, "param", "fast")


@pytest.fixture(scope="session")
def single_server(tmp_path_factory: pytest.TempPathFactory):
    """One server shared by the tests that do not care about other tests' rooms."""
    server = ServerProcess(tmp_path_factory.mktemp("live-server"), *SHARED_ADDRESS).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stock_server(tmp_path_factory: pytest.TempPathFactory):
    """The same, with the fast path off."""
    server = ServerProcess(tmp_path_factory.mktemp("stock-server"), *SHARED_ADDRESS, env=STOCK_PATH).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    """A real redis-server on a free port, for the session (tests/redis_server.py)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_group(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer):
    """Two videochat processes sharing `redis_server`, for the session; `.url` alternates."""
    group = ProcessGroup(tmp_path_factory.mktemp("redis-group"), redis_server, *SHARED_ADDRESS).start()
    yield group
    group.stop()


@pytest.fixture(scope="session")
def stock_redis_group(tmp_path_factory: pytest.TempPathFactory):
    """The same, with the fast path off, on a redis-server of their own (a channel is server-wide)."""
    redis = RedisServer(tmp_path_factory.mktemp("stock-redis")).start()
    group = ProcessGroup(tmp_path_factory.mktemp("stock-redis-group"), redis, *SHARED_ADDRESS, env=STOCK_PATH).start()
    yield group
    group.stop()
    redis.stop()


@pytest.fixture
def live_server(backend: str, path: str, request: pytest.FixtureRequest):
    """The shared server: one process, or two on Redis (`backend`), fast path on or off (`path`)."""
    name = "redis_group" if backend == "redis" else "single_server"
    return request.getfixturevalue(name if path == "fast" else f"stock_{name.removeprefix('single_')}")


@pytest.fixture
def server_factory(tmp_path: Path, backend: str, path: str):
    """Start servers of one's own (own data folder, options); all are stopped after the test.
    With the "redis" backend each is two processes on a redis-server of their own; with the "stock"
    path, the fast path is off (unless `env` says otherwise)."""
    servers: list = []

    def start(
        *args: str, data_dir: Path | None = None, env: dict[str, str] | None = None, port: int = 0
    ) -> ServerProcess | ProcessGroup:
        if path == "stock":
            env = {**STOCK_PATH, **(env or {})}
        if backend == "redis":
            redis = RedisServer(tmp_path / f"redis{len(servers)}").start()
            servers.append(redis)
            group = ProcessGroup(tmp_path / f"group{len(servers)}", redis, *SHARED_ADDRESS, *args, env=env)
            servers.append(group)
            return group.start()
        server = ServerProcess(data_dir or tmp_path / f"data{len(servers)}", *SHARED_ADDRESS, *args, env=env)
        server.port = port
        servers.append(server)
        return server.start()

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def fresh_server(server_factory) -> ServerProcess:
    """A server no other test has touched: exact room lists and counts."""
    return server_factory()


@pytest.fixture
async def connect(live_server: ServerProcess):
    """connect(url=None, transports=None) -> a connected Recorder; all disconnected afterwards."""
    clients: list[Recorder] = []

    async def open_client(url: str | None = None, **options) -> Recorder:
        client = Recorder(url or live_server.url, **options)
        clients.append(client)
        return await client.connect()

    yield open_client
    for client in clients:
        await client.disconnect()


@pytest.fixture
def room() -> str:
    """A room name no other test uses."""
    return f"room-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def turn_server(tmp_path_factory: pytest.TempPathFactory):
    """A real coturn on 127.0.0.1 with use-auth-secret, for the whole session (tests/turn.py):
    `.port`, `.secret`, `.realm`, `.urls`, `.videochat_args()`, `.videochat_env()`, `.credentials()`."""
    server = TurnServer(tmp_path_factory.mktemp("turn")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def turn_videochat(tmp_path_factory: pytest.TempPathFactory, turn_server: TurnServer):
    """A videochat server handing out credentials for `turn_server` (secret by environment variable)."""
    server = ServerProcess(
        tmp_path_factory.mktemp("turn-videochat"),
        *SHARED_ADDRESS,
        *turn_server.videochat_args(),
        env=turn_server.videochat_env(),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def admin_server(tmp_path_factory: pytest.TempPathFactory):
    """A server with the admin UI on (password ADMIN_PASSWORD from the environment), shared."""
    server = ServerProcess(
        tmp_path_factory.mktemp("admin-server"), *SHARED_ADDRESS, env={"VIDEOCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD}
    ).start()
    yield server
    server.stop()


@pytest.fixture
def nginx_proxy(tmp_path: Path):
    """nginx_proxy([backend URLs], balance=None) -> a started NginxProxy (tests/nginx.py): a real nginx
    running deploy/nginx/videochat.conf in front of those videochat processes (`.url` https with
    `.ca_file`, `.plain_url` http); `balance="least_conn"` is the example's websocket-only variant.
    Every proxy is stopped after the test."""
    from nginx import NginxProxy

    proxies: list[NginxProxy] = []

    def start(backends: list[str], *, balance: str | None = None) -> NginxProxy:
        proxy = NginxProxy(tmp_path / f"nginx{len(proxies)}", backends, balance=balance)
        proxies.append(proxy)
        return proxy.start()

    yield start
    for proxy in proxies:
        proxy.stop()
