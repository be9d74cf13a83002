"""The SFU without media (no network namespace needed): who decides the mode, the local Janus's
configuration, secrets, restarts and stop, refusals, and what an attacker can get. The media tests
are in tests/sfu/media/ and tests/browser/test_call_sfu.py."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import stat
from pathlib import Path

import httpx
import pytest

from videochat.model.callmode import MESH, SFU, CallPolicy
from videochat.sfu.janus import Janus, JanusError

from support import Recorder, attacker_addresses, eventually, scrape

SFU_ON = {"VIDEOCHAT_JANUS": "auto"}
OFFER = {"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}


# the policy (model/callmode.py): pure


@pytest.mark.parametrize(
    "mode, sizes, joiner_sfu, available, expected",
    [
        (MESH, (1, 1), True, True, (True, "", False)),  # 2 people: a mesh
        (MESH, (2, 2), True, True, (True, "", True)),  # the third moves it
        (MESH, (2, 1), True, True, (True, "", False)),  # a classic client keeps it a mesh
        (MESH, (2, 2), False, True, (True, "", False)),  # so does a classic newcomer
        (MESH, (2, 2), True, False, (True, "", False)),  # no SFU: a mesh
        (MESH, (6, 5), True, True, (False, "call_full", False)),  # a mesh with a classic client is capped
        (MESH, (6, 6), True, False, (False, "call_full", False)),  # no SFU: capped at 6
        (SFU, (10, 10), True, True, (True, "", False)),
        (SFU, (10, 10), False, True, (False, "sfu_required", False)),
        (SFU, (50, 50), True, True, (False, "call_full", False)),
    ],
)
def test_the_policy_decides_who_joins_and_when_a_call_moves(mode, sizes, joiner_sfu, available, expected):
    verdict = CallPolicy(sfu_from=3, max_call_size=6, max_sfu_call_size=50).join(mode, sizes, joiner_sfu, available)
    assert (verdict.allowed, verdict.code, verdict.move_to_sfu) == expected


def test_a_call_past_the_mesh_cap_moves_even_when_sfu_from_is_higher():
    policy = CallPolicy(sfu_from=10, max_call_size=6, max_sfu_call_size=50)
    assert not policy.join(MESH, (5, 5), True, True).move_to_sfu
    assert policy.join(MESH, (6, 6), True, True).move_to_sfu
    assert not CallPolicy(sfu_from=0, max_call_size=6, max_sfu_call_size=50).join(MESH, (6, 6), True, True).allowed


def test_a_recorded_room_s_call_goes_on_the_sfu_whatever_its_size():
    policy = CallPolicy(sfu_from=3, max_call_size=6, max_sfu_call_size=50)
    assert policy.join(MESH, (0, 0), True, True, forced=True).move_to_sfu  # the first person already
    assert policy.join(MESH, (1, 1), True, True, forced=True).move_to_sfu
    assert policy.join(MESH, (1, 1), False, True, forced=True).code == "sfu_required"  # a classic client
    assert policy.join(MESH, (1, 0), True, True, forced=True).code == "sfu_required"  # one is in it
    assert not policy.join(MESH, (1, 1), True, False, forced=True).move_to_sfu  # no SFU: nothing to force
    assert policy.join(SFU, (3, 3), True, True, forced=True) == policy.join(SFU, (3, 3), True, True)


# the local Janus


def janus_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "janus":
                    pids.add(int(entry.name))
            except OSError:
                pass
    return pids


def children_janus(server) -> set[int]:
    found = set()
    for pid in janus_pids():
        try:
            parent = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == server.process.pid:
            found.add(pid)
    return found


async def test_the_local_janus_is_private_and_its_secrets_are_never_shown(server_factory):
    server = server_factory(env=SFU_ON)
    (pid,) = await eventually(lambda: children_janus(server) or None, what="a Janus child")
    folder = server.data_dir / "janus" / "local"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = {path.name: path for path in folder.iterdir()}
    assert set(files) == {"janus.jcfg", "janus.transport.websockets.jcfg", "janus.plugin.videoroom.jcfg"}
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    config = files["janus.jcfg"].read_text()
    secret = re.search(r'api_secret = "([^"]+)"', config)[1]
    admin_key = re.search(r'admin_key = "([^"]+)"', files["janus.plugin.videoroom.jcfg"].read_text())[1]
    admin_secret = re.search(r'admin_secret = "([^"]+)"', config)[1]
    transport = files["janus.transport.websockets.jcfg"].read_text()
    assert 'ws_ip = "127.0.0.1"' in transport and 'admin_ws_ip = "127.0.0.1"' in transport
    assert "libjanus_http.so" in config and "libjanus_streaming.so" in config  # disabled
    # never on a command line, never in the log
    argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().decode()
    assert all(hidden not in argv and hidden not in server.log for hidden in (secret, admin_key, admin_secret))
    # the admin API (its traffic figures: sfu/traffic.py) refuses whoever lacks its secret
    admin_port = int(re.search(r"admin_ws_port = (\d+)", transport)[1])
    for wrong in (None, secret):
        intruder = Janus(f"ws://127.0.0.1:{admin_port}", wrong, admin=True)
        await intruder.connect()
        with pytest.raises(JanusError) as refused:
            await intruder.admin_request({"janus": "list_sessions"})
        assert refused.value.code == 403, refused.value
        await intruder.close()
    # the API refuses whoever lacks the secret
    port = int(re.search(r"ws_port = (\d+)", transport)[1])
    stranger = Janus(f"ws://127.0.0.1:{port}")
    with pytest.raises(JanusError) as refused:
        await stranger.connect()
    assert refused.value.code == 403
    await stranger.close()
    async with httpx.AsyncClient(base_url=server.url) as http:
        ready = (await http.get("/readyz")).json()
        assert ready["checks"]["sfu"] == "ok", ready
        metrics = scrape((await http.get("/metrics")).text)
    assert metrics[("videochat_janus_up", frozenset({("instance", "local")}))] == 1


async def test_janus_killed_is_restarted_and_stops_with_the_server(server_factory):
    server = server_factory(env=SFU_ON)
    (first,) = await eventually(lambda: children_janus(server) or None, what="a Janus child")
    os.kill(first, signal.SIGKILL)
    (second,) = await eventually(
        lambda: (children_janus(server) - {first}) or None, timeout=15, what="a restarted Janus"
    )
    await eventually(lambda: "Janus local connected" in server.log.split("restarting")[-1] or None, timeout=15)
    assert server.stop() == 0
    await eventually(lambda: second not in janus_pids() or None, what="Janus to stop with the server")
    assert "Janus stopped" in server.log


async def test_without_the_janus_program_it_says_so_once_and_calls_stay_peer_to_peer(server_factory, room):
    env = {**SFU_ON, "PATH": "/nonexistent"}
    server = server_factory(env=env)
    assert server.log.count("janus program is not installed") == 1
    clients = [await Recorder(server.url).connect() for _ in range(3)]
    try:
        for client in clients:
            reply = await client.call("join_room", room, {"sfu": True})
            assert reply["ok"] and reply["mode"] == "mesh", reply
        reply = await clients[0].call("sfu_publish", {"room": room, "offer": OFFER})
        assert reply["error"]["code"] == "not_on_sfu"
    finally:
        for client in clients:
            await client.disconnect()


# the call's mode, without media


@pytest.fixture
def sfu_server(server_factory):
    return server_factory("--sfu-from", "3", env=SFU_ON)


async def join(server, room: str, *, sfu: bool = True) -> tuple[Recorder, dict]:
    client = await Recorder(server.url).connect()
    reply = await client.call("join_room", room, {"sfu": sfu} if sfu else {})
    return client, reply


async def test_the_third_person_moves_the_call_and_a_classic_client_keeps_it_a_mesh(sfu_server, room):
    clients = []
    try:
        for _ in range(2):
            client, reply = await join(sfu_server, room)
            clients.append(client)
            assert reply["mode"] == "mesh"
        third, reply = await join(sfu_server, room)
        clients.append(third)
        assert reply["ok"] and reply["mode"] == "sfu", reply
        for client in clients[:2]:
            await client.wait_for("call_mode", lambda info: info == {"room": room, "mode": "sfu"})
        await sfu_server.wait_log("call on Janus")
        # the seed's client cannot join a call on the SFU
        classic, refused = await join(sfu_server, room, sfu=False)
        clients.append(classic)
        assert refused["error"]["code"] == "sfu_required", refused
        assert "media server" in refused["error"]["message"]

        # another room, with a classic client in it, stays a mesh at 3
        other = room + "-classic"
        old, _ = await join(sfu_server, other, sfu=False)
        clients.append(old)
        for _ in range(2):
            client, reply = await join(sfu_server, other)
            clients.append(client)
            assert reply["mode"] == "mesh"
    finally:
        for client in clients:
            await client.disconnect()


async def test_an_emptied_call_leaves_janus_and_starts_again_as_a_mesh(sfu_server, room):
    clients = [(await join(sfu_server, room))[0] for _ in range(3)]
    await eventually(lambda: "call on Janus" in sfu_server.log or None)
    for client in clients:
        assert (await client.call("leave_call", room))["ok"]
    await eventually(lambda: "call off Janus" in sfu_server.log or None)
    again = [await join(sfu_server, room) for _ in range(2)]
    try:
        assert [reply["mode"] for _, reply in again] == ["mesh", "mesh"]
    finally:
        for client in clients + [c for c, _ in again]:
            await client.disconnect()


async def test_sfu_status_takes_a_call_that_fits_back_to_a_mesh_until_it_empties(sfu_server, room):
    clients = [(await join(sfu_server, room))[0] for _ in range(3)]
    try:
        reply = await clients[1].call("sfu_status", {"room": room, "ok": False})
        assert reply == {"ok": True, "room": room, "mode": "mesh"}, reply
        for client in clients:
            await client.wait_for(
                "call_mode", lambda info: info["mode"] == "mesh" and info["reason"] == "sfu_unreachable"
            )
        fourth, again = await join(sfu_server, room)
        clients.append(fourth)
        assert again["mode"] == "mesh"
    finally:
        for client in clients:
            await client.disconnect()


# what a hostile client can do


async def test_calls_that_end_as_they_move_leave_no_janus_room_behind(sfu_server, room):
    """Join-and-leave churn from several addresses, racing each move to the SFU: every Janus room
    opened is closed again (a leak would let anyone fill Janus with rooms)."""
    for round_ in range(15):
        clients = [await Recorder(sfu_server.url, source=f"127.0.0.{2 + i}").connect() for i in range(3)]
        name = f"{room}-{round_}"
        for client in clients[:2]:
            await client.call("join_room", name, {"sfu": True})
        await clients[2].emit("join_room", name, {"sfu": True})  # the move starts...
        await asyncio.gather(*(client.disconnect() for client in clients))  # ...as everyone goes

    async def janus_calls():
        async with httpx.AsyncClient(base_url=sfu_server.url) as http:
            return scrape((await http.get("/metrics")).text)[
                ("videochat_janus_calls", frozenset({("instance", "local")}))
            ]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while (left := await janus_calls()) != 0:
        assert loop.time() < deadline, f"{left} Janus rooms left open"
        await asyncio.sleep(0.2)
    assert sfu_server.log.count("call on Janus") == sfu_server.log.count("call off Janus")


async def test_sfu_events_check_the_caller_and_their_arguments(sfu_server, room):
    members = [(await join(sfu_server, room))[0] for _ in range(3)]
    outsider = await Recorder(sfu_server.url).connect()
    assert (await outsider.call("enter_room", room))["ok"]  # in the room, not in the call
    elsewhere, _ = await join(sfu_server, room + "-b")
    mesh_room = room + "-mesh"
    meshed, _ = await join(sfu_server, mesh_room)
    try:

        async def code(client, event, request):
            reply = await client.call(event, request)
            assert not reply["ok"], (event, request, reply)
            return reply["error"]["code"]

        publish = {"room": room, "offer": OFFER}
        assert await code(outsider, "sfu_publish", publish) == "not_in_call"
        assert await code(elsewhere, "sfu_publish", publish) == "not_in_call"
        assert await code(elsewhere, "sfu_layers", {"room": room, "layers": [{"mid": "0", "substream": 2}]}) == (
            "not_in_call"
        )
        assert await code(meshed, "sfu_publish", {"room": mesh_room, "offer": OFFER}) == "not_on_sfu"
        member = members[0]
        bad = [
            ("sfu_publish", "lobby"),
            ("sfu_publish", {"room": room}),
            ("sfu_publish", {"room": room, "offer": {"type": "answer", "sdp": "x"}}),
            ("sfu_publish", {"room": room, "source": "../etc", "offer": OFFER}),
            ("sfu_publish", {"room": room, "offer": {"type": "offer", "sdp": "x" * 70000}}),
            ("sfu_unpublish", {"room": room, "source": None}),
            ("sfu_answer", {"room": room, "seq": "1", "answer": {"type": "answer", "sdp": "x"}}),
            ("sfu_answer", {"room": room, "seq": 99, "answer": {"type": "answer", "sdp": "x"}}),
            ("sfu_candidate", {"room": room, "target": "everyone", "candidate": None}),
            ("sfu_candidate", {"room": room, "target": "subscriber", "candidate": {"candidate": 5}}),
            ("sfu_layers", {"room": room, "layers": []}),
            ("sfu_layers", {"room": room, "layers": [{"mid": "0", "substream": 7}]}),
            ("sfu_layers", {"room": room, "layers": [{"mid": "0", "substream": True}]}),
            ("sfu_layers", {"room": room, "layers": [{"mid": "0", "substream": 1}] * 65}),
            ("sfu_layers", {"room": room, "layers": [{"mid": "0", "send": True}]}),
            ("sfu_layers", {"room": room, "layers": [{"mid": "0", "send": 0}]}),
            ("sfu_layers", {"room": room, "layers": [{"mid": "0", "send": False, "substream": 1}]}),
            ("sfu_status", {"room": room, "ok": True}),
        ]
        codes = [await code(member, event, request) for event, request in bad]
        assert set(codes) <= {"invalid_sfu_request", "invalid_description", "invalid_candidate", "sfu_failed"}, codes
        # a publish Janus cannot take (an SDP that is not one) is refused in words, and nothing stays
        refused = await member.call("sfu_publish", publish)
        assert refused["error"]["code"] == "sfu_failed", refused
        assert "Janus" not in refused["error"]["message"]
        # nothing of Janus ever reached a client: no room number, pin, secret or feed
        everything = repr([c.events for c in (*members, outsider, elsewhere, meshed)])
        for word in ("pin", "secret", "feed", "janus", "session_id", "handle"):
            assert word not in everything.lower(), word
        # the server is fine: the call still works for the others
        assert (await members[1].call("media_state", room, {"audio": False}))["ok"]
    finally:
        for client in (*members, outsider, elsewhere, meshed):
            await client.disconnect()


async def test_without_an_sfu_the_events_exist_and_say_so(live_server, room):
    client = await Recorder(live_server.url).connect()
    try:
        reply = await client.call("join_room", room, {"sfu": True})
        assert reply["mode"] == "mesh"
        for event in ("sfu_publish", "sfu_unpublish", "sfu_answer", "sfu_candidate", "sfu_layers", "sfu_status"):
            refused = await client.call(event, {"room": room})
            assert refused["error"]["code"] == "not_on_sfu", (event, refused)
    finally:
        await client.disconnect()


async def test_many_clients_flooding_publish_are_rate_limited_and_janus_keeps_serving(sfu_server, room):
    members = [(await join(sfu_server, room))[0] for _ in range(3)]
    try:
        replies = await asyncio.gather(
            *(members[0].call("sfu_publish", {"room": room, "offer": OFFER}, timeout=30) for _ in range(60))
        )
        codes = {r["error"]["code"] for r in replies if not r["ok"]}
        assert "rate_limited" in codes, codes
        assert codes <= {"rate_limited", "sfu_failed"}, codes
        async with httpx.AsyncClient(base_url=sfu_server.url) as http:
            assert (await http.get("/readyz")).json()["checks"]["sfu"] == "ok"
    finally:
        for client in members:
            await client.disconnect()


async def test_attackers_at_several_addresses_cannot_touch_a_room_s_recording_and_are_bounded_in_their_own(
    sfu_server, room
):
    """Six attackers, each from its own address, enter a recorded room and throw every recording
    event at it (right and wrong arguments, the recording's real id, paths): nothing but refusals
    and an empty list; the recording goes on, nobody is told otherwise. In rooms of their own (where
    they may record), start/stop as fast as they can is braked by the join rate, and each browser's
    recordings stay under its cap; the owner's recording is then processed all the same."""
    owner, _ = await join(sfu_server, room)
    ben, _ = await join(sfu_server, room)
    attackers = [await Recorder(sfu_server.url, source=source).connect() for source in attacker_addresses(6)]
    try:
        started = await owner.call("start_recording", room)
        assert started["ok"], started
        recording_id = started["recording"]["id"]
        for attacker in attackers:
            assert (await attacker.call("enter_room", room))["ok"]
        attempts = [
            ("start_recording", room),
            ("stop_recording", room),
            ("delete_recording", room, recording_id),
            ("retry_recording", room, recording_id),
            ("delete_recording", room, "../" * 8 + "etc"),
            ("retry_recording", room, {"id": recording_id}),
            ("start_recording", {"room": room}),
            ("stop_recording", None),
            ("delete_recording", f"{room}/..", recording_id),
        ]
        replies = await asyncio.gather(
            *(attacker.call(*attempt, timeout=30) for attacker in attackers for _ in range(3) for attempt in attempts)
        )
        codes = {reply["error"]["code"] for reply in replies}
        assert not any(reply["ok"] for reply in replies)
        assert codes <= {"not_owner", "unknown_recording", "invalid_room", "not_in_room", "rate_limited"}, codes
        for attacker in attackers:
            listed = await attacker.call("list_recordings", room)
            assert listed == {"ok": True, "room": room, "recordings": []} or listed["error"]["code"] == "rate_limited"
        # the recording went on: nobody heard otherwise, and its owner still has it
        await ben.barrier()
        assert all(info["recording"] is not None for (info,) in ben.received("recording"))
        (mine,) = (await owner.call("list_recordings", room))["recordings"]
        assert (mine["id"], mine["state"]) == (recording_id, "recording")

        # in rooms of their own (new connections from the same addresses), each as fast as it can:
        # braked by the join rate, and each browser's recordings bounded
        async def record_in_a_loop(source: str, index: int) -> tuple[Recorder, str, list[str]]:
            attacker = await Recorder(sfu_server.url, source=source).connect()
            attackers.append(attacker)
            own = f"{room}-own-{index}"
            assert (await attacker.call("join_room", own, {"sfu": True}))["ok"]
            codes = []
            for _ in range(15):
                for event in ("start_recording", "stop_recording"):
                    reply = await attacker.call(event, own, timeout=30)
                    codes.append("ok" if reply["ok"] else reply["error"]["code"])
            return attacker, own, codes

        loops = await asyncio.gather(*(record_in_a_loop(a, i) for i, a in enumerate(attacker_addresses(6))))
        for attacker, own, codes in loops:
            assert "rate_limited" in codes, codes
            assert set(codes) <= {"ok", "rate_limited", "recording_unavailable"}, codes
            assert 4 <= codes.count("ok") <= 2 * 12, codes  # the join rate's burst (10) and 2/s meanwhile
            kept = (await attacker.call("list_recordings", own))["recordings"]
            assert 2 <= len(kept) <= 12, kept
        async with httpx.AsyncClient(base_url=sfu_server.url) as http:
            assert (await http.get("/readyz")).json()["checks"]["sfu"] == "ok"
        # the owner's recording is made (nothing was sent to Janus: it fails, saying why) meanwhile
        assert (await owner.call("stop_recording", room))["ok"]

        async def settled():
            (mine,) = (await owner.call("list_recordings", room))["recordings"]
            return mine["state"] in ("ready", "failed") and mine

        assert (await eventually(settled, timeout=60, what="the owner's recording processed"))["id"] == recording_id
    finally:
        for client in (owner, ben, *attackers):
            await client.disconnect()


def test_traffic_figures_are_read_from_what_janus_answers_whatever_its_shape():
    """sfu/traffic.py sums each stream's `bytes_lastsec` in (with a simulcast sender's layers, as
    Janus 1.1 nests them) and out; an answer of another shape (another Janus version, a handle
    gone) counts for nothing."""
    from videochat.sfu.traffic import stream_rates

    simulcast = {
        "bytes_lastsec": 0,
        "video-simulcast-1": {"bytes_lastsec": 18_000},
        "video-simulcast-2": {"bytes_lastsec": 37_000},
    }
    stream = {"stats": {"in": simulcast, "out": {"bytes_lastsec": 7}}}
    answer = {
        "info": {
            "webrtc": {
                "media": {"0": stream, "1": {"stats": {"in": {"bytes_lastsec": 100}, "out": {"bytes_lastsec": 3}}}}
            }
        }
    }
    assert stream_rates(answer) == (55_100, 10)
    for odd in ({}, {"info": None}, {"info": {"webrtc": {"media": []}}}, {"info": {"webrtc": {"media": {"0": 5}}}},
                {"info": {"webrtc": {"media": {"0": {"stats": {"in": {"bytes_lastsec": "9"}, "out": [1]}}}}}},
                {"info": {"webrtc": {"media": {"0": {"stats": {"in": {"bytes_lastsec": -4}}}}}}},
                {"info": {"webrtc": {"media": {"0": {"stats": {"in": {"bytes_lastsec": True}}}}}}}):  # fmt: skip
        assert stream_rates(odd) == (0, 0), odd
