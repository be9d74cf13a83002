"""Recording a call (docs/recording.md): the owner starts and stops it, everyone in the room is told
(and newcomers before they join the call), a call that is peer to peer moves to the SFU, and Janus
writes each stream to a file of its own. A real server running a real Janus with aiortc peers,
inside a network namespace of its own (tests/sfu/netns)."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import httpx
import pytest
from recording_media import (
    FRAME_HEIGHT,
    FRAME_WIDTH,
    brightness,
    cell_brightness,
    gray_frame,
    mean_volume,
    probe,
    raw_files,
)

from videochat.peer import Peer

from support import ADMIN_PASSWORD, Recorder, eventually


@pytest.fixture
def sfu_server(server_factory):
    return server_factory(
        "--sfu-from", "3", env={"VIDEOCHAT_JANUS": "auto", "VIDEOCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD}
    )


async def test_the_owner_records_a_call_everyone_is_told_and_janus_writes_each_stream(sfu_server):
    server = sfu_server
    room = "recorded"
    owner = await Recorder(server.url).connect()
    listener = await Recorder(server.url).connect()
    outsider = await Recorder(server.url).connect()
    peers = [Peer(server.url, room, name=f"P{i}") for i in range(3)]
    try:
        assert (await owner.call("nickname", "Owner"))["ok"]
        first = await owner.call("enter_room", room)
        assert first["ok"] and first["recording"] is None
        assert (await listener.call("enter_room", room))["ok"]
        for peer in peers[:2]:
            await peer.start()
        await peers[1].wait_for_media(peers[0].id, kinds=("video",), frames=5)
        assert {peer.mode for peer in peers[:2]} == {"mesh"}

        # only the room's owner records it
        for client, code in ((listener, "not_owner"), (outsider, "not_in_room")):
            reply = await client.call("start_recording", room)
            assert reply["ok"] is False and reply["error"]["code"] == code, reply

        reply = await owner.call("start_recording", room)
        assert reply["ok"], (reply, server.log[-3000:])
        recording = reply["recording"]
        assert recording["by"] == {"id": owner.sid, "nickname": "Owner"} and len(recording["id"]) == 32
        for client in (owner, listener):
            (info,) = await client.wait_for("recording", lambda info: info["recording"] is not None)
            assert info == {"room": room, "recording": recording}
        assert not outsider.received("recording")
        # asked again: the same recording
        assert (await owner.call("start_recording", room))["recording"] == recording
        # the two-person mesh moved to the SFU, where Janus records every stream
        await eventually(lambda: all(peer.mode == "sfu" for peer in peers[:2]), timeout=30, what="the move to the SFU")
        folder = server.data_dir / "recordings" / recording["id"]
        raw = folder / "raw"
        await eventually(lambda: len(raw_files(raw)) >= 4, timeout=30, what="an audio and a video file per person")
        sizes = raw_files(raw)
        await eventually(
            lambda: all(raw_files(raw)[name] > size for name, size in sizes.items()),
            timeout=30,
            what="every stream's file growing",
        )
        manifest = json.loads((folder / "recording.json").read_text())
        assert sorted(s["nickname"] for s in manifest["streams"]) == ["P0", "P1"]
        assert {s["source"] for s in manifest["streams"]} == {"camera"}
        # someone entering now sees it before joining the call
        newcomer = await Recorder(server.url).connect()
        try:
            assert (await newcomer.call("enter_room", room))["recording"] == recording
        finally:
            await newcomer.disconnect()
        # a third person joins the recorded call: their streams are recorded too
        await peers[2].start()
        await eventually(lambda: len(raw_files(raw)) >= 6, timeout=30, what="the newcomer's streams recorded")

        reply = await owner.call("stop_recording", room)
        assert reply == {"ok": True, "room": room, "recording": None}
        (info,) = await listener.wait_for("recording", lambda info: info["recording"] is None)
        assert info == {"room": room, "recording": None, "by": {"id": owner.sid, "nickname": "Owner"}}
        manifest = json.loads((folder / "recording.json").read_text())
        assert manifest["stopped"] >= manifest["started"]
        assert (await listener.call("enter_room", room))["recording"] is None
    finally:
        for peer in peers:
            await peer.stop()
        for client in (owner, listener, outsider):
            await client.disconnect()


async def test_a_recording_stops_when_its_call_ends_and_needs_the_sfu(sfu_server, server_factory):
    server = sfu_server
    owner = await Recorder(server.url).connect()
    peer = Peer(server.url, "short", name="Solo")
    try:
        assert (await owner.call("enter_room", "short"))["ok"]
        await peer.start()
        recording = (await owner.call("start_recording", "short"))["recording"]
        await eventually(lambda: peer.mode == "sfu", timeout=30, what="a call of one on the SFU")
        await peer.stop()
        (info,) = await owner.wait_for("recording", lambda info: info["recording"] is None, timeout=20)
        assert info == {"room": "short", "recording": None, "reason": "call_ended"}
        manifest = json.loads((server.data_dir / "recordings" / recording["id"] / "recording.json").read_text())
        assert manifest["stopped"] is not None
    finally:
        await peer.stop()
        await owner.disconnect()
    # without an SFU there is nothing to record with: said so
    plain = server_factory("--janus", "off")
    owner = await Recorder(plain.url).connect()
    try:
        assert (await owner.call("enter_room", "plain"))["ok"]
        reply = await owner.call("start_recording", "plain")
        assert reply["ok"] is False and reply["error"]["code"] == "recording_unavailable", reply
    finally:
        await owner.disconnect()


# --- the one playable file -------------------------------------------------------------------

RECORD_SECONDS = 10.0
COOKIE = "videochat_browser"


async def test_a_recording_becomes_one_playable_file_its_owner_alone_can_open(sfu_server):
    """Three people for the whole recording and one who comes and goes in the middle: one MP4 of
    the recording's length, every voice in it, each person's tile in the grid while they were
    there; progress told to the owner; the file for the owner's browser alone."""
    server = sfu_server
    room = "processed"
    owner = await Recorder(server.url).connect()
    member = await Recorder(server.url).connect()
    stayers = [Peer(server.url, room, name=f"S{i}") for i in range(2)]
    visitor = Peer(server.url, room, name="Visitor")
    try:
        assert (await owner.call("enter_room", room))["ok"]
        assert (await member.call("enter_room", room))["ok"]
        owner_id = (await owner.call("browser_id"))["browserId"]
        member_id = (await member.call("browser_id"))["browserId"]
        for peer in stayers:
            await peer.start()
        recording = (await owner.call("start_recording", room))["recording"]
        raw = server.data_dir / "recordings" / recording["id"] / "raw"
        await eventually(lambda: len(raw_files(raw)) >= 4, timeout=30, what="the two stayers recorded")
        await asyncio.sleep(RECORD_SECONDS * 0.3)  # the recording's timeline: the visitor comes after 3 s
        await visitor.start()
        await eventually(lambda: len(raw_files(raw)) >= 6, timeout=30, what="the visitor recorded")
        await asyncio.sleep(RECORD_SECONDS * 0.3)  # and stays 3 s
        await visitor.stop()
        await asyncio.sleep(RECORD_SECONDS * 0.35)  # the rest of the recording's length
        assert (await owner.call("stop_recording", room))["ok"]

        # processed in the background: the owner sees it progress, then ready
        (ready,) = await owner.wait_for("recording_file", lambda info: info["state"] != "processing", timeout=120)
        assert ready["state"] == "ready", (ready, server.log[-3000:])
        assert ready["url"] == f"/recordings/{recording['id']}" and ready["room"] == room
        assert any(info["state"] == "processing" for (info,) in owner.received("recording_file"))
        assert not member.received("recording_file")
        folder = server.data_dir / "recordings" / recording["id"]
        output = folder / "recording.mp4"
        info = probe(output)
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
        duration = float(info["format"]["duration"])
        assert abs(duration - ready["duration"]) <= 1.0 and RECORD_SECONDS - 1 <= duration <= RECORD_SECONDS + 4
        assert mean_volume(output) > -60, "every voice is mixed in: not silence"
        # the grid (2x2 for three people): the stayers all along, the visitor only in the middle
        middle = cell_brightness(output, duration * 0.45)
        assert min(middle[:3]) > 20, middle
        for at in (0.5, duration - 0.7):
            cells = cell_brightness(output, at)
            assert min(cells[:2]) > 20 and cells[2] < 10, (at, cells)  # black: 5 (video black is 16 of 235)
        assert sorted(p.name for p in (folder / "tracks").iterdir()) == sorted(
            name.replace(".mjr", ".opus" if "audio" in name else ".webm") for name in raw_files(raw)
        )

        # its owner alone lists, plays (with seeking) and deletes it
        listed = (await owner.call("list_recordings", room))["recordings"]
        assert [r["id"] for r in listed] == [recording["id"]] and listed[0]["state"] == "ready"
        assert (await member.call("list_recordings", room))["recordings"] == []
        async with httpx.AsyncClient(base_url=server.url) as http:
            whole = await http.get(ready["url"], headers={"Cookie": f"{COOKIE}={owner_id}"})
            assert whole.status_code == 200 and whole.content == output.read_bytes()
            assert whole.headers["content-type"] == "video/mp4"
            assert whole.headers["content-disposition"].startswith("attachment;")
            part = await http.get(ready["url"], headers={"Cookie": f"{COOKIE}={owner_id}", "Range": "bytes=0-99"})
            assert part.status_code == 206 and len(part.content) == 100
            track = sorted((folder / "tracks").iterdir())[0].name
            assert (
                await http.get(f"{ready['url']}/tracks/{track}", headers={"Cookie": f"{COOKIE}={owner_id}"})
            ).status_code == 200
            for cookie in (f"{COOKIE}={member_id}", "", f"{COOKIE}={owner_id[:-3]}AAA"):
                refused = await http.get(ready["url"], headers={"Cookie": cookie} if cookie else {})
                assert refused.status_code == 403, cookie
            for path in (f"{ready['url']}/tracks/..%2F..%2Frecording.json", f"{ready['url']}/tracks/recording.json",
                         "/recordings/" + "0" * 32, f"/recordings/{recording['id'].upper()}"):  # fmt: skip
                response = await http.get(path, headers={"Cookie": f"{COOKIE}={owner_id}"})
                assert response.status_code in (403, 404) and b"by_key" not in response.content, path
            # the operator too, with the admin credentials
            operator = await http.get(f"/admin/recordings/{recording['id']}", auth=("admin", ADMIN_PASSWORD))
            assert operator.status_code == 200 and operator.content == output.read_bytes()
            assert (await http.get(f"/admin/recordings/{recording['id']}")).status_code == 401
        refused = await member.call("delete_recording", room, recording["id"])
        assert refused["error"]["code"] == "unknown_recording"
        assert (await owner.call("delete_recording", room, recording["id"]))["ok"]
        assert not folder.exists()
        assert (await owner.call("list_recordings", room))["recordings"] == []
    finally:
        for peer in (*stayers, visitor):
            await peer.stop()
        for client in (owner, member):
            await client.disconnect()


async def test_a_server_killed_while_recording_processes_the_raw_files_when_it_starts_again(sfu_server):
    server = sfu_server
    owner = await Recorder(server.url).connect()
    peers = [Peer(server.url, "killed", name=f"K{i}") for i in range(2)]
    try:
        assert (await owner.call("enter_room", "killed"))["ok"]
        owner_id = (await owner.call("browser_id"))["browserId"]
        for peer in peers:
            await peer.start()
        recording = (await owner.call("start_recording", "killed"))["recording"]
        raw = server.data_dir / "recordings" / recording["id"] / "raw"
        await eventually(lambda: len(raw_files(raw)) >= 4, timeout=30, what="both recorded")
        sizes = raw_files(raw)
        await eventually(lambda: all(raw_files(raw)[n] > 20_000 + s for n, s in sizes.items()), timeout=30,
                         what="a few seconds recorded")  # fmt: skip
    finally:
        for peer in peers:
            await peer.stop()
        await owner.disconnect()
    server.stop(signal.SIGKILL)
    server.start()
    owner = await Recorder(server.url, auth={"browserId": owner_id}).connect()
    try:
        assert (await owner.call("enter_room", "killed"))["ok"]

        async def ready() -> bool:
            (listed,) = (await owner.call("list_recordings", "killed"))["recordings"]
            assert listed["state"] in ("processing", "ready"), listed
            return listed["state"] == "ready"

        await eventually(ready, timeout=120, what="the recording processed after the restart")
        info = probe(server.data_dir / "recordings" / recording["id"] / "recording.mp4")
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
        assert float(info["format"]["duration"]) >= 1.0
    finally:
        await owner.disconnect()


async def test_the_quota_stops_a_recording_keeping_what_was_recorded_and_old_ones_expire(server_factory):
    """--recordings-max-gb of 1 MiB: the recording stops with a reason, its file is made all the
    same, and no other starts; --recordings-retention of 9 s: then it is deleted."""
    server = server_factory(
        "--sfu-from", "3", "--recordings-max-gb", "0.001", "--recordings-retention", "0.0001",
        env={"VIDEOCHAT_JANUS": "auto"},
    )  # fmt: skip
    owner = await Recorder(server.url).connect()
    peers = [Peer(server.url, "full", name=f"Q{i}") for i in range(2)]
    try:
        assert (await owner.call("enter_room", "full"))["ok"]
        for peer in peers:
            await peer.start()
        recording = (await owner.call("start_recording", "full"))["recording"]
        (stopped,) = await owner.wait_for("recording", lambda info: info["recording"] is None, timeout=60)
        assert stopped == {"room": "full", "recording": None, "reason": "quota"}
        (ready,) = await owner.wait_for("recording_file", lambda info: info["state"] != "processing", timeout=120)
        assert ready["state"] == "ready", ready
        folder = server.data_dir / "recordings" / recording["id"]
        info = probe(folder / "recording.mp4")
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
        refused = await owner.call("start_recording", "full")
        assert refused["ok"] is False and refused["error"]["code"] == "recordings_full", refused
        await eventually(lambda: not folder.exists(), timeout=30, what="the recording expired")
        assert (await owner.call("list_recordings", "full"))["recordings"] == []
    finally:
        for peer in peers:
            await peer.stop()
        await owner.disconnect()


async def test_a_failed_processing_says_why_and_can_be_tried_again_and_the_operator_sees_all(server_factory):
    """A recording whose raw files were lost (deleted while Janus wrote them): nothing to make a
    file of. The owner is told why, the folder is kept, and a retry runs it again (and says so
    again). A recording needs someone in the call. The operator lists and deletes it over HTTP with
    the admin credentials, and nobody else can."""
    server = server_factory(
        "--sfu-from", "3", env={"VIDEOCHAT_JANUS": "auto", "VIDEOCHAT_ADMIN_PASSWORD": ADMIN_PASSWORD}
    )
    owner = await Recorder(server.url).connect()
    peer = Peer(server.url, "empty-call", name="Lost")
    try:
        assert (await owner.call("enter_room", "empty-call"))["ok"]
        refused = await owner.call("start_recording", "empty-call")
        assert refused["error"]["code"] == "recording_unavailable" and "Nobody" in refused["error"]["message"]
        assert not (server.data_dir / "recordings").exists() or not any((server.data_dir / "recordings").iterdir())
        await peer.start()
        recording = (await owner.call("start_recording", "empty-call"))["recording"]
        raw = server.data_dir / "recordings" / recording["id"] / "raw"
        await eventually(lambda: len(raw_files(raw)) >= 2, timeout=30, what="the peer recorded")
        for path in raw.glob("*.mjr"):
            path.unlink()  # lost (Janus writes on into the unlinked files)
        assert (await owner.call("stop_recording", "empty-call"))["ok"]
        (failed,) = await owner.wait_for("recording_file", lambda info: info["state"] == "failed", timeout=60)
        assert failed["error"].startswith("Nothing was recorded"), failed
        assert (server.data_dir / "recordings" / recording["id"] / "recording.json").exists()
        again = await owner.call("retry_recording", "empty-call", recording["id"])
        assert again["ok"] and again["recording"]["state"] == "processing", again
        await owner.wait_for(
            "recording_file", lambda info: info["state"] == "failed" and len(owner.received("recording_file")) > 1
        )
        stranger = await Recorder(server.url).connect()
        try:
            assert (await stranger.call("enter_room", "empty-call"))["ok"]
            refused = await stranger.call("retry_recording", "empty-call", recording["id"])
            assert refused["error"]["code"] == "unknown_recording"
        finally:
            await stranger.disconnect()
        async with httpx.AsyncClient(base_url=server.url) as http:
            for auth in (None, ("admin", "wrong"), ("someone", ADMIN_PASSWORD)):
                refused = await http.get("/admin/recordings", auth=auth)
                assert refused.status_code == 401 and "WWW-Authenticate" in refused.headers, auth
                assert recording["id"] not in refused.text
            listed = (await http.get("/admin/recordings", auth=("admin", ADMIN_PASSWORD))).json()["recordings"]
            assert [(r["id"], r["room"], r["state"]) for r in listed] == [(recording["id"], "empty-call", "failed")]
            assert (
                await http.delete(f"/admin/recordings/{recording['id']}", auth=("admin", "wrong"))
            ).status_code == 401
            deleted = await http.delete(f"/admin/recordings/{recording['id']}", auth=("admin", ADMIN_PASSWORD))
            assert deleted.json() == {"ok": True, "id": recording["id"]}
            assert not (server.data_dir / "recordings" / recording["id"]).exists()
            assert (await owner.call("list_recordings", "empty-call"))["recordings"] == []
    finally:
        await peer.stop()
        await owner.disconnect()


async def test_a_recording_goes_on_when_its_janus_is_killed_and_each_person_keeps_one_tile(sfu_server):
    """kill -9 of Janus while recording: the call moves to the restarted one, the streams are
    recorded again there (new files), and the file shows each person in one tile throughout, not
    one tile per file."""
    server = sfu_server
    owner = await Recorder(server.url).connect()
    peers = [Peer(server.url, "moved", name=f"M{i}") for i in range(2)]
    try:
        assert (await owner.call("enter_room", "moved"))["ok"]
        for peer in peers:
            await peer.start()
        recording = (await owner.call("start_recording", "moved"))["recording"]
        raw = server.data_dir / "recordings" / recording["id"] / "raw"
        await eventually(lambda: len(raw_files(raw)) >= 4, timeout=30, what="both recorded")
        sizes = raw_files(raw)
        await eventually(lambda: all(raw_files(raw)[n] > s + 20_000 for n, s in sizes.items()), timeout=30,
                         what="a few seconds recorded before the kill")  # fmt: skip
        janus = int(
            next(line for line in server.log.splitlines() if "Janus started" in line).split("pid=")[1].split()[0]
        )
        moves = [peer.sfu_moves for peer in peers]
        os.kill(janus, signal.SIGKILL)
        await eventually(lambda: all(p.sfu_moves > m for p, m in zip(peers, moves, strict=True)), timeout=30,
                         what="publishing again")  # fmt: skip
        await eventually(lambda: len(raw_files(raw)) >= 8, timeout=30, what="recorded again on the new Janus")
        later = raw_files(raw)
        await eventually(lambda: all(raw_files(raw)[n] > s + 20_000 for n, s in later.items() if n not in sizes),
                         timeout=30, what="a few seconds recorded after the move")  # fmt: skip
        assert (await owner.call("stop_recording", "moved"))["ok"]
        (ready,) = await owner.wait_for("recording_file", lambda info: info["state"] != "processing", timeout=120)
        assert ready["state"] == "ready", ready
        output = server.data_dir / "recordings" / recording["id"] / "recording.mp4"
        duration = float(probe(output)["format"]["duration"])
        # two people, two tiles side by side (each picture letterboxed to the middle half of the
        # height), both lit before and after the move; one tile per file would be a 2x2 grid whose
        # upper row is dark after the move and whose lower row is dark before it
        for at, band in ((duration * 0.15, (0.55, 0.72)), (duration * 0.9, (0.28, 0.45))):
            left, right = halves_brightness(output, at, band)
            assert left > 20 and right > 20, (at, band, left, right)
    finally:
        for peer in peers:
            await peer.stop()
        await owner.disconnect()


def halves_brightness(path, at: float, band: tuple[float, float]) -> tuple[float, float]:
    """The mean brightness of the left and right halves of the frame at `at` seconds, within the
    horizontal band `band` (shares of the height from the top)."""
    raw = gray_frame(path, at)
    rows = range(round(band[0] * FRAME_HEIGHT), round(band[1] * FRAME_HEIGHT))
    half = FRAME_WIDTH // 2
    left, right = (brightness(raw, rows, range(h * half + 4, h * half + half - 4)) for h in (0, 1))
    return left, right


async def test_two_starts_at_once_make_one_recording_and_a_call_leaving_the_sfu_stops_it(sfu_server):
    """Both of the owner's buttons pressed at once: one recording. Then a participant whose media
    cannot reach Janus takes the call back to peer to peer: the recording stops and says why,
    rather than showing "● Recording" while nothing is written."""
    server = sfu_server
    owner = await Recorder(server.url).connect()
    peer = Peer(server.url, "twice", name="Talker")
    stranded = await Recorder(server.url).connect()
    try:
        assert (await owner.call("enter_room", "twice"))["ok"]
        await peer.start()
        replies = await asyncio.gather(*(owner.call("start_recording", "twice") for _ in range(3)))
        started = [reply["recording"]["id"] for reply in replies if reply["ok"]]
        assert started and len(set(started)) == 1, replies
        assert all(r["error"]["code"] == "recording_unavailable" for r in replies if not r["ok"]), replies
        assert [p.name for p in (server.data_dir / "recordings").iterdir()] == started
        # someone joins the recorded call on the SFU but never sends it anything, and says so
        await eventually(lambda: peer.mode == "sfu", timeout=30, what="the call on the SFU")
        assert (await stranded.call("join_room", "twice", {"sfu": True}))["ok"]
        assert (await stranded.call("sfu_status", {"room": "twice", "ok": False}))["mode"] == "mesh"
        (stopped,) = await owner.wait_for("recording", lambda info: info["recording"] is None, timeout=20)
        assert stopped == {"room": "twice", "recording": None, "reason": "sfu_lost"}
    finally:
        await peer.stop()
        for client in (owner, stranded):
            await client.disconnect()
