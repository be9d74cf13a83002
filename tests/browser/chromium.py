"""How the browser tests start Chromium (a module of its own, so that a test can launch a second
browser with other flags without importing a conftest)."""

from __future__ import annotations

import os

# Debian's Chromium; `playwright install` cannot download a browser here (see the project notes on testing with Debian Chromium).
CHROMIUM = os.environ.get("VIDEOCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream=device-count=3",  # three cameras to switch among
    "--allow-loopback-in-peer-connection",
]
TIMEOUT_MS = 15_000
