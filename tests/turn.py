"""A real coturn on loopback for the tests, with TURN REST API credentials (`use-auth-secret`).

    turn = TurnServer(tmp_dir).start()
    turn.port, turn.secret, turn.realm
    turn.urls                         # ["turn:127.0.0.1:PORT?transport=udp", "...?transport=tcp"]
    turn.videochat_args()             # ["--turn-urls", "turn:...,turn:..."] for ServerProcess
    turn.videochat_env()              # {"VIDEOCHAT_TURN_SECRET": secret} (never on a command line)
    turn.credentials(ttl=600)         # (username, credential) signed with the secret
    turn.ice_servers(...)             # [{"urls", "username", "credential"}] as the browser takes them
    turn.stop()

The secret goes to coturn in a config file, not on its command line. `--allow-loopback-peers` is
what lets coturn relay between two allocations on 127.0.0.1 (without it: "403 Forbidden IP").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import secrets
import shutil
import socket
import time
from pathlib import Path

from daemon import Daemon

START_TIMEOUT = 15.0


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for TURN")


def rest_credentials(secret: str, ttl: float, name: str = "test", now: float | None = None) -> tuple[str, str]:
    """TURN REST API credentials computed here, independently of videochat.ice."""
    username = f"{int((now or time.time()) + ttl)}:{name}"
    credential = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return username, credential


class TurnServer(Daemon):
    def __init__(self, work_dir: Path, *, realm: str = "videochat.test") -> None:
        super().__init__()
        self.work_dir = Path(work_dir)
        self.realm = realm
        self.secret = secrets.token_hex(16)
        self.port = 0

    @property
    def urls(self) -> list[str]:
        return [f"turn:127.0.0.1:{self.port}?transport=udp", f"turn:127.0.0.1:{self.port}?transport=tcp"]

    def videochat_args(self) -> list[str]:
        return ["--turn-urls", ",".join(self.urls)]

    def videochat_env(self) -> dict[str, str]:
        return {"VIDEOCHAT_TURN_SECRET": self.secret}

    def credentials(self, ttl: float = 600, name: str = "test") -> tuple[str, str]:
        return rest_credentials(self.secret, ttl, name)

    def ice_servers(self, username: str | None = None, credential: str | None = None) -> list[dict]:
        if username is None:
            username, credential = self.credentials()
        return [{"urls": self.urls, "username": username, "credential": credential}]

    def start(self) -> TurnServer:
        binary = shutil.which("turnserver")
        if binary is None:
            raise RuntimeError("turnserver (coturn) is not installed; scripts/setup --test installs it")
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        # a relay port range of our own, so that parallel test runs rarely meet
        low = random.randrange(20000, 29000, 200)
        config = self.work_dir / "turnserver.conf"
        config.write_text(
            "\n".join(
                [
                    "listening-ip=127.0.0.1",
                    "relay-ip=127.0.0.1",
                    f"listening-port={self.port}",
                    f"min-port={low}",
                    f"max-port={low + 199}",
                    "use-auth-secret",
                    f"static-auth-secret={self.secret}",
                    f"realm={self.realm}",
                    "fingerprint",
                    "no-tls",
                    "no-dtls",
                    "no-cli",
                    "allow-loopback-peers",
                    "no-multicast-peers",
                    f"userdb={self.work_dir / 'turndb'}",
                    f"pidfile={self.work_dir / 'turn.pid'}",
                    "log-file=stdout",
                    "",
                ]
            )
        )
        config.chmod(0o600)
        process = self.spawn([binary, "-c", str(config)])
        deadline = time.monotonic() + START_TIMEOUT
        while not self._accepts_tcp():
            if process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"coturn did not start:\n{self.log}")
            time.sleep(0.05)  # polling a condition with a deadline
        return self

    def _accepts_tcp(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False
