"""Wire compatibility: the official Node socket.io-client runs the seed's chat flow unchanged."""

from __future__ import annotations

import pytest

from support import check_seed_chat, run_seed_chat


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_seed_chat_flow_with_the_official_client(fresh_server, transport):
    log = run_seed_chat(fresh_server.url, transport, context=fresh_server.log)
    check_seed_chat(log, transport)
