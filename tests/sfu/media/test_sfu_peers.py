"""Calls on the SFU with aiortc peers (videochat.peer.Peer): a real server running a real Janus,
inside a network namespace of its own (tests/sfu/netns)."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest

from videochat.peer import Peer

from support import Recorder, eventually, scrape

NETNS_ADDRESS = os.environ.get("VIDEOCHAT_NETNS", "")


@pytest.fixture
def sfu_server(server_factory):
    def start(*args: str):
        return server_factory("--sfu-from", "3", *args, env={"VIDEOCHAT_JANUS": "auto"})

    return start


async def until(condition, timeout: float = 30.0, what: str = "a condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        await asyncio.sleep(0.05)


async def test_a_call_of_three_moves_to_the_sfu_and_everyone_receives_everyone(sfu_server):
    server = sfu_server()
    peers = [Peer(server.url, "sfu-three", name=f"P{i}") for i in range(3)]
    try:
        for peer in peers[:2]:
            await peer.start()
        await until(lambda: all(p.peers for p in peers[:2]), what="the two to see each other")
        assert {p.mode for p in peers[:2]} == {"mesh"}
        await peers[1].wait_for_media(peers[0].id, kinds=("video",), frames=5)
        await peers[2].start()
        await until(lambda: all(p.mode == "sfu" for p in peers), what="the move to the SFU")
        for receiver in peers:
            for sender in peers:
                if sender is receiver:
                    continue
                await until(
                    lambda r=receiver, s=sender: s.id in r.peers and r.peers[s.id].sfu_frames >= 20,
                    timeout=30,
                    what=f"frames from {sender.name} at {receiver.name} through the SFU ({receiver.describe()})",
                )
        # make before break: the mesh connections are gone once the SFU carries the media
        await until(lambda: all(r.pc is None for p in peers for r in p.peers.values()), what="the mesh closing")
        await server.wait_log("call on Janus")
    finally:
        for peer in peers:
            await peer.stop()


async def test_metrics_show_the_bitrate_the_local_janus_receives_and_forwards(sfu_server):
    """Three people on the SFU: Janus receives each one's stream and forwards it to the two others,
    so /metrics shows about twice as many bits/s going out as coming in (read from Janus's admin
    API, sfu/traffic.py); when the call ends, both fall to 0."""
    server = sfu_server()
    peers = [Peer(server.url, "sfu-traffic", name=f"T{i}") for i in range(3)]
    local = frozenset({("instance", "local")})

    async def rates() -> tuple[float, float]:
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = scrape((await http.get("/metrics")).text)
        return metrics[("videochat_janus_received_bitrate", local)], metrics[
            ("videochat_janus_forwarded_bitrate", local)
        ]

    try:
        assert await rates() == (0, 0)
        for peer in peers:
            await peer.start()
        await until(lambda: all(p.mode == "sfu" for p in peers), what="the move to the SFU")
        await until(
            lambda: all(len(p.peers) == 2 and all(r.sfu_frames >= 20 for r in p.peers.values()) for p in peers),
            what="everyone receiving everyone through the SFU",
        )

        async def flowing():
            received, forwarded = await rates()
            return (received, forwarded) if received > 50_000 and forwarded > 50_000 else None

        received, forwarded = await eventually(flowing, timeout=20, what="the bitrates in /metrics")
        assert 1.2 < forwarded / received < 3.0, (received, forwarded)
    finally:
        for peer in peers:
            await peer.stop()

    async def quiet() -> bool:
        return await rates() == (0, 0)

    await eventually(quiet, timeout=20, what="the bitrates back to 0")


async def test_senders_only_reach_the_others_through_the_sfu_receive_nothing_and_drop_their_mesh(sfu_server):
    """`--send-only` (the eight-person browser test's robots): the two senders' mesh goes once they
    publish, the listener gets both through the SFU, and Janus sends the senders nothing."""
    server = sfu_server()
    senders = [
        Peer(server.url, "sfu-send-only", name=f"S{i}", receive_video=False, receive_audio=False) for i in range(2)
    ]
    listener = Peer(server.url, "sfu-send-only", name="L")
    peers = [*senders, listener]
    try:
        for peer in senders:
            await peer.start()
        await senders[1].wait_for_media(senders[0].id, kinds=("video",), frames=5)  # a mesh first
        await listener.start()
        await until(lambda: all(p.mode == "sfu" for p in peers), what="the move to the SFU")
        for sender in senders:
            await until(
                lambda s=sender: s.id in listener.peers and listener.peers[s.id].sfu_frames >= 20,
                what=f"{sender.name}'s frames at the listener ({listener.describe()})",
            )
        await until(lambda: all(r.pc is None for p in senders for r in p.peers.values()), what="the mesh closing")
        assert all(r.sfu_frames == 0 for p in senders for r in p.peers.values())
    finally:
        for peer in peers:
            await peer.stop()


async def test_janus_killed_mid_call_is_restarted_and_the_call_resumes_there(sfu_server):
    """kill -9 of the only Janus: videochat restarts it, moves the call onto it (call_mode with
    moved), everyone publishes again, and media flows through the SFU again without a reload."""
    server = sfu_server()
    peers = [Peer(server.url, "sfu-kill", name=f"K{i}") for i in range(3)]
    try:
        for peer in peers:
            await peer.start()
        await until(lambda: all(p.mode == "sfu" for p in peers), what="the move to the SFU")
        await until(lambda: all(all(r.sfu_frames >= 10 for r in p.peers.values()) and len(p.peers) == 2 for p in peers))
        janus = int(
            next(line for line in server.log.splitlines() if "Janus started" in line).split("pid=")[1].split()[0]
        )
        moves = [p.sfu_moves for p in peers]
        os.kill(janus, signal.SIGKILL)
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        await until(lambda: all(p.sfu_moves > m for p, m in zip(peers, moves, strict=True)), what="publishing again")
        await until(
            lambda: all(all(r.sfu_frames >= 10 for r in p.peers.values()) for p in peers),
            what="media through the restarted Janus",
        )
        print(f"\nmedia flowing again {loop.time() - killed_at:.1f} s after kill -9 of Janus")
        await server.wait_log("call moved")
        assert all(p.mode == "sfu" for p in peers)
    finally:
        for peer in peers:
            await peer.stop()


async def test_when_media_cannot_reach_janus_the_call_goes_back_to_a_mesh(sfu_server):
    """One participant's connections to Janus fail (here: a network that only allows TURN relays,
    and no TURN server given): it says so (sfu_status), and the call goes back to peer to peer for
    everyone, and stays so until it empties."""
    server = sfu_server()
    peers = [Peer(server.url, "sfu-unreachable", name=f"U{i}") for i in range(2)]
    peers.append(Peer(server.url, "sfu-unreachable", name="Walled", ice_servers=[], ice_transport_policy="relay"))
    try:
        for peer in peers:
            await peer.start()
        await until(lambda: all(p.sfu_moves for p in peers), what="the move to the SFU")
        await until(lambda: all(p.mode == "mesh" for p in peers), timeout=90, what="the call back to a mesh")
        await peers[0].wait_for_media(peers[1].id, kinds=("video",), frames=10, timeout=60)
        await peers[1].wait_for_media(peers[0].id, kinds=("video",), frames=10, timeout=60)
        await server.wait_log("media cannot reach the SFU", "call back to peer to peer")
        # it stays a mesh until the call empties: a fourth does not move it again
        fourth = Peer(server.url, "sfu-unreachable", name="U3")
        peers.append(fourth)
        await fourth.start()
        assert fourth.mode == "mesh"
    finally:
        for peer in peers:
            await peer.stop()


async def join(server, room: str) -> tuple[Recorder, dict]:
    client = await Recorder(server.url).connect()
    return client, await client.call("join_room", room, {"sfu": True})


async def publish_pattern(client: Recorder, pc, room: str) -> None:
    """Once the call is on the SFU, `client` publishes a tone and a moving pattern on aiortc's `pc`."""
    from aiortc import RTCSessionDescription

    from videochat.peer.patterns import PatternVideoTrack, ToneAudioTrack

    await client.wait_for("call_mode")
    pc.addTrack(ToneAudioTrack())
    pc.addTrack(PatternVideoTrack())
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    reply = await client.call("sfu_publish", {"room": room, "source": "camera", "offer": offer})
    assert reply["ok"] and reply["answer"]["type"] == "answer", reply
    await pc.setRemoteDescription(RTCSessionDescription(reply["answer"]["sdp"], "answer"))


async def test_a_publisher_is_offered_to_the_others_in_the_ids_of_people(sfu_server):
    """call_mode and sfu_offer at the protocol level: an aiortc connection publishes through a
    python-socketio client; once Janus receives it, the others get an offer naming whose it is.
    Its sender cannot say the SFU is unreachable (Janus saw its connection come up); someone whose
    connections never came up can."""
    room = "sfu-offered"
    server = sfu_server()
    from aiortc import RTCPeerConnection

    clients = [(await join(server, room))[0] for _ in range(3)]
    pc = RTCPeerConnection()
    try:
        await publish_pattern(clients[0], pc, room)
        for client in clients[1:]:
            (info,) = await client.wait_for("sfu_offer", timeout=20)
            assert info["room"] == room and info["offer"]["type"] == "offer" and info["seq"] == 1
            assert sorted((s["kind"], s["id"], s["source"]) for s in info["streams"]) == [
                ("audio", clients[0].sid, "camera"),
                ("video", clients[0].sid, "camera"),
            ]
        assert not clients[0].received("sfu_offer")  # nobody else publishes: nothing to receive
        # a layer for a mid that was offered is taken; one that was not, refused
        video = next(s["mid"] for s in info["streams"] if s["kind"] == "video")
        assert (await clients[2].call("sfu_layers", {"room": room, "layers": [{"mid": video, "substream": 0}]}))["ok"]
        # not received for now (--last-n), then again: Janus takes both
        for layer in ({"mid": video, "send": False}, {"mid": video, "substream": 1}):
            assert (await clients[2].call("sfu_layers", {"room": room, "layers": [layer]}))["ok"], layer
        refused = await clients[0].call("sfu_layers", {"room": room, "layers": [{"mid": video, "substream": 0}]})
        assert refused["error"]["code"] == "sfu_failed"
        # the publisher's network reaches Janus: its report is refused, the call stays on the SFU
        reachable = await clients[0].call("sfu_status", {"room": room, "ok": False})
        assert reachable["ok"] is False and reachable["error"]["code"] == "sfu_reachable", reachable
        assert [info["mode"] for (info,) in clients[1].received("call_mode")] == ["sfu"]
        # a participant none of whose connections came up is believed: back to a mesh
        assert (await clients[1].call("sfu_status", {"room": room, "ok": False}))["mode"] == "mesh"
        await clients[0].wait_for("call_mode", lambda info: info["mode"] == "mesh")
    finally:
        await pc.close()
        for client in clients:
            await client.disconnect()


async def test_an_offer_left_unanswered_is_followed_by_a_fresh_subscription_that_carries_media(sfu_server):
    """A browser that does not answer its offer in time (a page starved of CPU): Janus would never
    start that connection, so the server subscribes it afresh (a new handle, `fresh: true`), and
    the answer to that one brings the media. A late answer to the old offer is refused."""
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from videochat.sfu.calls import ANSWER_SECONDS

    room = "sfu-fresh"
    server = sfu_server()
    clients = [(await join(server, room))[0] for _ in range(3)]
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    try:
        await publish_pattern(clients[0], sender, room)
        (first,) = await clients[1].wait_for("sfu_offer", timeout=20)
        assert first["fresh"] is True and first["seq"] == 1  # the first offer makes a connection too
        # no answer: after ANSWER_SECONDS the server starts the subscription again
        (second,) = await clients[1].wait_for("sfu_offer", lambda info: info["seq"] == 2, timeout=ANSWER_SECONDS + 15)
        assert second["fresh"] is True and second["seq"] == 2, second
        late = await clients[1].call("sfu_answer", {"room": room, "seq": 1, "answer": {"type": "answer", "sdp": "v=0"}})
        assert late["ok"] is False and late["error"]["code"] in ("sfu_failed", "invalid_sfu_request"), late
        frames: list[str] = []

        async def count(track) -> None:
            while True:
                await track.recv()
                frames.append(track.kind)

        tasks = []
        receiver.on("track", lambda track: tasks.append(asyncio.ensure_future(count(track))))
        await receiver.setRemoteDescription(RTCSessionDescription(second["offer"]["sdp"], "offer"))
        await receiver.setLocalDescription(await receiver.createAnswer())
        answer = {"type": "answer", "sdp": receiver.localDescription.sdp}
        assert (await clients[1].call("sfu_answer", {"room": room, "seq": 2, "answer": answer}))["ok"]
        await until(
            lambda: frames.count("video") >= 10 and frames.count("audio") >= 10, what="media on the fresh subscription"
        )
        await server.wait_log("subscribing afresh")
        for task in tasks:
            task.cancel()
    finally:
        await sender.close()
        await receiver.close()
        for client in clients:
            await client.disconnect()


async def test_calls_spread_over_two_janus_and_move_when_one_is_killed(server_factory, two_janus, tmp_path):
    """--janus with two instances: two calls go to different instances (the least loaded), and
    kill -9 of one moves its call to the other, media resuming without a reload."""
    secret, (first, second) = two_janus
    secret_file = tmp_path / "janus-secret"
    secret_file.write_text(secret + "\n")
    server = server_factory(
        "--sfu-from", "3", "--janus", f"{first.url},{second.url}", "--janus-secret-file", str(secret_file)
    )
    calls = {room: [Peer(server.url, room, name=f"{room}-{i}") for i in range(3)] for room in ("north", "south")}
    try:
        for peers in calls.values():
            for peer in peers:
                await peer.start()
        everyone = [peer for peers in calls.values() for peer in peers]
        await until(lambda: all(p.mode == "sfu" for p in everyone), what="both calls on the SFU")
        await server.wait_log(*(f"call on Janus room={room}" for room in calls))
        placed = {
            room: next(
                line.split("janus=")[1].split()[0]
                for line in server.log.splitlines()
                if f"call on Janus room={room}" in line
            )
            for room in calls
        }
        assert set(placed.values()) == {first.name, second.name}, placed  # one call each
        async with httpx.AsyncClient(base_url=server.url) as http:
            metrics = scrape((await http.get("/metrics")).text)
        for instance in (first, second):
            assert metrics[("videochat_janus_calls", frozenset({("instance", instance.name)}))] == 1

        # kill -9 the instance of "north": its call moves to the other one, media resumes
        victim = first if placed["north"] == first.name else second
        moves = [p.sfu_moves for p in calls["north"]]
        victim.process.kill()
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        await until(lambda: all(p.sfu_moves > m for p, m in zip(calls["north"], moves, strict=True)), what="a move")
        for peer in calls["north"]:
            for other in calls["north"]:
                if other is not peer:
                    await until(lambda p=peer, o=other: p.peers[o.id].sfu_frames >= 10, what="media after the move")
        print(f"\nthe call moved to the other Janus; media flowing {loop.time() - killed_at:.1f} s after kill -9")
        survivor = second if victim is first else first
        await server.wait_log(f"call moved room=north janus={survivor.name}")
        async with httpx.AsyncClient(base_url=server.url) as http:
            ready = (await http.get("/readyz")).json()
            metrics = scrape((await http.get("/metrics")).text)
        assert ready["checks"]["sfu"] == "ok"  # one instance is enough
        assert metrics[("videochat_janus_up", frozenset({("instance", victim.name)}))] == 0
        assert metrics[("videochat_janus_calls", frozenset({("instance", survivor.name)}))] == 2
        assert secret not in server.log
    finally:
        for peers in calls.values():
            for peer in peers:
                await peer.stop()


async def test_with_no_janus_left_the_call_goes_back_to_a_mesh_and_people_are_told(server_factory, two_janus, tmp_path):
    """The only Janus (run elsewhere, nobody restarts it) is killed: after the wait for another,
    the call goes back to a mesh (call_mode with reason sfu_lost) and media flows peer to peer."""
    secret, (only, _) = two_janus
    secret_file = tmp_path / "janus-secret"
    secret_file.write_text(secret + "\n")
    server = server_factory("--sfu-from", "3", "--janus", only.url, "--janus-secret-file", str(secret_file))
    peers = [Peer(server.url, "sfu-lost", name=f"L{i}") for i in range(3)]
    told: list[dict] = []
    try:
        for peer in peers:
            await peer.start()
        handled = peers[0]._on_call_mode

        async def spy(info, *rest):  # what a page would show, as seen on the wire
            told.append(info)
            await handled(info, *rest)

        peers[0].sio.on("call_mode", spy)
        await until(lambda: all(p.mode == "sfu" for p in peers), what="the move to the SFU")
        await until(lambda: all(all(r.sfu_frames >= 10 for r in p.peers.values()) for p in peers))
        only.process.kill()
        await until(lambda: all(p.mode == "mesh" for p in peers), timeout=30, what="the call back to a mesh")
        for receiver in peers:
            for sender in peers:
                if sender is not receiver:
                    await receiver.wait_for_media(sender.id, kinds=("video",), frames=10, timeout=60)
        assert {"room": "sfu-lost", "mode": "mesh", "reason": "sfu_lost"} in told, told
        async with httpx.AsyncClient(base_url=server.url) as http:
            ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["sfu"] == "failed"
    finally:
        for peer in peers:
            await peer.stop()
