"""Chat history in SQLite: the last messages of each room, kept across restarts, deleted once a
room has stayed empty long enough.

Rows are kept in insertion order with an index by room and time and no other (an index on the
message id tripled the cost of a write); a room's rows beyond the last --history-size are deleted
in bulk once it has many more, so a room that never empties does not grow the file forever.
All rooms together are held to --history-max-mb (`max_bytes`): many rooms filled at the allowed rate
filled the disk (docs/security.md). The writer thread keeps each room's size; over the bound it deletes, down
to LOW_WATER of it: the rows nobody reads (beyond the last --history-size), then the history of the
rooms empty the longest, then the oldest messages of the largest rooms (each room keeps its newest
messages up to an equal share), never the newest messages of a room in use first.

All database work runs on one worker thread with one connection (one writer, like Datasette's
`execute_write_fn`), so the event loop never blocks on disk. New messages are kept in memory at
once (newcomers see them immediately) and written in batches at most WRITE_DELAY later; `close()`
flushes what is pending.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import operator
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from videochat.model.directs import AUDIENCE
from videochat.model.files import FILE
from videochat.storage.base import Message

log = logging.getLogger(__name__)
T = TypeVar("T")

# 0: messages.id was a PRIMARY KEY (an index of its own); 1: no `direct` column; 2: `extra` was
# named `direct` (it held direct messages' fields alone)
SCHEMA_VERSION = 3
# `extra`: NULL for a room's plain message; else JSON of the fields beyond the columns: a direct
# message's `to` and `audience` (model/directs.py), a file's `file` (model/files.py)
MESSAGES = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT NOT NULL,
    room TEXT NOT NULL,
    author_id TEXT NOT NULL,
    nickname TEXT NOT NULL,
    text TEXT NOT NULL,
    time INTEGER NOT NULL,
    extra TEXT
)"""
MESSAGES_INDEX = "CREATE INDEX IF NOT EXISTS messages_by_room ON messages (room, time)"
# rooms whose history is waiting to expire: empty since that Unix time
EMPTY_ROOMS = "CREATE TABLE IF NOT EXISTS empty_rooms (room TEXT PRIMARY KEY, since REAL NOT NULL)"
# each room's access policy (access.RoomPolicy.to_data(), JSON): a locked room's history stays behind
# its lock across restarts, as long as the history does
ROOM_POLICIES = "CREATE TABLE IF NOT EXISTS room_policies (room TEXT PRIMARY KEY, policy TEXT NOT NULL)"
# the bans of room owners (access.Ban, until and since: wall-clock seconds), kept until they end so
# that a restart does not let a removed member straight back in; the key is a browser id's or an
# address block's (identity.py), never more of a person
ROOM_BANS = (
    "CREATE TABLE IF NOT EXISTS room_bans (room TEXT NOT NULL, key TEXT NOT NULL, until REAL NOT NULL, "
    "since REAL NOT NULL, PRIMARY KEY (room, key))"
)

# seconds new history may wait in memory to be written with what follows it: a busy room's rows
# share index pages, so larger batches rewrite fewer pages per message
WRITE_DELAY = 0.2
TRIM_FACTOR = 10  # a room's old rows are deleted once it holds this many times --history-size
LOW_WATER = 0.9  # over max_bytes, rows are deleted down to this share of it (not again at the next row)
# What a row costs on disk, as near as SQLite lets one count cheaply: its strings in bytes (the room
# twice: the index holds it too), and ROW_OVERHEAD for the rowid, the time (twice), headers and slack.
ROW_OVERHEAD = 48
ROW_BYTES = (
    "length(CAST(id AS BLOB)) + 2 * length(CAST(room AS BLOB)) + length(CAST(author_id AS BLOB))"
    f" + length(CAST(nickname AS BLOB)) + length(CAST(text AS BLOB))"
    f" + coalesce(length(CAST(extra AS BLOB)), 0) + {ROW_OVERHEAD}"
)
INSERT = "INSERT INTO messages (id, room, author_id, nickname, text, time, extra) VALUES (?, ?, ?, ?, ?, ?, ?)"
# keeps a room's last `size` rows (what `_load` reads)
TRIM = (
    "DELETE FROM messages WHERE room = ?1 AND rowid NOT IN (SELECT rowid FROM messages"
    " WHERE room = ?1 ORDER BY time DESC, rowid DESC LIMIT ?2)"
)
# keeps a room's newest rows that together take at most ?2 bytes
TRIM_TO_BYTES = (
    f"DELETE FROM messages WHERE rowid IN (SELECT rowid FROM (SELECT rowid, sum({ROW_BYTES})"
    " OVER (ORDER BY time DESC, rowid DESC) AS newer FROM messages WHERE room = ?1) WHERE newer > ?2)"
)
DELETE_ROOM = "DELETE FROM messages WHERE room = ?"


def _row_bytes(params: tuple) -> int:
    """ROW_BYTES of an INSERT's parameters (id, room, author_id, nickname, text, time, extra)."""
    id_, room, author, nickname, text, _, extra = params
    return (
        len(id_.encode())
        + 2 * len(room.encode())
        + len(author.encode())
        + len(nickname.encode())
        + len(text.encode())
        + (len(extra.encode()) if extra is not None else 0)
        + ROW_OVERHEAD
    )


EXTRA_FIELDS = ("to", AUDIENCE, FILE)


def _extra_column(message: Message) -> str | None:
    extra = {name: message[name] for name in EXTRA_FIELDS if name in message}
    return json.dumps(extra, ensure_ascii=False, separators=(",", ":")) if extra else None


def fair_share(sizes: dict[str, int], total: int) -> int:
    """The largest cap such that the rooms' sizes, each cut to it, add up to at most `total`
    (water-filling: the small rooms keep everything, the large ones give up their oldest)."""
    left, ordered = total, sorted(sizes.values())
    for index, size in enumerate(ordered):
        if size * (len(ordered) - index) > left:
            return left // (len(ordered) - index)
        left -= size
    return max(ordered, default=0)


class StorageUnavailable(RuntimeError):
    pass


class HistoryStore:
    """The chat history of one process, in SQLite (a `base.History`)."""

    def __init__(self, path: Path, *, size: int, retention: float, max_bytes: int | None = None) -> None:
        self.path = path
        self.size = size
        self.retention = retention
        self.max_bytes = max_bytes
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videochat-sqlite")
        self._db: sqlite3.Connection | None = None
        self._cache: dict[str, collections.deque[Message]] = {}
        self._pending: list[tuple[str, tuple]] = []
        self._pending_bytes = 0  # about, of the messages in _pending
        # rooms that emptied (since when) or filled (None) since the last batch: only the last
        # state of each is written (rooms that fill and empty many times a second cost one row)
        self._room_states: dict[str, float | None] = {}
        self._written_since_trim: collections.Counter[str] = collections.Counter()
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()  # someone waits in flush(): write now
        self._writer: asyncio.Task | None = None
        self._flushed = asyncio.Event()
        self._flushed.set()
        # the writer thread's own: what each room holds on disk (rows, bytes by ROW_BYTES), and the total
        self._stored: dict[str, tuple[int, int]] = {}
        self._stored_bytes = 0

    # lifecycle

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._run(self._open_db)
        self._writer = asyncio.create_task(self._write_loop(), name="videochat-history-writer")

    def _open_db(self) -> None:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            self._migrate(db)
        for statement in (MESSAGES, MESSAGES_INDEX, EMPTY_ROOMS, ROOM_POLICIES, ROOM_BANS):
            db.execute(statement)
        # Nobody is in any room when the server starts: every room with history starts its
        # countdown now, unless it was already counting.
        now = time.time()
        db.execute("INSERT OR IGNORE INTO empty_rooms (room, since) SELECT DISTINCT room, ? FROM messages", (now,))
        self._db = db
        for room, rows, size in db.execute(f"SELECT room, count(*), sum({ROW_BYTES}) FROM messages GROUP BY room"):
            self._set_stored(room, rows, size)
        self._hold_to_bound()

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Version 0 -> 3: the same rows in a table without the index on `id`; 1 -> 3: the `extra`
        column added (NULL: every message before it was a room's plain one); 2 -> 3: `direct`
        renamed `extra`."""
        columns = {row[1]: row[5] for row in db.execute("PRAGMA table_info(messages)")}
        db.execute("BEGIN")
        try:
            if "direct" in columns:
                db.execute("ALTER TABLE messages RENAME COLUMN direct TO extra")
            elif columns and "extra" not in columns and not columns.get("id"):
                db.execute("ALTER TABLE messages ADD COLUMN extra TEXT")
            if columns.get("id"):  # a primary key: rebuild the table without it
                db.execute("ALTER TABLE messages RENAME TO messages_v0")
                db.execute("DROP INDEX IF EXISTS messages_by_room")
                db.execute(MESSAGES)
                db.execute(MESSAGES_INDEX)
                db.execute(
                    "INSERT INTO messages (id, room, author_id, nickname, text, time)"
                    " SELECT id, room, author_id, nickname, text, time FROM messages_v0 ORDER BY rowid"
                )
                db.execute("DROP TABLE messages_v0")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def close(self) -> None:
        await self.flush()
        if self._writer is not None:
            self._writer.cancel()
            try:
                await self._writer
            except asyncio.CancelledError:
                pass
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers, both the open connection and the file.

        The open connection keeps working on a file that was deleted, moved or replaced (it holds the
        old file open), so the file is also opened afresh, read-only, and its schema read.
        """
        try:
            await self._run(self._ping)
        except Exception as exc:
            raise StorageUnavailable(f"database {self.path}: {exc}") from exc

    def _ping(self) -> None:
        if self._db is None:
            raise StorageUnavailable("not open")
        self._db.execute("SELECT 1").fetchone()
        probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            probe.execute("SELECT count(*) FROM messages").fetchone()
        finally:
            probe.close()

    # reading and writing

    async def recent(self, room: str) -> list[Message]:
        cached = self._cache.get(room)
        if cached is None:
            rows = await self._run(self._load, room)
            cached = self._cache.get(room)  # another task may have loaded it meanwhile
            if cached is None:
                cached = self._cache[room] = collections.deque(rows, maxlen=self.size)
        return list(cached)

    def _load(self, room: str) -> list[Message]:
        assert self._db is not None
        rows = self._db.execute(
            "SELECT id, author_id, nickname, text, time, extra FROM messages WHERE room = ?"
            " ORDER BY time DESC, rowid DESC LIMIT ?",
            (room, self.size),
        ).fetchall()
        return [
            {
                "id": id_,
                "room": room,
                "author": {"id": author, "nickname": nick},
                "text": text,
                "time": t,
                **(json.loads(extra) if extra is not None else {}),
            }
            for id_, author, nick, text, t, extra in reversed(rows)
        ]

    async def holds(self, room: str) -> bool:
        """Whether any message of `room` is kept (what keeps an empty room's policy alive)."""
        cached = self._cache.get(room)
        if cached is not None:
            return bool(cached)  # loaded, and every message since appended to it
        await self.flush()
        return await self._run(
            lambda: (
                self._db.execute(  # type: ignore[union-attr]
                    "SELECT 1 FROM messages WHERE room = ? LIMIT 1", (room,)
                ).fetchone()
                is not None
            )
        )

    def append(self, message: Message) -> None:
        cached = self._cache.get(message["room"])
        if cached is not None:
            cached.append(message)
        author = message["author"]
        extra = _extra_column(message)
        self._queue(
            INSERT,
            (
                message["id"],
                message["room"],
                author["id"],
                author["nickname"],
                message["text"],
                message["time"],
                extra,
            ),
        )
        room = message["room"]
        if self.max_bytes is not None:
            # a flood is written (and held to the bound) in batches of a share of it, not of WRITE_DELAY:
            # the file grows to the bound plus one batch
            self._pending_bytes += len(message["text"]) + len(extra or "") + ROW_OVERHEAD
            if self._pending_bytes > self.max_bytes * (1 - LOW_WATER):
                self._urgent.set()
        self._written_since_trim[room] += 1
        if self._written_since_trim[room] >= TRIM_FACTOR * self.size:
            del self._written_since_trim[room]
            # at most TRIM_FACTOR times --history-size stay stored
            self._queue(TRIM, (room, self.size))

    def save_policy(self, room: str, policy: dict[str, Any] | None) -> None:
        """Keep a room's access policy with its history (None: the room's policy is gone)."""
        if policy is None:
            self._queue("DELETE FROM room_policies WHERE room = ?", (room,))
        else:
            self._queue(
                "INSERT OR REPLACE INTO room_policies (room, policy) VALUES (?, ?)",
                (room, json.dumps(policy, separators=(",", ":"))),
            )

    def save_ban(self, room: str, key: str, until: float, since: float) -> None:
        """Keep a ban until it ends (those that ended go at the same time)."""
        self._queue("DELETE FROM room_bans WHERE until <= ?", (since,))
        self._queue(
            "INSERT OR REPLACE INTO room_bans (room, key, until, since) VALUES (?, ?, ?, ?)", (room, key, until, since)
        )

    async def bans(self, now: float) -> list[tuple[str, str, float, float]]:
        """The kept bans that have not ended: (room, key, until, since)."""
        rows = await self._run(
            lambda: self._db.execute(  # type: ignore[union-attr]
                "SELECT room, key, until, since FROM room_bans WHERE until > ?", (now,)
            ).fetchall()
        )
        return [(room, key, float(until), float(since)) for room, key, until, since in rows]

    async def policies(self) -> dict[str, dict[str, Any]]:
        """Every kept policy (at start: rooms are empty then, their policies wait for the sweep)."""
        rows = await self._run(
            lambda: self._db.execute(  # type: ignore[union-attr]
                "SELECT room, policy FROM room_policies"
            ).fetchall()
        )
        return {room: json.loads(policy) for room, policy in rows}

    def room_occupied(self, room: str) -> None:
        self._room_state(room, None)

    def room_emptied(self, room: str, now: float | None = None) -> None:
        self._room_state(room, time.time() if now is None else now)

    def _room_state(self, room: str, empty_since: float | None) -> None:
        self._room_states.pop(room, None)  # keeps the dict in order of the latest change
        self._room_states[room] = empty_since
        self._flushed.clear()
        self._wake.set()

    async def expire(self, is_occupied: Callable[[str], bool], now: float | None = None) -> list[str]:
        """Delete the history of rooms empty for longer than the retention; returns those rooms."""
        await self.flush()
        cutoff = (time.time() if now is None else now) - self.retention
        candidates = await self._run(
            lambda: [
                r
                for (r,) in self._db.execute(  # type: ignore[union-attr]
                    "SELECT room FROM empty_rooms WHERE since <= ?", (cutoff,)
                )
            ]
        )
        expired = [room for room in candidates if not is_occupied(room)]
        if expired:
            await self._run(self._delete_rooms, expired)
            for room in expired:
                self._cache.pop(room, None)
                self._written_since_trim.pop(room, None)
            log.info("history expired for %d room(s)", len(expired))
        return expired

    def _delete_rooms(self, rooms: Iterable[str]) -> None:
        statements = []
        for room in rooms:
            statements.append((DELETE_ROOM, (room,)))
            statements.append(("DELETE FROM empty_rooms WHERE room = ?", (room,)))
        self._write_batch(statements)

    async def flush(self) -> None:
        """Wait until everything queued so far is on disk."""
        if self._pending or self._room_states:
            self._flushed.clear()
            self._wake.set()
        if not self._flushed.is_set():
            self._urgent.set()
        await self._flushed.wait()

    # the writer

    def _queue(self, sql: str, params: tuple) -> None:
        self._pending.append((sql, params))
        self._flushed.clear()
        self._wake.set()

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            # Gather what arrives in the next moment into the same transaction: one thread hand-off
            # and one commit per batch instead of per message (it showed in the profile).
            if not self._urgent.is_set():
                try:
                    await asyncio.wait_for(self._urgent.wait(), WRITE_DELAY)
                except TimeoutError:
                    pass
            self._wake.clear()
            self._urgent.clear()
            batch, self._pending, self._pending_bytes = self._pending, [], 0
            states, self._room_states = self._room_states, {}
            batch.extend(
                ("DELETE FROM empty_rooms WHERE room = ?", (room,))
                if since is None
                else ("INSERT OR REPLACE INTO empty_rooms (room, since) VALUES (?, ?)", (room, since))
                for room, since in states.items()
            )
            if batch:
                try:
                    for room in await self._run(self._write_batch, batch):  # rooms whose history went
                        self._cache.pop(room, None)
                        self._written_since_trim.pop(room, None)
                except Exception:
                    log.exception("could not write %d change(s) to the history database", len(batch))
            if not self._pending and not self._room_states:
                self._flushed.set()

    def _write_batch(self, batch: list[tuple[str, tuple]]) -> list[str]:
        """Apply statements in one transaction (one fsync for the whole batch); a run of the same
        statement (a busy room's messages) goes to SQLite in one executemany call. Then hold the
        total to max_bytes; returns the rooms whose whole history that deleted."""
        self._transaction(batch)
        recount = set()
        for sql, params in batch:
            if sql == INSERT:
                rows, size = self._stored.get(params[1], (0, 0))
                self._set_stored(params[1], rows + 1, size + _row_bytes(params))
            elif sql == TRIM:
                recount.add(params[0])
            elif sql == DELETE_ROOM:
                self._set_stored(params[0], 0, 0)
        for room in recount:
            self._recount(room)
        return self._hold_to_bound()

    def _transaction(self, statements: list[tuple[str, tuple]]) -> None:
        assert self._db is not None
        self._db.execute("BEGIN")
        try:
            for sql, run in itertools.groupby(statements, key=operator.itemgetter(0)):
                self._db.executemany(sql, [params for _, params in run])
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # the bound on all rooms together (writer thread only)

    def _set_stored(self, room: str, rows: int, size: int) -> None:
        self._stored_bytes += size - self._stored.pop(room, (0, 0))[1]
        if rows:
            self._stored[room] = (rows, size)

    def _recount(self, room: str) -> None:
        assert self._db is not None
        rows, size = self._db.execute(
            f"SELECT count(*), coalesce(sum({ROW_BYTES}), 0) FROM messages WHERE room = ?", (room,)
        ).fetchone()
        self._set_stored(room, rows, size)

    def _hold_to_bound(self) -> list[str]:
        """Over max_bytes: delete down to LOW_WATER of it, what matters least first. Returns the
        rooms whose whole history went (empty rooms)."""
        if self.max_bytes is None or self._stored_bytes <= self.max_bytes:
            return []
        assert self._db is not None
        target = int(self.max_bytes * LOW_WATER)
        # 1. the rows nobody reads: a busy room's rows beyond the last --history-size
        unread = [(room,) for room, (rows, _) in self._stored.items() if rows > self.size]
        self._transaction([(TRIM, (room, self.size)) for (room,) in unread])
        for (room,) in unread:
            self._recount(room)
        # 2. the history of the rooms empty the longest (skipping one entered again meanwhile)
        gone: list[str] = []
        if self._stored_bytes > target:
            for (room,) in self._db.execute("SELECT room FROM empty_rooms ORDER BY since").fetchall():
                if self._stored_bytes <= target:
                    break
                if room in self._stored and self._room_states.get(room, 0.0) is not None:
                    self._transaction([(DELETE_ROOM, (room,)), ("DELETE FROM empty_rooms WHERE room = ?", (room,))])
                    self._set_stored(room, 0, 0)
                    gone.append(room)
        # 3. the oldest messages of the largest rooms: each keeps its newest up to an equal share
        if self._stored_bytes > target:
            share = fair_share({room: size for room, (_, size) in self._stored.items()}, target)
            larger = [room for room, (_, size) in self._stored.items() if size > share]
            self._transaction([(TRIM_TO_BYTES, (room, share)) for room in larger])
            for room in larger:
                self._recount(room)
        log.warning(
            "history over --history-max-mb: deleted down to %d bytes (%d room(s) emptied)",
            self._stored_bytes,
            len(gone),
        )
        return gone

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
