"""TURN: credentials from the server that a real coturn (use-auth-secret) accepts, and ones it refuses.

The peers are aiortc (relay-only ICE), so every call here goes through coturn.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time

import httpx
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnection

from videochat.peer import Peer

GATHER_TIMEOUT = 20


async def test_only_call_participants_get_credentials_coturn_accepts_and_a_relay_call_connects(
    turn_videochat, turn_server, connect, room
):
    # nobody gets one over HTTP, nor a client outside the call, even one in the room's chat
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{turn_videochat.url}/api/ice-servers")).status_code == 404
    chatter = await connect(turn_videochat.url)
    entered = await chatter.call("enter_room", room)
    assert entered["ok"] and "iceServers" not in entered
    refused = await chatter.call("ice_servers", room)
    assert refused["error"]["code"] == "not_in_call" and "iceServers" not in refused

    # a participant does: in the join_room ack, and fresh ones from ice_servers
    caller = await connect(turn_videochat.url)
    joined = await caller.call("join_room", room)
    assert joined["iceTransportPolicy"] == "all" and joined["iceTtl"] == 600
    renewed = await caller.call("ice_servers", room)
    assert renewed["ok"] and renewed["room"] == room and renewed["iceTtl"] == 600
    for reply in (joined, renewed):
        (entry,) = reply["iceServers"]
        assert entry["urls"] == turn_server.urls
        expiry, _, user_id = entry["username"].partition(":")
        assert user_id == caller.sid and abs(int(expiry) - (time.time() + 600)) < 60
        # computed here independently: base64(HMAC-SHA1(secret, username))
        assert entry["credential"] == _credential(turn_server.secret, entry["username"])
    assert "typ relay" in await _gathered_sdp(renewed["iceServers"])

    peers = [
        Peer(turn_videochat.url, room, name=name, ice_servers=renewed["iceServers"], ice_transport_policy="relay")
        for name in ("Alice", "Bob")
    ]
    try:
        alice, bob = [await peer.start() for peer in peers]
        await alice.wait_for_connection(bob.id)
        await alice.wait_for_media(bob.id)
        await bob.wait_for_media(alice.id)
    finally:
        for peer in peers:
            await peer.stop()
    assert turn_server.secret not in turn_videochat.log


async def test_expired_and_forged_credentials_get_no_relay(turn_server, turn_videochat, room):
    expired = turn_server.ice_servers(*turn_server.credentials(ttl=-60))
    username, _ = turn_server.credentials(ttl=600)
    forged = turn_server.ice_servers(username, _credential("not-the-secret", username))
    assert "typ relay" in await _gathered_sdp(turn_server.ice_servers())  # the control: a good one works
    assert "typ relay" not in await _gathered_sdp(expired)
    assert "typ relay" not in await _gathered_sdp(forged)

    # a call with the forged credential does not connect: the connection fails, within a bound
    good = Peer(turn_videochat.url, room, name="Good", ice_transport_policy="relay")
    bad = Peer(turn_videochat.url, room, name="Forger", ice_servers=forged, ice_transport_policy="relay")
    try:
        await good.start()
        await bad.start()  # joins second: the good one offers, the forger answers without candidates
        remote = await good.wait_for_peer(bad.id)
        deadline = asyncio.get_running_loop().time() + 30
        while remote.failures == 0:
            assert asyncio.get_running_loop().time() < deadline, f"the forged call did not fail: {good.describe()}"
            await asyncio.sleep(0.05)  # polling a state with a deadline
        assert remote.connection_state != "connected"
        assert good.frames_received(bad.id) == {"audio": 0, "video": 0}
    finally:
        await bad.stop()
        await good.stop()


async def test_an_allocation_outlives_its_credential_but_an_expired_one_makes_none(turn_server):
    """What --turn-ttl's renewal relies on (docs/deploy.md): coturn checks the expiry when an
    allocation is made; the allocation's Refresh and CreatePermission go on after it."""
    from aioice import stun
    from aioice.turn import TurnClientUdpProtocol

    from support import eventually

    async def allocate(username: str, credential: str) -> tuple:
        transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: TurnClientUdpProtocol(
                ("127.0.0.1", turn_server.port),
                username=username,
                password=credential,
                lifetime=600,
                channel_refresh_time=500,
            ),
            remote_addr=("127.0.0.1", turn_server.port),
        )
        try:
            await client.connect()
        except BaseException:
            transport.close()
            raise
        return transport, client

    username, credential = turn_server.credentials(ttl=2)
    transport, client = await allocate(username, credential)
    try:
        expiry = int(username.split(":")[0])
        # a margin of a few seconds: once (a fresh-clone CI run) coturn still took the credential one
        # second past its expiry (its notion of now may lag the test's by a second or so)
        await eventually(lambda: time.time() > expiry + 3, timeout=10, what="the credential's expiry")
        refresh = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        refresh.attributes["LIFETIME"] = 600
        response, _ = await client.request_with_retry(refresh)
        assert response.attributes["LIFETIME"] > 0
        permission = stun.Message(message_method=stun.Method.CREATE_PERMISSION, message_class=stun.Class.REQUEST)
        permission.attributes["XOR-PEER-ADDRESS"] = ("127.0.0.1", 9)
        await client.request_with_retry(permission)
        # the same credential makes no new allocation now
        try:
            second = await allocate(username, credential)
        except stun.TransactionFailed as refused:
            assert "401" in str(refused)
        else:
            second[0].close()
            raise AssertionError("coturn allocated with an expired credential")
    finally:
        transport.close()


async def test_secret_from_a_file_never_logged_and_warned_about_on_a_command_line(
    server_factory, turn_server, tmp_path, connect, room
):
    secret_file = tmp_path / "turn-secret"
    secret_file.write_text(turn_server.secret + "\n")
    server = server_factory(
        *turn_server.videochat_args(),
        "--turn-secret-file",
        str(secret_file),
        "--turn-ttl",
        "120",
        "--ice-transport-policy",
        "relay",
        "--max-call-size",
        "3",
        "--upload-budget-kbps",
        "900",
    )
    client = await connect(server.url)
    reply = await client.call("join_room", room)
    assert (reply["iceTransportPolicy"], reply["maxCallSize"], reply["uploadBudgetKbps"]) == ("relay", 3, 900)
    (entry,) = reply["iceServers"]
    assert int(entry["username"].split(":")[0]) <= time.time() + 120
    assert entry["credential"] == _credential(turn_server.secret, entry["username"])
    assert "typ relay" in await _gathered_sdp(reply["iceServers"])
    assert turn_server.secret not in server.log

    flagged = server_factory(*turn_server.videochat_args(), "--turn-secret", "on-the-command-line")
    assert "visible to every user" in flagged.log and "on-the-command-line" not in flagged.log


def _credential(secret: str, username: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


async def _gathered_sdp(ice_servers: list[dict]) -> str:
    """Gather candidates with relay-only ICE and return the offer's SDP (all candidates are in it)."""
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in ice_servers
    ]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY))
    try:
        pc.addTransceiver("audio")
        await asyncio.wait_for(pc.setLocalDescription(await pc.createOffer()), GATHER_TIMEOUT)
        return pc.localDescription.sdp
    finally:
        await pc.close()
