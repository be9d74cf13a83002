"""The documentation keeps up with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from videochat.settings import env_name, option_name, setting_fields

DOCS = Path(__file__).parents[1] / "docs"


@pytest.mark.parametrize("name", [f.name for f in setting_fields()])
def test_every_setting_is_documented_with_flag_and_variable(name):
    config = (DOCS / "config.md").read_text()
    env_only = next(f for f in setting_fields() if f.name == name).metadata.get("env_only")
    first_cell = "| (environment only) " if env_only else f"| `--{option_name(name)}` "
    row = next(
        (line for line in config.splitlines() if line.startswith(first_cell) and f"`{env_name(name)}`" in line), None
    )
    assert row is not None, f"{first_cell.strip('| ')} {env_name(name)} is missing from docs/config.md"


def test_every_socket_io_event_the_server_handles_is_documented():
    protocol = (DOCS / "protocol.md").read_text()
    documented = set(re.findall(r"^### `([a-z_]+)`", protocol, flags=re.M))
    package = Path(__file__).parents[1] / "src" / "videochat"
    source = "".join(path.read_text() for path in sorted((package / "events").glob("*.py")))
    handled = set(re.findall(r'on\("([a-z_]+)"|\("([a-z_]+)", self\.', source))
    handled = {name for pair in handled for name in pair if name} - {"connect", "disconnect"}
    emitted = set(re.findall(r'emit\(\s*"([a-z_]+)"', source))
    assert handled | emitted <= documented, (handled | emitted) - documented
