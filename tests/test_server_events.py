"""The events the server may send (events/outgoing.py, checked against docs/protocol.md by
tests/test_docs.py) are the events it sends: one scenario against a real server makes it send each,
and the server refuses to send one that is not listed."""

from __future__ import annotations

import asyncio

import pytest

from videochat.events.outgoing import OUTGOING, UndeclaredEvent

from support import Recorder

SDP = {"type": "offer", "sdp": "v=0\r\n"}


async def test_every_listed_event_is_sent_by_the_running_server(fresh_server):
    owner, guest = await Recorder(fresh_server.url).connect(), await Recorder(fresh_server.url).connect()
    try:
        assert (await owner.call("enter_room", "all-events"))["ok"]  # room_change to everyone
        assert (await guest.call("enter_room", "all-events"))["ok"]  # welcome to the owner
        assert (await owner.call("nickname", "Owner"))["ok"]  # nickname_change
        assert (await guest.call("new_message", "hello", "all-events"))["ok"]  # new_message
        assert (await guest.call("direct_message", "all-events", owner.sid, "psst"))["ok"]  # direct_message
        assert (await owner.call("room_settings", "all-events", {"maxMembers": 5}))["ok"]  # room_update
        assert (await owner.call("room_settings", "all-events", {"knock": True}))["ok"]
        knocker = await Recorder(fresh_server.url).connect()
        for turn, admit in enumerate((False, True)):  # declined, then admitted
            assert (await knocker.call("enter_room", "all-events"))["error"]["code"] == "waiting"  # knock
            await owner.wait_for(
                "knock", lambda info, n=2 * turn + 1: bool(info["waiting"]) and len(owner.received("knock")) >= n
            )
            assert (await owner.call("knock_answer", "all-events", knocker.sid, admit))["ok"]
            await knocker.wait_for("admitted" if admit else "declined")
        knocked = {name for name, _ in knocker.events}
        await knocker.disconnect()
        assert (await owner.call("join_room", "all-events"))["ok"]
        assert (await guest.call("join_room", "all-events"))["ok"]
        assert (await guest.call("offer", SDP, "all-events", owner.sid))["ok"]  # offer
        assert (await owner.call("answer", {**SDP, "type": "answer"}, "all-events", guest.sid))["ok"]  # answer
        assert (await guest.call("ice", None, "all-events", owner.sid))["ok"]  # ice (end of candidates)
        assert (await guest.call("media_state", "all-events", {"video": False}))["ok"]  # media_state
        assert (await guest.call("reaction", "all-events", "👍"))["ok"]  # reaction
        assert (await guest.call("raise_hand", "all-events", True))["ok"]  # hand
        assert (await guest.call("leave_call", "all-events"))["ok"]  # peer_left
        assert (await owner.call("ask_mute", "all-events", guest.sid))["ok"]  # mute_request
        await guest.emit("new_message", "no ack", "elsewhere")  # error: refused, and no ack asked
        await guest.wait_for("error")
        assert (await owner.call("remove_member", "all-events", guest.sid))["ok"]  # removed, then bye
        await owner.wait_for("bye")
        assert await asyncio.to_thread(fresh_server.stop) == 0  # server_shutdown
        await owner.wait_for("server_shutdown")
        received = knocked | {name for client in (owner, guest) for name, _ in client.events}
        # the SFU's events need a Janus: tests/sfu/test_sfu_control.py makes the server send them
        # (tests/browser/test_call_sfu.py `sfu_send`: the cameras that stop encoding), and
        # tests/sfu/media/test_recording.py `recording` and `recording_file` (a recording needs the SFU)
        expected = set(OUTGOING) - {"call_mode", "sfu_offer", "sfu_send", "recording", "recording_file"}
        assert received == expected, {
            "listed, never sent": expected - received,
            "sent, not listed": received - set(OUTGOING),
        }
    finally:
        for client in (owner, guest):
            await client.disconnect()


async def test_the_server_refuses_to_send_an_event_it_does_not_list(tmp_path):
    """Server.emit checks the name before anything else, on the app's real server object."""
    from videochat.app import VideochatApp
    from videochat.settings import Settings

    app = VideochatApp(Settings(data_dir=tmp_path).validate())
    with pytest.raises(UndeclaredEvent, match="made_up"):
        await app.sio.emit("made_up", {"x": 1})
    with pytest.raises(UndeclaredEvent, match="made_up"):
        await app.sio.emit("made_up", {"x": 1}, to="someone", namespace="/")
    await app.sio.emit("made_up", {"x": 1}, namespace="/admin")  # the Admin UI's protocol is its own
    await app.sio.emit("made_up", {"x": 1}, undeclared=True)  # an operator's own event (docs/operations.md)
