"""Attacks found by the siege that broke the server, each fixed at its cause (docs/security.md,
"Attack suite"); the siege (test_siege.py) runs them again among the others."""

from __future__ import annotations

import re

from siege import http, request
from support import ServerProcess

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL)\s")


async def test_engine_io_requests_cannot_forge_log_lines_or_log_errors(tmp_path):
    # A session id is the client's text: python-engineio logs "Invalid session <sid>" at ERROR, and
    # (with logger=False) through a handler of its own besides ours, so a %0A in it wrote a second,
    # forged line, twice, in no format of ours; an old EIO version or a made-up transport logged
    # ERROR too. Client mistakes are warnings, in our format, one line each.
    server = ServerProcess(tmp_path / "data").start()
    forged = "2026-12-02 10:00:00,000 ERROR   videochat: forged"
    try:
        for query in (
            "EIO=4&transport=polling&sid=x%0A" + forged.replace(" ", "%20"),
            "EIO=3&transport=polling",
            "EIO=4&transport=carrier-pigeon",
            "EIO=4&transport=polling&sid=y%0D%0Aforged%1B[31m",
        ):
            status, _ = await http("127.0.0.2", server.port, request("GET", "/socket.io/?" + query))
            assert status == 400, (query, status)
        status, _ = await http("127.0.0.2", server.port, request("GET", "/healthz"))  # the log is written by now
        assert status == 200
    finally:
        server.stop()
    lines = server.log.splitlines()
    assert all(LOG_LINE.match(line) for line in lines), "\n".join(lines)
    assert not [line for line in lines if LOG_LINE.match(line)[1] == "ERROR"], server.log
    assert [line for line in lines if "Invalid session" in line and "forged" in line and "WARNING" in line], server.log
    assert "\x1b" not in server.log
