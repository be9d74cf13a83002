"""Wire compatibility: the official Node socket.io-client runs the seed's chat flow unchanged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "node" / "seed_chat.mjs"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_seed_chat_flow_with_the_official_client(fresh_server, transport):
    node = shutil.which("node")
    assert node, "Node.js is installed by scripts/setup"
    result = subprocess.run([node, str(SCRIPT), fresh_server.url, transport],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr + fresh_server.log
    log = json.loads(result.stdout)
    assert log["transports"] == {"alice": transport, "bob": transport}
    room = f"seed-{transport}"
    alice, bob = log["alice"], log["bob"]

    # Alice: her own room_change, Bob's welcome (count includes him), the room_change of his
    # entry, his bye (count without him), the room_change of his leaving.
    assert [event[0] for event in alice] == ["(ack)", "room_change", "welcome", "room_change", "bye", "room_change"]
    alice = alice[1:]  # the seed's order: the ack, then room_change
    assert alice[0][1] == [room]
    assert alice[1][1:3] == ["Bob", 2]
    assert alice[2][1] == [room]
    assert alice[3][1:3] == ["Bob", 1]
    assert alice[4][1] == [room]
    assert alice[4][2] == [{"name": room, "count": 1, "locked": False}]

    # Bob: his ack, the room_change of his entry, then Alice's message in the seed's string form.
    assert [event[0] for event in bob] == ["(ack)", "room_change", "new_message"]
    bob = bob[1:]
    assert bob[1][1] == "Alice: hello from the seed"
    assert bob[1][2]["text"] == "hello from the seed"
    assert bob[1][2]["author"]["nickname"] == "Alice"
