"""Calls on the SFU with several processes (--redis): two videochat processes on a real Redis,
sharing a real Janus run elsewhere (--janus URL), aiortc peers spread over both processes
(docs/sfu.md, "Several processes")."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from recording_media import cell_brightness, probe, raw_files

from videochat.peer import Peer
from videochat.web.cookies import BROWSER_COOKIE as COOKIE

from redis_server import ProcessGroup
from support import Recorder, eventually

PLACEMENTS = "videochat:sfu-calls"


@pytest.fixture
def sfu_group(tmp_path, two_janus, redis_server):
    secret, instances = two_janus
    secret_file = tmp_path / "janus-secret"
    secret_file.write_text(secret + "\n")
    urls = ",".join(janus.url for janus in instances)
    group = ProcessGroup(
        tmp_path / "group",
        redis_server,
        *("--sfu-from", "3", "--janus", urls, "--janus-secret-file", str(secret_file), "--redis-heartbeat", "0.5"),
        *("--recordings-dir", str(tmp_path / "recordings")),  # one folder for all, as recording.md says
    ).start()
    yield group, instances, secret
    group.stop()


async def everyone_receives_everyone(peers: list[Peer], frames: int = 10) -> None:
    for receiver in peers:
        for sender in peers:
            if sender is not receiver:
                await eventually(
                    lambda r=receiver, s=sender: s.id in r.peers and r.peers[s.id].sfu_frames >= frames,
                    timeout=40,
                    what=f"frames from {sender.name} at {receiver.name} through the SFU ({receiver.describe()})",
                )


async def call_on_the_sfu(peers: list[Peer]) -> None:
    """The peers join one after the other, the call moves to the SFU, and everyone receives everyone."""
    for peer in peers:
        await peer.start()
    await eventually(lambda: all(p.mode == "sfu" for p in peers) or None, what="the move to the SFU")
    await everyone_receives_everyone(peers)


async def placement(redis_server, room: str) -> bytes | None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_server.url)
    try:
        return await client.hget(PLACEMENTS, room)
    finally:
        await client.aclose()


def opened(group: ProcessGroup, room: str) -> list[str]:
    """The processes' log lines that say the call went on Janus: which opened it, which joined it."""
    return [
        line
        for process in group.processes
        for line in process.log.splitlines()
        if "call on Janus" in line and f"room={room} " in line + " "
    ]


async def test_a_call_spread_over_two_processes_is_one_call_on_one_janus(sfu_group, redis_server):
    """Three people on two processes: the call moves to the SFU once, both processes put their
    people in the same Janus room, and everyone receives everyone. A fourth person on the other
    process comes in; when everyone has gone the Janus room and the placement go, and the next
    call in the room starts again as a mesh."""
    group, instances, secret = sfu_group
    a, b = group.urls
    room = "spread"
    peers = [Peer(url, room, name=name) for url, name in ((a, "A0"), (b, "B1"), (a, "A2"))]
    try:
        await call_on_the_sfu(peers)
        lines = opened(group, room)
        assert len(lines) == 2, lines  # opened by one process, joined there by the other
        assert sum("opened=elsewhere" in line for line in lines) == 1, lines
        assert len({line.split("janus=")[1].split()[0] for line in lines}) == 1, lines  # the same Janus
        assert await placement(redis_server, room) is not None

        late = Peer(b, room, name="B3")
        peers.append(late)
        await late.start()
        assert late.mode == "sfu"
        await everyone_receives_everyone(peers)

        # someone on the first process leaves: the others stop receiving them, the call goes on
        gone = peers.pop(0)
        await gone.stop()
        for peer in peers:
            await peer.wait_for_departure(gone.id)
        await everyone_receives_everyone(peers, frames=20)
    finally:
        for peer in peers:
            await peer.stop()
    # the call is over: its Janus room is destroyed and its placement freed

    async def freed() -> bool:
        return await placement(redis_server, room) is None

    await eventually(freed, what="the placement freed")
    assert any("call off Janus" in p.log and f"room={room}" in p.log for p in group.processes)
    assert secret not in group.log
    again = [Peer(url, room, name=name) for url, name in ((b, "B5"), (a, "A6"))]
    try:
        for peer in again:
            await peer.start()
        assert {p.mode for p in again} == {"mesh"}
    finally:
        for peer in again:
            await peer.stop()


async def test_two_processes_moving_one_call_at_once_agree_on_one_placement(sfu_group, redis_server):
    """Two people in a mesh, one on each process; two more join at the same moment, one on each:
    each process sees its join make the call three and moves it. One placement wins; the other
    process's Janus room goes, its people join the winner's, and everyone receives everyone."""
    group, _, _ = sfu_group
    a, b = group.urls
    room = "both-at-once"
    first = [Peer(a, room, name="A0"), Peer(b, room, name="B1")]
    peers = list(first)
    try:
        for peer in first:
            await peer.start()
        await eventually(lambda: all(p.peers for p in first) or None, what="the two to see each other")
        together = [Peer(a, room, name="A2"), Peer(b, room, name="B3")]
        peers += together
        await asyncio.gather(*(peer.start() for peer in together))
        await eventually(lambda: all(p.mode == "sfu" for p in peers) or None, what="the move to the SFU")
        await everyone_receives_everyone(peers)
        lines = opened(group, room)
        joined = [line for line in lines if "opened=elsewhere" in line]
        assert len(lines) - len(joined) >= 1 and joined, lines
        print(f"\n{len(lines) - len(joined)} process(es) opened a Janus room; {len(joined)} joined another's")
    finally:
        for peer in peers:
            await peer.stop()


def placed_on(group: ProcessGroup, room: str) -> str:
    """The Janus instance the call was last opened on (by whichever process opened it)."""
    lines = [line for line in opened(group, room) if "opened=elsewhere" not in line]
    return lines[-1].split("janus=")[1].split()[0]


async def test_when_the_call_s_janus_dies_both_processes_move_it_to_the_same_other_one(sfu_group, redis_server):
    """kill -9 of the Janus a call spread over two processes is on: each process sees it die and
    moves its own people; one new placement wins, on the other Janus, and media resumes for everyone."""
    group, instances, _ = sfu_group
    a, b = group.urls
    room = "janus-dies"
    peers = [Peer(url, room, name=name) for url, name in ((a, "A0"), (b, "B1"), (a, "A2"), (b, "B3"))]
    try:
        for peer in peers:
            await peer.start()
        await eventually(lambda: all(p.mode == "sfu" for p in peers) or None, what="the move to the SFU")
        await everyone_receives_everyone(peers)
        before = await placement(redis_server, room)
        victim = next(j for j in instances if j.name == placed_on(group, room))
        moves = [p.sfu_moves for p in peers]
        loop = asyncio.get_running_loop()
        victim.process.kill()
        killed_at = loop.time()
        await eventually(
            lambda: all(p.sfu_moves > m for p, m in zip(peers, moves, strict=True)) or None,
            timeout=30,
            what="everyone told the call moved",
        )
        for peer in peers:
            for remote in peer.peers.values():
                remote.sfu_frames = 0
        await everyone_receives_everyone(peers)
        print(f"\nmedia flowing again for all four {loop.time() - killed_at:.1f} s after kill -9 of their Janus")
        after = await placement(redis_server, room)
        assert after is not None and after != before
        survivor = next(j for j in instances if j is not victim)
        assert survivor.name in after.decode()
    finally:
        for peer in peers:
            await peer.stop()


async def test_a_process_killed_mid_call_takes_only_its_own_people_out(sfu_group, redis_server):
    """kill -9 of one of the two processes: the other buries its people (they stop being
    received, the room hears they left), and the rest of the call goes on through the SFU."""
    group, _, _ = sfu_group
    a, b = group.urls
    room = "process-dies"
    ours = [Peer(a, room, name="A0"), Peer(a, room, name="A1"), Peer(a, room, name="A2")]
    theirs = Peer(b, room, name="B3")
    try:
        for peer in (*ours, theirs):
            await peer.start()
        await eventually(lambda: all(p.mode == "sfu" for p in (*ours, theirs)) or None, what="the move to the SFU")
        await everyone_receives_everyone([*ours, theirs])
        group.processes[1].process.kill()
        for peer in ours:
            await peer.wait_for_departure(theirs.id, timeout=30)
        for peer in ours:
            for remote in peer.peers.values():
                remote.sfu_frames = 0
        await everyone_receives_everyone(ours)
        assert theirs.id not in ours[0].peers
    finally:
        for peer in ours:
            await peer.stop()
        await theirs.stop()
    # the last of the call left on the living process: the call's placement goes

    async def freed() -> bool:
        return await placement(redis_server, room) is None

    await eventually(freed, what="the placement freed")


async def test_a_recording_of_a_call_spread_over_two_processes_is_one_file_with_everyone(
    sfu_group, redis_server, tmp_path
):
    """The owner on one process records a call whose people are on both: a newcomer on the other
    process is told before joining, both processes' people are recorded into one folder, the call
    ending on the other process stops it, and its home makes one file with every person's tile."""
    group, _, _ = sfu_group
    a, b = group.urls
    room = "recorded-spread"
    owner = await Recorder(a).connect()
    peers = [Peer(url, room, name=name) for url, name in ((a, "A0"), (b, "B1"), (b, "B2"))]
    newcomer = await Recorder(b).connect()
    try:
        assert (await owner.call("enter_room", room))["ok"]
        for peer in peers:
            await peer.start()
        await eventually(lambda: all(p.mode == "sfu" for p in peers) or None, timeout=30, what="the call on the SFU")
        reply = await owner.call("start_recording", room)
        assert reply["ok"], reply
        recording = reply["recording"]
        # the state is the same on the other process: its newcomer is told before joining the call
        entered = await newcomer.call("enter_room", room)
        assert entered["ok"] and entered["recording"] == recording, entered
        folder = tmp_path / "recordings" / recording["id"]
        raw = folder / "raw"
        await eventually(lambda: len(raw_files(raw)) >= 6, timeout=30, what="an audio and a video file per person")
        sizes = raw_files(raw)
        await eventually(
            lambda: all(raw_files(raw)[name] > size + 20_000 for name, size in sizes.items() if "video" in name),
            timeout=30,
            what="every video file growing",
        )
        # the home keeps one recording.json with every stream, whichever process recorded it
        manifest = json.loads((folder / "recording.json").read_text())
        # (a stream whose publishing crossed the start may be there twice: its files share one tile)
        assert {s["nickname"] for s in manifest["streams"]} == {"A0", "B1", "B2"}, manifest
        assert len({s["base"][4:] for s in manifest["streams"]}) == 2  # each process's files, told apart
        # the call ends: its last people were on the other process
        for peer in peers:
            await peer.stop()
        (stopped,) = await owner.wait_for("recording", lambda info: info["recording"] is None, timeout=30)
        assert stopped.get("reason") == "call_ended", stopped
        (ready,) = await owner.wait_for("recording_file", lambda info: info["state"] != "processing", timeout=120)
        assert ready["state"] == "ready", (ready, group.log[-3000:])
        output = folder / "recording.mp4"
        info = probe(output)
        assert {s["codec_type"] for s in info["streams"]} == {"video", "audio"}
        cells = cell_brightness(output, float(info["format"]["duration"]) / 2)
        assert min(cells[:3]) > 20, cells  # a 2x2 grid: the three people's tiles
        assert sum("processing a recording" in p.log for p in group.processes) == 0  # nothing left over
        # the other process serves it to its owner's browser too, and the tracks its own people made
        owner_key = (await owner.call("browser_id"))["browserId"]
        tagged = sorted(t.name for t in (folder / "tracks").iterdir() if t.name[4:5] == "p")
        async with httpx.AsyncClient(base_url=b, headers={"Cookie": f"{COOKIE}={owner_key}"}) as http:
            whole = await http.get(ready["url"])
            assert whole.status_code == 200 and whole.content == output.read_bytes()
            track = await http.get(f"{ready['url']}/tracks/{tagged[0]}")
            assert track.status_code == 200 and track.content == (folder / "tracks" / tagged[0]).read_bytes()
            assert (await http.get(ready["url"], headers={"Cookie": ""})).status_code == 403
        # ids that are not a recording's are never read as paths, whatever a client sends
        for wrong in ("../../recordings", "/etc", 7, None, ["x"], "a" * 32):
            refused = await owner.call("delete_recording", room, wrong)
            assert refused["ok"] is False and refused["error"]["code"] == "unknown_recording", (wrong, refused)
    finally:
        for peer in peers:
            await peer.stop()
        await owner.disconnect()
        await newcomer.disconnect()


async def test_a_recording_whose_process_is_killed_is_finished_by_the_other(sfu_group, redis_server, tmp_path):
    """kill -9 of the process where a recording started (its home): the other process's people
    are still recorded, that process becomes its home, and the call ending there makes the file."""
    group, _, _ = sfu_group
    a, b = group.urls
    room = "recorded-home-dies"
    owner = await Recorder(a).connect()
    here = Peer(a, room, name="A0")
    there = [Peer(b, room, name=name) for name in ("B1", "B2")]
    try:
        assert (await owner.call("enter_room", room))["ok"]
        for peer in (here, *there):
            await peer.start()
        await eventually(lambda: all(p.mode == "sfu" for p in (here, *there)) or None, timeout=30, what="the SFU")
        recording = (await owner.call("start_recording", room))["recording"]
        folder = tmp_path / "recordings" / recording["id"]
        await eventually(lambda: len(raw_files(folder / "raw")) >= 6, timeout=30, what="everyone recorded")
        group.processes[0].process.kill()
        for peer in there:
            await peer.wait_for_departure(here.id, timeout=30)
        await group.processes[1].wait_log("a recording's process is gone", timeout=30)
        for peer in there:
            await peer.stop()

        def made() -> dict | None:
            kept = json.loads((folder / "recording.json").read_text())
            return kept if kept["state"] in ("ready", "failed") else None

        kept = await eventually(made, timeout=120, what="the file made by the process left")
        assert kept["state"] == "ready", (kept, group.processes[1].log[-3000:])
        assert {s["nickname"] for s in kept["streams"]} == {"A0", "B1", "B2"}
        assert {s["codec_type"] for s in probe(folder / "recording.mp4")["streams"]} == {"video", "audio"}
    finally:
        for peer in (here, *there):
            await peer.stop()
        await owner.disconnect()


@pytest.mark.parametrize("left_behind", ["a room Janus no longer has", "a Janus no longer configured"])
async def test_a_placement_left_behind_is_replaced_by_the_next_call(sfu_group, redis_server, left_behind):
    """A placement that outlived its call (every process stopped at once, or the operator changed
    --janus) is noticed by the next move in that room and replaced: the call goes on the SFU."""
    import redis.asyncio as aioredis

    group, instances, _ = sfu_group
    a, b = group.urls
    room = "left-behind-" + ("room" if "room" in left_behind else "janus")
    instance = instances[0].name if "room" in left_behind else "10.9.9.9:8188"
    stale = {"instance": instance, "number": 4242, "pin": "stale", "secret": "stale"}
    client = aioredis.Redis.from_url(redis_server.url)
    await client.hset(PLACEMENTS, room, json.dumps(stale, sort_keys=True, separators=(",", ":")))
    await client.aclose()
    peers = [Peer(url, room, name=name) for url, name in ((a, "A0"), (b, "B1"), (a, "A2"))]
    try:
        await call_on_the_sfu(peers)
        now = json.loads(await placement(redis_server, room))
        assert now["number"] != 4242 and now["instance"] in {j.name for j in instances}, now
        assert any("a stale call placement is replaced" in p.log for p in group.processes)
    finally:
        for peer in peers:
            await peer.stop()
