"""Files in the chat (docs/protocol.md, "Files"): `upload_file` gives a ticket, an HTTP PUT carries the
bytes, the room gets the message, and only its members download the file (a cookie with the browser
id, checked on every request). Refusals, bounds, an upload cut off in the middle, a flood from several
addresses, and files leaving with the history. One process and two on Redis sharing --uploads-dir
(conftest.BOTH_BACKENDS: the PUT and the GETs land on either process)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from support import SHARED_ADDRESS, Recorder, ServerProcess, attacker_addresses, eventually, members

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(3000)
COOKIE = "videochat_browser"


async def put(url: str, upload: dict, body: bytes, *, ticket: str | None = None, source: str | None = None):
    """PUT `body` to the upload's URL with its ticket: (status, JSON or text)."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0)) if source else None
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.put(
            url + upload["url"], data=body, headers={"X-Upload-Ticket": ticket or upload["ticket"]}
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()


async def get(url: str, path: str, browser_id: str | None = None, headers: dict | None = None):
    """GET `path` with that browser's cookie: (status, headers, body)."""
    cookies = {COOKIE: browser_id} if browser_id else {}
    async with aiohttp.ClientSession(cookies=cookies) as session:
        async with session.get(url + path, headers=headers or {}) as response:
            return response.status, response.headers, await response.read()


async def upload(client: Recorder, url: str, room: str, name: str, body: bytes) -> dict:
    reply = await client.call("upload_file", room, {"name": name, "size": len(body)})
    assert reply["ok"], reply
    status, answer = await put(url, reply["upload"], body)
    assert status == 201, answer
    return answer["message"]


def uploads_dir(server) -> Path:
    if hasattr(server, "processes"):  # two processes share one folder (tests/redis_server.py)
        return server.processes[0].data_dir.parent / "uploads"
    return server.data_dir / "uploads"


def stored_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def test_a_file_reaches_the_room_and_only_its_members_download_it(connect, live_server, room):
    ana, ben = await members(connect, room, "Ana", "Ben")
    (cho,) = await members(connect, f"{room}-other", "Cho")
    ids = {
        name: (await client.call("browser_id"))["browserId"]
        for name, client in (("ana", ana), ("ben", ben), ("cho", cho))
    }

    sent = await upload(ana, live_server.url, room, "cat picture.png", PNG)
    assert sent["author"] == {"id": ana.sid, "nickname": "Ana"}
    assert (sent["room"], sent["text"]) == (room, "cat picture.png")
    assert sent["file"] == {
        "id": sent["id"],
        "name": "cat picture.png",
        "size": len(PNG),
        "type": "image/png",
        "url": f"/files/{sent['id']}",
    }
    line, received = await ben.wait_for("new_message", lambda line, message: message["id"] == sent["id"])
    assert received == sent and line == "Ana: cat picture.png"
    assert not ana.received("new_message"), "the uploader has the message from the PUT's answer"
    # the history keeps it, for newcomers and after a reload
    newcomer = await connect()
    assert (await newcomer.call("enter_room", room))["history"][-1] == sent

    # a member downloads it, whole or in part, as an attachment that is never a page
    status, headers, body = await get(live_server.url, sent["file"]["url"], ids["ben"])
    assert (status, body) == (200, PNG)
    assert headers["Content-Type"] == "image/png"
    assert (
        headers["Content-Disposition"].startswith("attachment;")
        and "cat%20picture.png" in headers["Content-Disposition"]
    )
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"] and "no-store" in headers["Cache-Control"]
    status, headers, body = await get(live_server.url, sent["file"]["url"], ids["ben"], {"Range": "bytes=8-15"})
    assert (status, body, headers["Content-Range"]) == (206, PNG[8:16], f"bytes 8-15/{len(PNG)}")

    # nobody else: another room's member, no cookie, a forged one, a path out of the folder
    forged = ids["ben"][:-3] + ("AAA" if not ids["ben"].endswith("AAA") else "BBB")
    for browser_id in (ids["cho"], None, forged, "not-a-browser-id"):
        status, _, body = await get(live_server.url, sent["file"]["url"], browser_id)
        assert status == 403 and PNG not in body, browser_id
    for path in (
        "/files/..%2Fvideochat.sqlite3",
        "/files/..%2F..%2Fprocess0%2Fvideochat.sqlite3",
        f"/files/{sent['id']}.json",  # what the server keeps about it
        "/files/" + "0" * 32,
        "/files/" + sent["id"].upper(),
    ):
        status, _, body = await get(live_server.url, path, ids["ben"])
        assert status == 404 and b"SQLite" not in body, path
    # Ben leaves the room: the link he keeps opens nothing any more
    assert (await ben.call("leave_room", room))["ok"]
    status, _, _ = await eventually(
        lambda: _refused(live_server.url, sent["file"]["url"], ids["ben"]), what="the download refused after leaving"
    )
    assert status == 403


async def _refused(url: str, path: str, browser_id: str):
    answer = await get(url, path, browser_id)
    return answer if answer[0] == 403 else None


async def test_what_is_not_an_image_is_served_as_bytes_to_save(connect, live_server, room):
    (ana,) = await members(connect, room, "Ana")
    ana_id = (await ana.call("browser_id"))["browserId"]
    for name, body in (
        ("page.html", b"<!doctype html><script>alert(1)</script>"),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"),
        ("fake.png", b"<html><body>not a picture</body></html>"),
    ):
        sent = await upload(ana, live_server.url, room, name, body)
        assert sent["file"]["type"] == "application/octet-stream", name
        status, headers, got = await get(live_server.url, sent["file"]["url"], ana_id)
        assert (status, got, headers["Content-Type"]) == (200, body, "application/octet-stream")
        assert headers["Content-Disposition"].startswith("attachment;")
    # a name cannot reach a folder, hide its extension behind a bidi override, or be blank
    reply = await ana.call("upload_file", room, {"name": "../../etc/\u202egpj.exe", "size": 3})
    assert reply["upload"]["name"] == "_.._etc__gpj.exe", reply


async def test_uploads_that_are_not_allowed_are_refused_and_nothing_is_stored(connect, live_server, room):
    ana, ben = await members(connect, room, "Ana", "Ben")
    (cho,) = await members(connect, f"{room}-other", "Cho")
    outsider = await connect()
    for client, args, code in (
        (outsider, (room, {"name": "a.txt", "size": 3}), "not_in_room"),
        (cho, (room, {"name": "a.txt", "size": 3}), "not_in_room"),
        (ana, (None, {"name": "a.txt", "size": 3}), "invalid_room"),
        (ana, (room,), "invalid_file"),
        (ana, (room, "a.txt"), "invalid_file"),
        (ana, (room, {"name": "a.txt"}), "invalid_file"),
        (ana, (room, {"name": "a.txt", "size": 0}), "invalid_file"),
        (ana, (room, {"name": "a.txt", "size": -5}), "invalid_file"),
        (ana, (room, {"name": "a.txt", "size": 2.5}), "invalid_file"),
        (ana, (room, {"name": "a.txt", "size": True}), "invalid_file"),
        (ana, (room, {"name": "a.txt", "size": "3"}), "invalid_file"),
        (ana, (room, {"name": "", "size": 3}), "invalid_file"),
        (ana, (room, {"name": "...", "size": 3}), "invalid_file"),
        (ana, (room, {"name": ["a"], "size": 3}), "invalid_file"),
        (ana, (room, {"name": "x" * 201, "size": 3}), "invalid_file"),
        (ana, (room, {"name": "big.bin", "size": 25 * 1024 * 1024 + 1}), "file_too_large"),
    ):
        reply = await client.call("upload_file", *args)
        assert reply["ok"] is False and reply["error"]["code"] == code, (args, reply)

    # asked for as often as chat messages may be sent (--message-burst 20, then --message-rate)
    asked = [await cho.call("upload_file", f"{room}-other", {"name": "x.txt", "size": 1}) for _ in range(30)]
    assert {reply["error"]["code"] for reply in asked if not reply["ok"]} == {"rate_limited"}, asked
    assert sum(not reply["ok"] for reply in asked) >= 5, asked

    url = live_server.url
    first = (await ana.call("upload_file", room, {"name": "a.txt", "size": 5}))["upload"]
    second = (await ana.call("upload_file", room, {"name": "b.txt", "size": 5}))["upload"]
    forged = first["ticket"][:-2] + ("AA" if not first["ticket"].endswith("AA") else "BB")
    for ticket_of, body, status, code in (
        ({**first, "ticket": forged}, b"12345", 403, "invalid_ticket"),
        ({**first, "ticket": "nonsense"}, b"12345", 403, "invalid_ticket"),
        ({**first, "ticket": second["ticket"]}, b"12345", 403, "invalid_ticket"),  # another file's
        (first, b"123456", 413, "file_too_large"),
        (first, b"1234", 400, "upload_incomplete"),
    ):
        got, answer = await put(url, ticket_of, body)
        assert (got, answer["error"]["code"]) == (status, code), (ticket_of, body, answer)
    assert (await put(url, first, b"12345"))[0] == 201
    got, answer = await put(url, first, b"12345")  # once only
    assert (got, answer["error"]["code"]) == (403, "invalid_ticket")
    # a ticket of someone who left the room is worth nothing
    assert (await ana.call("leave_room", room))["ok"]
    got, answer = await put(url, second, b"12345")
    assert (got, answer["error"]["code"]) == (403, "not_in_room")
    # Ben heard of the one file that was stored, and only of it
    assert (await ben.call("new_message", "after the refusals", room))["ok"]
    history = (await ben.call("enter_room", room))["history"]
    assert [m["text"] for m in history] == ["a.txt", "after the refusals"]
    assert [args[1]["text"] for args in ben.received("new_message")] == ["a.txt"]
    assert not any(name.startswith(".part-") for name in stored_files(uploads_dir(live_server)))


async def test_an_upload_goes_on_when_its_page_reconnects(connect, live_server, room):
    """The ticket names the browser as well as the connection: a page whose Socket.IO connection
    dropped and came back (a new connection, the same browser id) while its bytes went up still
    posts the file, as its new connection. Another browser's connection in the room does not count
    (test_uploads_that_are_not_allowed_are_refused_and_nothing_is_stored)."""
    ana, ben = await members(connect, room, "Ana", "Ben")
    ana_id = (await ana.call("browser_id"))["browserId"]
    reply = (await ana.call("upload_file", room, {"name": "late.txt", "size": 5}))["upload"]
    await ana.disconnect()
    await ben.wait_for("bye", lambda *args: True)  # Ana's old connection left the room
    again = await connect(auth={"browserId": ana_id})
    assert (await again.call("nickname", "Ana"))["ok"]
    assert (await again.call("enter_room", room))["ok"]
    got, answer = await put(live_server.url, reply, b"hello")
    assert got == 201, answer
    assert answer["message"]["author"] == {"id": again.sid, "nickname": "Ana"}
    await ben.wait_for("new_message", lambda line, message: message["id"] == answer["message"]["id"])


async def test_an_upload_cut_off_in_the_middle_leaves_nothing(connect, live_server, room):
    ana, ben = await members(connect, room, "Ana", "Ben")
    size = 2 * 1024 * 1024
    folder = uploads_dir(live_server)
    for _ in range(2):  # the connection dropped; the browser cancelled (the same to the server)
        reply = (await ana.call("upload_file", room, {"name": "half.bin", "size": size}))["upload"]
        host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"PUT {reply['url']} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {size}\r\n"
            f"X-Upload-Ticket: {reply['ticket']}\r\n\r\n".encode()
        )
        writer.write(os.urandom(size // 2))
        await writer.drain()
        await eventually(
            lambda reply=reply: any(name.startswith(f".part-{reply['id']}") for name in stored_files(folder)),
            what="the part file of the upload under way",
        )
        writer.close()
        await writer.wait_closed()
        await eventually(
            lambda reply=reply: not any(reply["id"] in name for name in stored_files(folder)),
            what="the part file deleted",
        )
    assert (await ana.call("new_message", "still here", room))["ok"]
    await ben.wait_for("new_message", lambda line, message: message["text"] == "still here")
    assert [args[1]["text"] for args in ben.received("new_message")] == ["still here"]


async def test_a_flood_of_uploads_from_several_addresses_is_bounded(connect, live_server, room):
    """Six attackers in one room each ask for many large uploads and start many at once: each gets
    its few, the rest are refused with a reason, and a member who did nothing is not disturbed."""
    (bystander,) = await members(connect, room, "Bystander")
    attackers = []
    for source in attacker_addresses(6):
        client = await connect(source=source)
        assert (await client.call("enter_room", room))["ok"]
        attackers.append((source, client))
    size = 25 * 1024 * 1024
    codes: dict[str, int] = {}
    for _, client in attackers:
        for _ in range(12):
            reply = await client.call("upload_file", room, {"name": "big.bin", "size": size})
            key = "ok" if reply["ok"] else reply["error"]["code"]
            codes[key] = codes.get(key, 0) + 1
    # each address's budget: 8 of the largest files, then refusals (or the message rate first)
    assert codes.get("ok", 0) <= 6 * 8, codes
    assert set(codes) <= {"ok", "too_many_uploads", "rate_limited", "uploads_full"}, codes
    assert codes.get("too_many_uploads", 0) + codes.get("rate_limited", 0) >= 6 * 4, codes
    # more uploads at once than a connection may have: the fourth is refused at once
    source, client = attackers[0]
    tickets = []
    for _ in range(4):
        reply = await client.call("upload_file", room, {"name": "slow.bin", "size": 1000})
        if reply["ok"]:
            tickets.append(reply["upload"])
    if len(tickets) == 4:
        host, port = urlsplit(live_server.url).hostname, urlsplit(live_server.url).port
        writers = []
        for ticket in tickets[:3]:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
            writer.write(
                f"PUT {ticket['url']} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 1000\r\n"
                f"X-Upload-Ticket: {ticket['ticket']}\r\n\r\nabc".encode()
            )
            await writer.drain()
            writers.append(writer)
        folder = uploads_dir(live_server)
        await eventually(lambda: sum(n.startswith(".part-") for n in stored_files(folder)) >= 3, what="3 under way")
        got, answer = await put(live_server.url, tickets[3], b"x" * 1000, source=source)
        if not hasattr(live_server, "processes"):  # uploads under way are counted per process
            assert (got, answer["error"]["code"]) == (429, "too_many_uploads"), answer
        for writer in writers:
            writer.close()
    reply = await bystander.call("upload_file", room, {"name": "mine.txt", "size": 4})
    assert reply["ok"], reply
    assert (await put(live_server.url, reply["upload"], b"mine"))[0] == 201


async def test_files_leave_with_the_history_and_the_quota_holds(server_factory, backend):
    """--history-size 2: a file whose message scrolled out of the history is deleted; the room's
    history expiring takes the rest; --uploads-max-gb refuses what would pass it, and frees up again."""
    server = server_factory(
        "--history-size", "2", "--history-retention", "1", "--max-upload-mb", "1", "--uploads-max-gb", "0.0025"
    )
    folder = uploads_dir(server)
    ana = await Recorder(server.url).connect()
    try:
        assert (await ana.call("enter_room", "files"))["ok"]
        mb = os.urandom(1024 * 1024)
        first = await upload(ana, server.url, "files", "one.bin", mb)
        second = await upload(ana, server.url, "files", "two.bin", mb)
        # (with two processes, each counts the other's files at its next sweep: a moment later)
        reply = await eventually(lambda: _upload_refused(server.url, len(mb)), what="the quota reached")
        assert reply["error"]["code"] == "uploads_full", reply
        # two messages push the first file out of the history (size 2): it is deleted, room again
        for text in ("push", "push again"):
            assert (await ana.call("new_message", text, "files"))["ok"]
        await eventually(lambda: first["id"] not in stored_files(folder), timeout=15, what="the first file swept")
        # every process (two on Redis) has counted the sweep before the next upload, whose ask and
        # PUT may each land on either (a fresh-clone run failed when they landed on the other)
        urls = getattr(server, "urls", None) or [server.url]
        await eventually(
            lambda: _upload_allowed_by_all(urls, len(mb)), timeout=15, what="room for a file again after the sweep"
        )
        assert second["id"] not in stored_files(folder)  # out of the history too ("push again")
        third = await upload(ana, server.url, "files", "three.bin", mb)
        assert third["id"] in stored_files(folder)
        # everyone leaves: the room's history expires, and its files with it
        assert (await ana.call("leave_room", "files"))["ok"]
        await eventually(lambda: not stored_files(folder), timeout=20, what="every file gone with the history")
    finally:
        await ana.disconnect()


_PROBE_SOURCES = iter(f"127.0.{n // 250 + 1}.{n % 250 + 2}" for n in range(10_000))


async def _ask_to_upload(url: str, size: int) -> dict:
    """upload_file from an address of its own each time: a probe spends no one's upload budget."""
    probe = await Recorder(url, source=next(_PROBE_SOURCES)).connect()
    try:
        assert (await probe.call("enter_room", "files"))["ok"]
        return await probe.call("upload_file", "files", {"name": "probe.bin", "size": size})
    finally:
        await probe.disconnect()


async def _upload_refused(url: str, size: int) -> dict | None:
    reply = await _ask_to_upload(url, size)
    return None if reply["ok"] else reply


async def _upload_allowed_by_all(urls: list[str], size: int) -> bool:
    return all([(await _ask_to_upload(url, size))["ok"] for url in urls])


async def test_a_server_without_files_says_so(tmp_path):
    server = ServerProcess(tmp_path, *SHARED_ADDRESS, "--max-upload-mb", "0").start()
    ana = await Recorder(server.url).connect()
    try:
        assert (await ana.call("enter_room", "nofiles"))["ok"]
        reply = await ana.call("upload_file", "nofiles", {"name": "a.txt", "size": 3})
        assert reply["error"]["code"] == "files_off", reply
        assert not (tmp_path / "uploads").exists()
    finally:
        await ana.disconnect()
        server.stop()


async def test_an_upload_may_take_longer_than_the_request_timeout(server_factory):
    """--request-timeout bounds a request's head and body; a file's bytes take as long as the
    uploader's line needs, within web/files.py's own bounds (idle 30 s, an hour)."""
    server = server_factory("--request-timeout", "2")
    ana = await Recorder(server.url).connect()
    try:
        assert (await ana.call("enter_room", "slow"))["ok"]
        upload = (await ana.call("upload_file", "slow", {"name": "slow.bin", "size": 6}))["upload"]
        host, port = urlsplit(server.url).hostname, urlsplit(server.url).port
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            f"PUT {upload['url']} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 6\r\n"
            f"X-Upload-Ticket: {upload['ticket']}\r\n\r\nabc".encode()
        )
        await writer.drain()
        await asyncio.sleep(3)  # a slow line: the rest comes after --request-timeout has passed
        writer.write(b"def")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        writer.close()
        assert status.startswith(b"HTTP/1.1 201"), status
    finally:
        await ana.disconnect()


async def test_a_kept_file_deleted_just_before_its_answer_is_not_found(tmp_path):
    """A sweep (or an owner's delete, or another process) may delete a file between its lookup and
    the answer: web/attachments.py answers `missing` (a 404 page), never a server error."""
    from starlette.responses import PlainTextResponse

    from videochat.web.attachments import attachment

    missing = PlainTextResponse("gone", status_code=404)
    path = tmp_path / "kept"
    path.write_bytes(b"x" * 10)

    async def answer(at: Path):
        return await attachment(at, media_type="image/png", filename="a.png", headers={"X-A": "1"}, missing=missing)

    found = await answer(path)
    assert found is not missing
    assert (found.headers["content-length"], found.headers["x-a"]) == ("10", "1")
    assert found.headers["content-disposition"].startswith("attachment")
    path.unlink()
    assert await answer(path) is missing
    assert await answer(tmp_path) is missing  # a folder is no file either
