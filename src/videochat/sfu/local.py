"""A Janus that videochat runs itself (`--janus auto`): its configuration, generated in the data
folder; the child process, restarted when it dies and stopped with the server.

The configuration keeps only what videochat drives: the VideoRoom plugin and the WebSocket
transport on 127.0.0.1 (a free port; the admin API on another, for traffic figures), no HTTP, no
event handlers. The API secret, the admin secret and the VideoRoom admin key are new at every start
and only ever written to the 0600 files Janus reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0)
STABLE_SECONDS = 30.0  # a Janus up for this long is healthy again: the next restart is quick
PR_SET_PDEATHSIG = 1  # Linux: the child gets SIGTERM when videochat dies, even by kill -9


@dataclass(frozen=True)
class LocalConfig:
    folder: Path
    rtp_ports: tuple[int, int]
    public_ip: str | None = None
    program: str = "janus"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(
    config: LocalConfig, port: int, api_secret: str, admin_key: str, admin: tuple[int, str] | None = None
) -> dict[str, str]:
    """The files of Janus's configuration folder, by name. `admin` (port, secret): the admin API on
    127.0.0.1 too (its traffic figures: traffic.py); None: no admin API."""
    admin_port, admin_secret = admin if admin is not None else (0, secrets.token_urlsafe(24))
    nat = ["\tignore_mdns = true", "\tfull_trickle = false", '\tice_ignore_list = "vmnet"']
    if config.public_ip:
        nat.append(f"\tnat_1_1_mapping = {_quote(config.public_ip)}")
    low, high = config.rtp_ports
    janus = "\n".join(
        [
            "general: {",
            f"\tconfigs_folder = {_quote(str(config.folder))}",
            "\tdebug_level = 3",
            "\tlog_to_stdout = true",
            '\tserver_name = "videochat"',
            "\tsession_timeout = 60",
            f"\tapi_secret = {_quote(api_secret)}",
            f"\tadmin_secret = {_quote(admin_secret)}",
            '\tprotected_folders = ["/bin", "/boot", "/dev", "/etc", "/lib", "/proc", "/root", "/sys"]',
            "}",
            "media: {",
            f'\trtp_port_range = "{low}-{high}"',
            "}",
            "nat: {",
            *nat,
            "}",
            "plugins: {",
            '\tdisable = "libjanus_audiobridge.so,libjanus_echotest.so,libjanus_recordplay.so,libjanus_sip.so,'
            "libjanus_nosip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,"
            'libjanus_voicemail.so,libjanus_lua.so,libjanus_duktape.so"',
            "}",
            "transports: {",
            '\tdisable = "libjanus_http.so,libjanus_pfunix.so,libjanus_mqtt.so,libjanus_nanomsg.so,libjanus_rabbitmq.so"',
            "}",
            "events: {",
            "\tbroadcast = false",
            "}",
            "loggers: {",
            '\tdisable = "libjanus_jsonlog.so"',
            "}",
            "",
        ]
    )
    websockets = "\n".join(
        [
            "general: {",
            '\tjson = "compact"',
            "\tws = true",
            f"\tws_port = {port}",
            '\tws_ip = "127.0.0.1"',
            "\twss = false",
            "}",
            "admin: {",
            *(
                ["\tadmin_ws = true", f"\tadmin_ws_port = {admin_port}", '\tadmin_ws_ip = "127.0.0.1"']
                if admin is not None
                else ["\tadmin_ws = false"]
            ),
            "\tadmin_wss = false",
            "}",
            "",
        ]
    )
    videoroom = "\n".join(["general: {", f"\tadmin_key = {_quote(admin_key)}", "\tlock_rtp_forward = true", "}", ""])
    return {
        "janus.jcfg": janus,
        "janus.transport.websockets.jcfg": websockets,
        "janus.plugin.videoroom.jcfg": videoroom,
    }


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalJanus:
    """The child process. `start()` returns once Janus listens; `on_restart` runs after a restart
    with the new URL and secret (the old session is gone with the old process)."""

    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        self.url = ""
        self.api_secret = ""
        self.admin_key = ""
        self.admin_url = ""  # the admin API (traffic figures), with its own secret
        self.admin_secret = ""
        self.process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task | None = None
        self._stopping = False
        self.restarts = 0

    @staticmethod
    def available(program: str = "janus") -> bool:
        return shutil.which(program) is not None

    async def start(self) -> None:
        await self._spawn()
        self._supervisor = asyncio.create_task(self._supervise(), name="videochat-janus-supervisor")

    async def _spawn(self) -> None:
        folder = self.config.folder
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)
        port, admin_port = free_port(), free_port()
        self.api_secret = secrets.token_urlsafe(32)
        self.admin_key = secrets.token_urlsafe(32)
        self.admin_secret = secrets.token_urlsafe(32)
        files = render_config(self.config, port, self.api_secret, self.admin_key, (admin_port, self.admin_secret))
        for name, text in files.items():
            path = folder / name
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(text)
        self.url = f"ws://127.0.0.1:{port}"
        self.admin_url = f"ws://127.0.0.1:{admin_port}"
        # the secrets are in the files only: never in argv (visible in `ps`) or in our logs
        self.process = await asyncio.create_subprocess_exec(
            self.config.program,
            "-F",
            str(folder),
            "-o",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log.info("Janus started", extra={"pid": self.process.pid, "url": self.url})
        await self._wait_listening(port)

    async def _wait_listening(self, port: int, timeout: float = 10.0) -> None:
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        reader = asyncio.create_task(self._log_output(self.process), name="videochat-janus-log")
        while loop.time() < deadline:
            if self.process.returncode is not None:
                await reader
                raise RuntimeError(f"Janus exited at start with status {self.process.returncode}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise RuntimeError(f"Janus did not listen within {timeout:.0f} s")

    async def _log_output(self, process: asyncio.subprocess.Process) -> None:
        """Janus's own warnings and errors go to our log (it prints no secret)."""
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode("utf-8", "replace").rstrip()
            if "[ERR]" in line:
                log.warning("janus: %s", line)
            elif "[WARN]" in line and "has been disabled" not in line:
                log.info("janus: %s", line)  # Janus warns of much that is expected (ICE still trying, ...)
            else:
                log.debug("janus: %s", line)

    async def _supervise(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            assert self.process is not None
            started = loop.time()
            status = await self.process.wait()
            if self.stopping():
                return
            failures = 0 if loop.time() - started > STABLE_SECONDS else failures + 1
            delay = RESTART_DELAYS[min(failures, len(RESTART_DELAYS) - 1)] if failures else 0.0
            log.warning("Janus exited with status %s; restarting in %.1f s", status, delay)
            await asyncio.sleep(delay)
            try:
                await self._spawn()
                self.restarts += 1
            except Exception as error:
                log.error("Janus could not restart: %s", error)

    def stopping(self) -> bool:
        return self._stopping

    async def stop(self) -> None:
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        process = self.process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 3.0)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.info("Janus stopped")
