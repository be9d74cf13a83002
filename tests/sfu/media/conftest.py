"""Janus instances "run elsewhere" (--janus URL) for the media tests."""

from __future__ import annotations

import pytest
from janus_remote import RemoteJanus


@pytest.fixture
def two_janus(tmp_path):
    secret = "a secret for the tests' two Janus instances"
    instances = [RemoteJanus(tmp_path / f"janus{i}", secret, (21000 + 500 * i, 21499 + 500 * i)) for i in range(2)]
    yield secret, instances
    for instance in instances:
        instance.stop()
