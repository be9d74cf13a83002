"""Reactions (docs/protocol.md, `reaction`): relayed to the others in the call only, refused clearly
otherwise, rate-limited; one process and two on Redis (conftest.BOTH_BACKENDS)."""

from __future__ import annotations

import asyncio

from test_signaling import in_call

from videochat.model.reactions import REACTIONS

from support import Recorder


async def test_a_reaction_reaches_the_others_in_the_call_and_nobody_else(connect, room):
    ana, ben, cho = await in_call(connect, room, "Ana", "Ben", "Cho")
    chatter = await connect()  # in the room, not in its call: it sees no tiles
    assert (await chatter.call("enter_room", room))["ok"]
    elsewhere = (await in_call(connect, f"{room}-other", "Dev"))[0]

    reply = await ana.call("reaction", room, "🎉")
    assert reply == {"ok": True, "room": room, "emoji": "🎉"}
    for client in (ben, cho):
        (info,) = await client.wait_for("reaction")
        assert info == {"room": room, "id": ana.sid, "emoji": "🎉"}
    # every reaction of the set goes; each arrives once, in order
    for emoji in REACTIONS:
        assert (await ben.call("reaction", room, emoji))["ok"]
    # (the last of the set is the one Ana sent first: wait for the count, not for that emoji)
    await ana.wait_for("reaction", lambda *_: len(ana.received("reaction")) >= len(REACTIONS))
    await cho.wait_for("reaction", lambda *_: len(cho.received("reaction")) >= 1 + len(REACTIONS))
    assert [info["emoji"] for (info,) in ana.received("reaction")] == list(REACTIONS)  # not its own
    assert [info["emoji"] for (info,) in cho.received("reaction")] == ["🎉", *REACTIONS]
    # the room's chatter (no tiles) and another room's call get none: a message sent after them
    # arrives, the reactions before it never do
    assert (await ana.call("new_message", "after the reactions", room))["ok"]
    await chatter.wait_for("new_message")
    assert not chatter.received("reaction") and not elsewhere.received("reaction")


async def test_reactions_that_are_not_allowed_are_refused_and_nothing_is_relayed(connect, room):
    ana, ben = await in_call(connect, room, "Ana", "Ben")
    outsider = await connect()
    assert (await outsider.call("enter_room", room))["ok"]  # a member, not a participant
    for args, code in (
        ((room, "💩"), "invalid_reaction"),  # not in the set
        ((room, "👍👍"), "invalid_reaction"),
        ((room, 1), "invalid_reaction"),
        ((room, None), "invalid_reaction"),
        ((room, {"emoji": "👍"}), "invalid_reaction"),
        ((room, "👍" * 10_000), "invalid_reaction"),
        ((None, "👍"), "invalid_room"),
        ((f"{room}-nowhere", "👍"), "not_in_call"),
    ):
        reply = await ana.call("reaction", *args)
        assert reply["ok"] is False and reply["error"]["code"] == code, (args, reply)
    reply = await outsider.call("reaction", room, "👍")
    assert reply["error"]["code"] == "not_in_call", reply
    # after leaving the call, no more reactions
    assert (await ben.call("leave_call", room))["ok"]
    assert (await ben.call("reaction", room, "👍"))["error"]["code"] == "not_in_call"
    assert not ana.received("reaction") and not outsider.received("reaction")
    assert ana.sio.connected and ben.sio.connected


async def test_a_flood_of_reactions_from_several_addresses_is_cut_to_the_message_rate(server_factory, room):
    """Five attackers on five addresses flood a call with reactions: each is refused past its
    budget (`rate_limited`), nobody is disconnected, and the call's listener gets a bounded number."""
    server = server_factory("--message-rate", "2", "--message-burst", "5")
    attackers = [await Recorder(server.url, source=f"127.0.0.{2 + i}").connect() for i in range(5)]
    listener = await Recorder(server.url).connect()
    try:
        for client in (*attackers, listener):
            assert (await client.call("join_room", room))["ok"]

        async def flood(client: Recorder) -> list[dict]:
            return await asyncio.gather(*(client.call("reaction", room, "👍") for _ in range(100)))

        replies = [reply for batch in await asyncio.gather(*map(flood, attackers)) for reply in batch]
        accepted = sum(1 for reply in replies if reply["ok"])
        refused = {reply["error"]["code"] for reply in replies if not reply["ok"]}
        assert refused == {"rate_limited"}
        # a burst of 5 each, and what 2 a second refill while the flood lasts
        assert 25 <= accepted <= 5 * (5 + 2 * 5), accepted
        await listener.wait_for("reaction", lambda *_: len(listener.received("reaction")) == accepted)
        assert all(client.sio.connected for client in (*attackers, listener))
    finally:
        for client in (*attackers, listener):
            await client.disconnect()
