"""The start-up check of the library internals videochat relies on (fastpath/selfcheck.py): it passes
on the installed (locked) versions, names what is missing or changed, refuses to start the fast path
without it, and docs/internals.md lists exactly what it checks."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

from videochat.fastpath import selfcheck
from videochat.fastpath.selfcheck import BOTH, FAST, INTERNALS, Internal, problem, problems, refusal

from support import SHARED_ADDRESS, Recorder

DOCS = Path(__file__).resolve().parent.parent / "docs" / "internals.md"


def test_every_internal_is_there_in_the_installed_versions():
    assert problems(fast_path=True) == []
    assert refusal(fast_path=True) is None and refusal(fast_path=False) is None


def test_a_missing_attribute_or_a_changed_signature_is_named():
    class Upgraded:  # a library class after an upgrade: one attribute gone, one method changed
        def __init__(self) -> None:
            self.kept = 1

        def handler(self, sid, environ_renamed):
            pass

    def internal(name: str, params: tuple[str, ...] = ()) -> Internal:
        return Internal("lib", "lib:Upgraded", name, "somewhere", FAST, params)

    assert problem(internal("kept"), Upgraded) is None  # assigned in __init__: found in its code
    assert problem(internal("gone"), Upgraded) == "is missing"
    assert problem(internal("handler", ("sid", "environ")), Upgraded) == (
        "takes (sid, environ_renamed), not (sid, environ, ...)"
    )
    assert problem(internal("handler", ("sid",)), Upgraded) is None
    table = Internal("lib", "lib", "drivers[websocket]", "somewhere")
    assert problem(table, type("Module", (), {"drivers": {"websocket": object}})) is None
    assert problem(table, type("Module", (), {"drivers": {"polling": object}})) == "has no 'websocket' entry"


def test_the_installed_classes_would_fail_the_check_without_an_internal():
    internal = next(i for i in INTERNALS if i.name == "_send_eio_packet")
    server = selfcheck.resolve(internal.owner)
    assert problem(internal, server) is None
    stripped = type("Stripped", (), {name: value for name, value in vars(server).items() if name != internal.name})
    assert problem(internal, stripped) == "is missing"


# A child process that changes a library the way an upgrade might (a parameter of a method the fast
# path overrides, renamed; the library's own calls still work), then runs `videochat serve`.
UPGRADED = """
import sys
from socketio import base_manager
original = base_manager.BaseManager.basic_enter_room
def basic_enter_room(self, sid, namespace, room_name, eio_sid=None):
    return original(self, sid, namespace, room_name, eio_sid=eio_sid)
base_manager.BaseManager.basic_enter_room = basic_enter_room
from videochat.cli import main
sys.argv = ["videochat", *sys.argv[1:]]
main()
"""


async def test_serve_refuses_the_fast_path_on_a_changed_library_and_serves_with_it_off(tmp_path, room):
    def serve(data: str, *options: str) -> list[str]:
        return [sys.executable, "-c", UPGRADED, "serve", "--port", "0", "--data-dir", str(tmp_path / data), *options]

    refused = await asyncio.to_thread(subprocess.run, serve("on"), capture_output=True, text=True, timeout=60)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1, output
    assert "socketio.async_manager.AsyncManager.basic_enter_room takes (sid, namespace, room_name" in output
    assert "fastpath/manager.py" in output and "--fast-path off" in output
    assert "listening on" not in output

    # the same library serves with the fast path off, and a client chats
    process = await asyncio.create_subprocess_exec(
        *serve("off", *SHARED_ADDRESS, "--fast-path", "off"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        port = None
        while port is None:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, "the server ended before listening"
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            port = int(match[1]) if match else None
        client = await Recorder(f"http://127.0.0.1:{port}").connect()
        try:
            assert (await client.call("enter_room", room))["ok"]
        finally:
            await client.disconnect()
    finally:
        process.terminate()
        await process.wait()


def docs_table() -> set[tuple[str, str, str]]:
    """(internal, library, path) of each row of docs/internals.md's table of internals."""
    rows = set()
    for line in DOCS.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`") and cells[3] in ("fast path", "both paths"):
            rows.add((cells[0].strip("`"), cells[1], cells[3]))
    return rows


def test_docs_list_exactly_the_internals_checked():
    checked = {(i.where, i.library, "fast path" if i.path == FAST else "both paths") for i in INTERNALS}
    assert docs_table() == checked
    assert {i.path for i in INTERNALS} == {FAST, BOTH}
