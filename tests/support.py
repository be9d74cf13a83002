"""Test support: a real videochat server process, and a recording Socket.IO client.

Nothing here imitates the server: tests talk to `python -m videochat serve` over real sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import socketio

# Every test client comes from 127.0.0.1, so the limits per address would make tests depend on each
# other; tests of those limits start servers with their own values (test_limits.py).
SHARED_ADDRESS = ("--ip-rate-factor", "1000", "--max-connections-per-ip", "0", "--max-tcp-connections-per-ip", "0")
LISTENING = re.compile(r"listening on (https?)://([^\s:]+|\[[^\]]+\]):(\d+)")
START_TIMEOUT = 30.0


class ServerProcess:
    """`python -m videochat serve` on a free port, with its log kept for failure reports."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.env = env or {}
        self.port = 0
        self.scheme = "http"
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._listening = threading.Event()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return "".join(self.lines)

    async def wait_log(self, *texts: str, timeout: float = 10.0) -> None:
        """Every one of `texts` is in the log: its lines come through a pipe and a reader thread, a
        moment after the server wrote them (a reply may well arrive first)."""
        await eventually(lambda: all(text in self.log for text in texts) or None, timeout, f"{texts} in the log")

    def start(self) -> ServerProcess:
        command = [
            sys.executable,
            "-m",
            "videochat",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]
        # the SFU is off unless a test turns it on (tests/sfu/): a local Janus per server would be heavy
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "VIDEOCHAT_JANUS": "off", **self.env}
        self._listening.clear()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"videochat did not start ({command}):\n{self.log}")
        return self

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                self.lines.append(line)
                match = LISTENING.search(line)
                if match:
                    self.scheme, self.port = match.group(1), int(match.group(3))
                    self._listening.set()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        process = self.process
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)  # it prints its threads' and tasks' stacks (server.py)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(2)
            process.kill()
            process.wait()
            raise RuntimeError(f"videochat did not stop within {timeout}s:\n{self.log}") from None
        finally:
            self._reader.join(5)

    def restart(self) -> ServerProcess:
        self.stop()
        return self.start()  # same port, same data folder


class Recorder:
    """A python-socketio AsyncClient that records every event, to wait on states."""

    def __init__(
        self,
        url: str,
        *,
        transports: list[str] | None = None,
        reconnection: bool = False,
        auth: dict | None = None,
        source: str | None = None,
    ) -> None:
        self.url = url
        self.transports = transports or ["websocket"]
        self.auth = auth
        # `source`: the loopback address the client connects from (127.0.0.2, ...), so that a test
        # can be several attackers at once; the server sees that address as the client's
        self._http = ClientHttp(source)
        self.sio = socketio.AsyncClient(
            reconnection=reconnection,
            reconnection_delay=0.2,
            reconnection_delay_max=0.5,
            request_timeout=5,
            http_session=self._http,
        )
        self.events: list[tuple[str, tuple]] = []
        self._changed = asyncio.Event()
        self.sio.on("*", self._record)

    async def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args))
        self._changed.set()

    @property
    def sid(self) -> str:
        return self.sio.get_sid()

    async def connect(self) -> Recorder:
        await self.sio.connect(self.url, transports=self.transports, wait_timeout=10, auth=self.auth)
        return self

    async def disconnect(self) -> None:
        """Disconnect (or stop reconnecting), and close every HTTP response and session it used."""
        await self.sio.shutdown()
        await self._http.close()

    async def call(self, event: str, *args: Any, timeout: float = 10) -> Any:
        """Emit with an acknowledgement and return what the server acknowledged with."""
        return await self.sio.call(event, _as_data(args), timeout=timeout)

    async def emit(self, event: str, *args: Any) -> None:
        await self.sio.emit(event, _as_data(args))

    def received(self, event: str) -> list[tuple]:
        return [args for name, args in self.events if name == event]

    async def wait_for(self, event: str, where: Callable[..., bool] = lambda *a: True, timeout: float = 10) -> tuple:
        """The first recorded `event` whose arguments satisfy `where` (waiting for it if needed)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for name, args in self.events:
                if name == event and where(*args):
                    return args
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {event!r} matching within {timeout}s; got {self.events!r}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    async def barrier(self) -> None:
        """Everything the server sent this client before now has arrived (a round trip)."""
        reply = await self.call("list_rooms")
        assert reply["ok"], reply


async def members(connect, room: str, *names: str) -> list[Recorder]:
    """Clients (from the `connect` fixture) named `names`, each in `room`."""
    clients = []
    for name in names:
        client = await connect()
        assert (await client.call("nickname", name))["ok"]
        assert (await client.call("enter_room", room))["ok"]
        clients.append(client)
    return clients


def source_session(source: str):
    """An aiohttp session whose connections leave from the loopback address `source` (any of
    127.0.0.0/8 works on Linux with no set-up): python-socketio's client takes it as `http_session`."""
    import aiohttp

    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))


class ClientHttp:
    """The aiohttp sessions of one test client, made on demand and closed with every response on them.

    python-engineio's client calls it for a session each time it connects (a callable `http_session`)
    and closes that session when the connection ends, but it does not release every response it
    got: a long-polling POST's response is never read, and a WebSocket whose connection was lost
    without a closing handshake is marked closed without releasing its upgrade response. Such a
    response holds its aiohttp `Connection`, in a reference cycle (the response's end-of-body
    callback is held by its connection's protocol), so the garbage collector frees them later, at any
    moment and in any order. When the Connection goes first aiohttp warns "Unclosed connection", and
    with warnings as errors (pyproject.toml) the test that happens to run then fails. `close()`
    releases each response still holding a connection, then closes every session, so nothing of a
    test client is left to the collector.
    """

    def __init__(self, source: str | None = None) -> None:
        self.source = source  # the loopback address to connect from, or None
        self._sessions: list = []
        self._responses: weakref.WeakSet = weakref.WeakSet()

    def __call__(self):
        import aiohttp

        trace = aiohttp.TraceConfig()
        trace.on_request_end.append(self._made)
        connector = aiohttp.TCPConnector(local_addr=(self.source, 0)) if self.source else None
        session = aiohttp.ClientSession(connector=connector, trace_configs=[trace])
        self._sessions.append(session)
        return session

    async def _made(self, session: Any, context: Any, params: Any) -> None:
        self._responses.add(params.response)

    async def close(self) -> None:
        for response in list(self._responses):
            response.close()  # releases its connection; nothing if it was released already
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            await session.close()


def attacker_addresses(count: int) -> list[str]:
    """`count` loopback addresses other than 127.0.0.1, one per attacker."""
    return [f"127.0.0.{n}" for n in range(2, 2 + count)]


class ProcessProbe:
    """What a server process holds, read from /proc: resident memory, open descriptors, and its TCP
    sockets by state (CLOSE-WAIT: the client closed, the server never did)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no VmRSS for process {self.pid}")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def _socket_inodes(self) -> set[str]:
        inodes = set()
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                target = os.readlink(f"/proc/{self.pid}/fd/{fd}")
            except OSError:
                continue  # closed meanwhile
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        return inodes

    def tcp_states(self) -> dict[str, int]:
        """How many of the process's TCP sockets are in each state (ESTABLISHED, CLOSE_WAIT, ...)."""
        names = {
            "01": "ESTABLISHED",
            "02": "SYN_SENT",
            "03": "SYN_RECV",
            "04": "FIN_WAIT1",
            "05": "FIN_WAIT2",
            "06": "TIME_WAIT",
            "07": "CLOSE",
            "08": "CLOSE_WAIT",
            "09": "LAST_ACK",
            "0A": "LISTEN",
            "0B": "CLOSING",
        }
        mine = self._socket_inodes()
        counts: dict[str, int] = {}
        for table in ("tcp", "tcp6"):
            try:
                lines = Path(f"/proc/{self.pid}/net/{table}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[9] in mine:
                    state = names.get(fields[3], fields[3])
                    counts[state] = counts.get(state, 0) + 1
        return counts


def _as_data(args: tuple) -> Any:
    # python-socketio sends a tuple as several arguments, anything else as one
    if not args:
        return None
    return args[0] if len(args) == 1 else tuple(args)


# Operations (admin UI, metrics): tests/test_operations.py, tests/browser/test_admin_ui.py

ADMIN_PASSWORD = "correct horse battery staple"


class AdminClient:
    """A python-socketio AsyncClient in the admin namespace, as the Admin UI connects."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = ClientHttp()
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=5, http_session=self._http)
        self.events: list[tuple[str, tuple]] = []
        self.refusal: Any = None
        self.sio.on("*", self._record, namespace="/admin")
        self.sio.on("connect_error", self._refused, namespace="/admin")

    async def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args))

    async def _refused(self, data: Any = None) -> None:
        self.refusal = data

    async def connect(self, auth: Any) -> AdminClient:
        await self.sio.connect(self.url, namespaces=["/admin"], auth=auth, transports=["websocket"], wait_timeout=10)
        return self

    async def emit(self, event: str, *args: Any) -> None:
        await self.sio.emit(event, tuple(args), namespace="/admin")

    async def disconnect(self) -> None:
        await self.sio.shutdown()
        await self._http.close()


def scrape(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus text -> {(sample name, frozenset of label items): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def eventually(probe: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `probe` (sync or async) until it returns something truthy; that value, or AssertionError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)  # polling a state with a deadline


# The official Node socket.io-client running the seed's chat flow (tests/node/seed_chat.mjs):
# tests/test_node_client.py directly, tests/test_nginx.py through nginx.

SEED_CHAT_SCRIPT = Path(__file__).parent / "node" / "seed_chat.mjs"


def run_seed_chat(url: str, transport: str, *, env: dict[str, str] | None = None, context: str = "") -> dict:
    """Run the seed's flow with `transport` ("websocket" or "polling") against `url`; its event log."""
    import json
    import shutil

    node = shutil.which("node")
    assert node, "Node.js is installed by scripts/setup"
    result = subprocess.run(
        [node, str(SEED_CHAT_SCRIPT), url, transport],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr + context
    return json.loads(result.stdout)


def check_seed_chat(log: dict, transport: str) -> None:
    """The exact events the seed's flow receives, in order (on a server with no other public room)."""
    assert log["transports"] == {"alice": transport, "bob": transport}
    room = f"seed-{transport}"
    alice, bob = log["alice"], log["bob"]

    # Alice: her own room_change, Bob's welcome (count includes him), the room_change of his
    # entry, his bye (count without him), the room_change of his leaving.
    assert [event[0] for event in alice] == ["(ack)", "room_change", "welcome", "room_change", "bye", "room_change"]
    alice = alice[1:]  # the seed's order: the ack, then room_change
    assert alice[0][1] == [room]
    assert alice[1][1:3] == ["Bob", 2]
    assert alice[2][1] == [room]
    assert alice[3][1:3] == ["Bob", 1]
    assert alice[4][1] == [room]
    assert alice[4][2] == [{"name": room, "count": 1, "locked": False}]

    # Bob: his ack, the room_change of his entry, then Alice's message in the seed's string form.
    assert [event[0] for event in bob] == ["(ack)", "room_change", "new_message"]
    bob = bob[1:]
    assert bob[1][1] == "Alice: hello from the seed"
    assert bob[1][2]["text"] == "hello from the seed"
    assert bob[1][2]["author"]["nickname"] == "Alice"
