"""Logging: one human-readable line per event on standard error."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter stays at warning unless we debug.
    for name in ("uvicorn", "uvicorn.error", "engineio", "socketio", "websockets"):
        logging.getLogger(name).setLevel(level.upper() if level == "debug" else "WARNING")
