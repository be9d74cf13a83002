from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

import pytest

from support import Recorder, ServerProcess
from turn import TurnServer


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory):
    """One server shared by the tests that do not care about other tests' rooms."""
    server = ServerProcess(tmp_path_factory.mktemp("live-server")).start()
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path: Path):
    """Start servers of one's own (own data folder, options); all are stopped after the test."""
    servers: list[ServerProcess] = []

    def start(*args: str, data_dir: Path | None = None, env: dict[str, str] | None = None,
              port: int = 0) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / f"data{len(servers)}", *args, env=env)
        server.port = port
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
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
    server = ServerProcess(tmp_path_factory.mktemp("turn-videochat"), *turn_server.videochat_args(),
                           env=turn_server.videochat_env()).start()
    yield server
    server.stop()
