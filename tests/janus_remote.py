"""A Janus "run elsewhere" (--janus URL) for the tests whose media goes through Janus (they run in
the network namespace of tests/sfu/netns)."""

from __future__ import annotations

import subprocess


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
