"""Janus instances "run elsewhere" (--janus URL) for the media tests."""

from __future__ import annotations

import subprocess

import pytest


class RemoteJanus:
    """A Janus "run elsewhere" (--janus URL): its own process and config folder, the secret given."""

    def __init__(self, folder, secret: str, rtp_ports: tuple[int, int]) -> None:
        from videochat.sfu.local import LocalConfig, free_port, render_config

        folder.mkdir(parents=True)
        self.port = free_port()
        for name, text in render_config(LocalConfig(folder, rtp_ports), self.port, secret, secret).items():
            (folder / name).write_text(text)
        self.url = f"ws://127.0.0.1:{self.port}"
        self.name = f"127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            ["janus", "-F", str(folder), "-o"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def two_janus(tmp_path):
    secret = "a secret for the tests' two Janus instances"
    instances = [RemoteJanus(tmp_path / f"janus{i}", secret, (21000 + 500 * i, 21499 + 500 * i)) for i in range(2)]
    yield secret, instances
    for instance in instances:
        instance.stop()
