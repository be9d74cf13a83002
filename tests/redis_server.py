"""A real redis-server on loopback for the tests, and several videochat processes sharing it.

redis = RedisServer(tmp_dir).start()     # redis-server on a free port, nothing saved to disk
redis.url                                # redis://127.0.0.1:PORT/0
redis.stop(); redis.start()              # an outage: the same port again, empty
group = ProcessGroup(tmp_dir, redis, count=2, args=[...]).start()
group.url                                # the next process's URL (round robin): clients spread
group.processes[0].stop(signal.SIGKILL)
"""

from __future__ import annotations

import itertools
import shutil
import socket
import time
from pathlib import Path

from daemon import Daemon
from support import ServerProcess

START_TIMEOUT = 15.0


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer(Daemon):
    def __init__(self, work_dir: Path) -> None:
        super().__init__()
        self.work_dir = Path(work_dir)
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed; scripts/setup --test installs it")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_tcp_port()
        process = self.spawn(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.work_dir),
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ]
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start:\n{self.log}")
            time.sleep(0.02)  # polling a condition with a deadline
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class ProcessGroup:
    """Several videochat processes on one Redis: one server to its clients, spread over processes."""

    def __init__(
        self, work_dir: Path, redis: RedisServer, *args: str, count: int = 2, env: dict[str, str] | None = None
    ) -> None:
        self.redis = redis
        # the chat's files in one folder all processes share, as docs/deploy.md says
        shared = ("--uploads-dir", str(Path(work_dir) / "uploads"))
        self.processes = [
            ServerProcess(Path(work_dir) / f"process{n}", "--redis", redis.url, *shared, *args, env=env)
            for n in range(count)
        ]
        self._next = itertools.cycle(range(count))

    def start(self) -> ProcessGroup:
        for process in self.processes:
            process.start()
        return self

    @property
    def url(self) -> str:
        """Each look gives the next process's URL, so that clients spread over the processes."""
        return self.processes[next(self._next)].url

    @property
    def urls(self) -> list[str]:
        return [process.url for process in self.processes]

    @property
    def log(self) -> str:
        return "".join(f"--- process {n}\n{p.log}" for n, p in enumerate(self.processes))

    def stop(self, *args) -> None:
        for process in self.processes:
            process.stop(*args)

    def restart(self) -> ProcessGroup:
        for process in self.processes:
            process.restart()
        return self
