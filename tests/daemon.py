"""What the tests' real daemons (coturn, redis-server, nginx) share: starting with their output
kept for failure reports, and stopping (SIGTERM, then SIGKILL if they hang)."""

from __future__ import annotations

import subprocess
import threading


class Daemon:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._reader: threading.Thread | None = None

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def spawn(self, command: list[str]) -> subprocess.Popen:
        """Start `command`, its output (stdout and stderr) read line by line into `lines`."""
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, args=(self.process,), daemon=True)
        self._reader.start()
        return self.process

    def _read(self, process: subprocess.Popen) -> None:
        assert process.stdout is not None
        with process.stdout:
            for line in process.stdout:
                self.lines.append(line)

    def stop(self) -> None:
        stop_process(self.process)
        if self._reader is not None:
            self._reader.join(5)


def stop_process(process: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
