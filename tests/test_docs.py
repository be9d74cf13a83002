"""The documentation keeps up with the code."""

from __future__ import annotations

import re
from collections.abc import Iterator
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


def documented_events(text: str) -> dict[str, set[str]]:
    """The events of docs/protocol.md by direction: the backquoted names of each `###` heading, in
    the direction its heading names ("(client → server)") or else its `##` section's."""
    events: dict[str, set[str]] = {CLIENT_TO_SERVER: set(), SERVER_TO_CLIENT: set()}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line
        elif line.startswith("### "):
            names = re.findall(r"`([a-z_]+)`", line)
            directions = [d for d in (CLIENT_TO_SERVER, SERVER_TO_CLIENT) if d in line] or [
                d for d in (CLIENT_TO_SERVER, SERVER_TO_CLIENT) if d in section
            ]
            assert not names or len(directions) == 1, f"{line!r}: say which way (client → server, server → client)"
            for name in names:
                events[directions[0]].add(name)
    return events


CLIENT_TO_SERVER, SERVER_TO_CLIENT = "client → server", "server → client"
# Socket.IO's own: a connection's start and end (docs/protocol.md, "Connecting with a client id"),
# and python-socketio's catch-all, which answers an unknown event with `unknown_event`
LIFECYCLE = {"connect", "disconnect", "*"}


@pytest.fixture(scope="module")
def handlers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[str]]]:
    """The handler table of an app built in this process from Settings (it opens nothing until it
    serves), with the admin UI on: what the server really answers, per namespace."""
    from videochat.app import VideochatApp
    from videochat.settings import Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("docs-app"), admin_password="for the handler table")
    app = VideochatApp(settings.validate())
    yield {namespace: set(table) - LIFECYCLE for namespace, table in app.sio.handlers.items()}
    # python-socketio's Admin UI instrumentation patches python-engineio's classes for the whole
    # process (e.g. AsyncSocket._websocket_handler): put them back, or the in-process servers of later
    # tests (test_fastpath.py) run with an instrumentation that keeps every closed connection
    app.admin.instrumentation.uninstrument()


def test_every_event_the_server_handles_is_documented_and_nothing_else(handlers):
    documented = documented_events((DOCS / "protocol.md").read_text())[CLIENT_TO_SERVER]
    assert handlers["/"] == documented, {
        "handled, not in protocol.md": handlers["/"] - documented,
        "in protocol.md, not handled": documented - handlers["/"],
    }


def test_every_event_the_server_may_send_is_documented_and_nothing_else():
    """The events the server may send are those of events/outgoing.py (Server.emit refuses others)."""
    from videochat.events.outgoing import OUTGOING

    documented = documented_events((DOCS / "protocol.md").read_text())[SERVER_TO_CLIENT]
    assert set(OUTGOING) == documented, {
        "sent, not in protocol.md": set(OUTGOING) - documented,
        "in protocol.md, never sent": documented - set(OUTGOING),
    }


def test_the_admin_namespace_handles_the_operations_docs_describe(handlers):
    """`/admin` speaks the Socket.IO Admin UI's protocol; the operations videochat answers itself are
    the table of docs/operations.md, "What the operations do"."""
    assert set(handlers) == {"/", "/admin"}, set(handlers)
    operations = (DOCS / "operations.md").read_text()
    table = operations[operations.index("| UI operation") :].split("\n\n", 1)[0]
    documented = {name for row in table.splitlines()[2:] for name in re.findall(r"`([a-z_]+)`", row.split(" | ")[0])}
    assert handlers["/admin"] == documented, (handlers["/admin"], documented)


REPOSITORY = DOCS.parent
# a file of the repository named in prose: src/videochat/events/chat.py, tests/test_docs.py, bench/run.py, ...
WRITTEN_BY_RUNS = "bench/results"  # bench/run's reports, not kept in the repository
# a path, or a glob of paths (`bench/BASELINE-*.png`)
REPOSITORY_PATH = re.compile(r"(?<![\w/.-])((?:src|tests|bench|scripts|deploy|docs|requirements)/[\w./@*-]*[\w*])")


@pytest.mark.parametrize(
    "doc", ["README.md", *(f"docs/{p.name}" for p in sorted(DOCS.glob("*.md"))), "bench/README.md"]
)
def test_every_repository_path_a_doc_names_exists(doc):
    """Modules move (the layers); a doc that names a file by its old path sends the reader nowhere."""
    named = {
        path for path in REPOSITORY_PATH.findall((REPOSITORY / doc).read_text()) if not path.startswith(WRITTEN_BY_RUNS)
    }
    missing = sorted(path for path in named if not any(REPOSITORY.glob(path)))
    assert not missing, f"{doc} names paths the repository does not have: {missing}"
