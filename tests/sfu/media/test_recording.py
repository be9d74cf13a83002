"""Recording a call (docs/recording.md): the owner starts and stops it, everyone in the room is told
(and newcomers before they join the call), a call that is peer to peer moves to the SFU, and Janus
writes each stream to a file of its own. A real server running a real Janus with aiortc peers,
inside a network namespace of its own (tests/sfu/netns)."""

from __future__ import annotations

import json

import pytest

from videochat.peer import Peer

from support import Recorder, eventually


@pytest.fixture
def sfu_server(server_factory):
    return server_factory("--sfu-from", "3", env={"VIDEOCHAT_JANUS": "auto"})


def raw_files(folder) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in folder.glob("*.mjr")} if folder.exists() else {}


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
