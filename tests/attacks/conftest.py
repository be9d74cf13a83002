"""Fixtures of the attack suite (tests/attacks/, docs/security.md "Attack suite").

The fixtures of tests/conftest.py are available here too; the attack tests import the helpers of
tests/support.py (`from support import ...`) and the siege harness (`from siege import ...`).
"""

from __future__ import annotations

import pytest

from support import ADMIN_PASSWORD, ServerProcess

TURN_SECRET = "siege-turn-secret"


@pytest.fixture
def siege_server(tmp_path):
    """A fresh server with its DEFAULT limits (no SHARED_ADDRESS relaxation: attackers come from
    127.0.0.2 and up, the well-behaved clients from 127.0.0.1), the admin UI on, and TURN
    credentials configured (no TURN server is needed to issue them)."""
    server = ServerProcess(
        tmp_path / "data",
        "--turn-urls",
        "turn:127.0.0.1:3478",
        env={"VIDEOCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD, "VIDEOCHAT_TURN_SECRET": TURN_SECRET},
    ).start()
    yield server
    server.stop(timeout=20)
