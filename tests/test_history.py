"""Recent history: given to newcomers, kept in SQLite across restarts, deleted after the room stays empty."""

from __future__ import annotations

import asyncio
import signal
import sqlite3

import aiohttp

from videochat.storage.history import SCHEMA_VERSION

from support import Recorder, ServerProcess


def stored_messages(server: ServerProcess, room: str) -> int:
    with sqlite3.connect(server.data_dir / "videochat.sqlite3") as db:
        return db.execute("SELECT count(*) FROM messages WHERE room = ?", (room,)).fetchone()[0]


async def wait_until(condition, timeout: float = 15.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


async def send_messages(url: str, room: str, texts: list[str], nickname: str = "Writer") -> list[dict]:
    writer = await Recorder(url).connect()
    try:
        await writer.call("nickname", nickname)
        await writer.call("enter_room", room)
        return [(await writer.call("new_message", text, room))["message"] for text in texts]
    finally:
        await writer.disconnect()


async def enter(url: str, room: str) -> dict:
    reader = await Recorder(url).connect()
    try:
        return await reader.call("enter_room", room)
    finally:
        await reader.disconnect()


async def test_newcomer_gets_recent_history_oldest_first_capped(server_factory):
    server = server_factory("--history-size", "3")
    sent = await send_messages(server.url, "lounge", ["one", "two", "three", "four", "five"])
    history = (await enter(server.url, "lounge"))["history"]
    assert history == sent[-3:]
    assert [m["text"] for m in history] == ["three", "four", "five"]


async def test_history_survives_a_restart(server_factory):
    server = server_factory()
    sent = await send_messages(server.url, "lounge", ["before restart", "and again"])
    server.restart()
    history = (await enter(server.url, "lounge"))["history"]
    assert history == sent


async def test_pending_writes_are_flushed_on_sigterm(server_factory):
    server = server_factory("--message-burst", "100")
    sent = await send_messages(server.url, "burst", [f"message {i}" for i in range(50)])
    assert server.stop(signal.SIGTERM) == 0
    assert stored_messages(server, "burst") == 50
    assert "Traceback" not in server.log
    server.start()
    assert (await enter(server.url, "burst"))["history"] == sent


async def test_history_of_an_empty_room_expires_and_an_occupied_room_keeps_it(server_factory):
    server = server_factory("--history-retention", "0.5")
    stayer = await Recorder(server.url).connect()
    try:
        await stayer.call("enter_room", "occupied")
        await stayer.call("new_message", "still here", "occupied")
        await send_messages(server.url, "abandoned", ["bye"])
        await wait_until(lambda: stored_messages(server, "abandoned") == 1, what="message stored")
        await wait_until(lambda: stored_messages(server, "abandoned") == 0, what="history expired")
        assert (await enter(server.url, "abandoned"))["history"] == []
        assert [m["text"] for m in (await enter(server.url, "occupied"))["history"]] == ["still here"]
        assert stored_messages(server, "occupied") == 1
    finally:
        await stayer.disconnect()


async def test_history_left_at_shutdown_expires_after_restart(server_factory):
    server = server_factory("--history-retention", "0.5")
    # The writer is still in the room when the server stops: its history cannot expire before
    # the stop, however long the stop takes (a loaded machine once took longer than the retention).
    writer = await Recorder(server.url).connect()
    await writer.call("enter_room", "old")
    assert (await writer.call("new_message", "from before", "old"))["ok"]
    server.stop()
    await writer.disconnect()
    assert stored_messages(server, "old") == 1
    server.start()
    await wait_until(lambda: stored_messages(server, "old") == 0, what="history expired after restart")


FIRST_SCHEMA = """
CREATE TABLE messages (id TEXT PRIMARY KEY, room TEXT NOT NULL, author_id TEXT NOT NULL,
                       nickname TEXT NOT NULL, text TEXT NOT NULL, time INTEGER NOT NULL);
CREATE INDEX messages_by_room ON messages (room, time);
CREATE TABLE empty_rooms (room TEXT PRIMARY KEY, since REAL NOT NULL);
"""


async def test_a_database_of_the_first_schema_is_upgraded_with_its_messages(server_factory, tmp_path):
    data_dir = tmp_path / "old-data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / "videochat.sqlite3") as db:
        db.executescript(FIRST_SCHEMA)
        db.executemany(
            "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
            [(f"id{i}", "lounge", "someone", "Old", f"old message {i}", 1_700_000_000_000 + i) for i in range(3)],
        )
    server = server_factory(data_dir=data_dir)
    history = (await enter(server.url, "lounge"))["history"]
    assert [(m["id"], m["text"], m["author"]["nickname"]) for m in history] == [
        (f"id{i}", f"old message {i}", "Old") for i in range(3)
    ]
    sent = await send_messages(server.url, "lounge", ["new one"])
    assert (await enter(server.url, "lounge"))["history"][-1] == sent[0]
    server.stop()
    with sqlite3.connect(data_dir / "videochat.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert not [row for row in db.execute("PRAGMA table_info(messages)") if row[5]], "no primary key left"
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 4


SECOND_SCHEMA = """
CREATE TABLE messages (id TEXT NOT NULL, room TEXT NOT NULL, author_id TEXT NOT NULL,
                       nickname TEXT NOT NULL, text TEXT NOT NULL, time INTEGER NOT NULL);
CREATE INDEX messages_by_room ON messages (room, time);
CREATE TABLE empty_rooms (room TEXT PRIMARY KEY, since REAL NOT NULL);
PRAGMA user_version = 1;
"""


async def test_a_database_of_the_second_schema_gets_direct_messages_and_keeps_its_own(server_factory, tmp_path):
    """Schema 1 had no column for direct messages: its rows stay room messages, and direct messages
    written after the upgrade are kept for their two people across a restart."""
    data_dir = tmp_path / "v1-data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / "videochat.sqlite3") as db:
        db.executescript(SECOND_SCHEMA)
        db.execute("INSERT INTO messages VALUES ('v1', 'lounge', 'someone', 'Old', 'from schema 1', 1700000000000)")
    server = server_factory(data_dir=data_dir)
    ana, ben = Recorder(server.url), Recorder(server.url)
    try:
        for client in (ana, ben):
            await client.connect()
            assert (await client.call("enter_room", "lounge"))["history"][0]["text"] == "from schema 1"
        ana_id = (await ana.call("browser_id"))["browserId"]
        sent = (await ana.call("direct_message", "lounge", ben.sid, "just for Ben"))["message"]
    finally:
        for client in (ana, ben):
            await client.disconnect()
    server.restart()
    assert [m["text"] for m in (await enter(server.url, "lounge"))["history"]] == ["from schema 1"]
    back = await Recorder(server.url, auth={"browserId": ana_id}).connect()
    try:
        assert (await back.call("enter_room", "lounge"))["history"][-1] == sent
    finally:
        await back.disconnect()
    with sqlite3.connect(data_dir / "videochat.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


THIRD_SCHEMA = """
CREATE TABLE messages (id TEXT NOT NULL, room TEXT NOT NULL, author_id TEXT NOT NULL,
                       nickname TEXT NOT NULL, text TEXT NOT NULL, time INTEGER NOT NULL, direct TEXT);
CREATE INDEX messages_by_room ON messages (room, time);
CREATE TABLE empty_rooms (room TEXT PRIMARY KEY, since REAL NOT NULL);
PRAGMA user_version = 2;
"""


async def test_a_database_of_the_third_schema_keeps_its_direct_messages_in_the_renamed_column(server_factory, tmp_path):
    """Schema 2 called the column of a message's extra fields `direct`: renamed `extra`, its direct
    messages stay for their two people alone, and files' messages are kept in it after the upgrade."""
    data_dir = tmp_path / "v2-data"
    data_dir.mkdir()
    with sqlite3.connect(data_dir / "videochat.sqlite3") as db:
        db.executescript(THIRD_SCHEMA)
        db.execute("INSERT INTO messages VALUES ('v2', 'lounge', 'someone', 'Old', 'for all', 1700000000000, NULL)")
        db.execute(
            "INSERT INTO messages VALUES ('v2d', 'lounge', 'someone', 'Old', 'for two', 1700000000001, ?)",
            ('{"to":{"id":"x","nickname":"Two"},"audience":["browser:nobody-here","browser:nor-here"]}',),
        )
    server = server_factory(data_dir=data_dir)
    assert [m["text"] for m in (await enter(server.url, "lounge"))["history"]] == ["for all"]
    ana = await Recorder(server.url).connect()
    try:
        assert (await ana.call("enter_room", "lounge"))["ok"]
        upload = (await ana.call("upload_file", "lounge", {"name": "note.txt", "size": 2}))["upload"]
        async with aiohttp.ClientSession() as session:
            async with session.put(
                server.url + upload["url"], data=b"hi", headers={"X-Upload-Ticket": upload["ticket"]}
            ) as r:
                assert r.status == 201
                sent = (await r.json())["message"]
    finally:
        await ana.disconnect()
    server.restart()
    assert [m["text"] for m in (await enter(server.url, "lounge"))["history"]] == ["for all", "note.txt"]
    assert (await enter(server.url, "lounge"))["history"][-1] == sent
    server.stop()
    with sqlite3.connect(data_dir / "videochat.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert [row[1] for row in db.execute("PRAGMA table_info(messages)")][-1] == "extra"
        assert db.execute("SELECT extra FROM messages WHERE id = 'v2d'").fetchone()[0].startswith('{"to"')


async def test_a_busy_room_keeps_a_bounded_number_of_rows(server_factory):
    server = server_factory("--history-size", "2", "--message-burst", "100")
    sent = await send_messages(server.url, "busy", [f"message {i}" for i in range(45)])
    server.stop()  # everything written
    # trimmed to the last 2 after 20 (10 x --history-size), and again after 40: 2 + 5 remain
    assert stored_messages(server, "busy") == 7
    server.start()
    assert (await enter(server.url, "busy"))["history"] == sent[-2:]
