"""Direct messages (docs/protocol.md, `direct_message`): only the two people see one, now and in the
history (after a reload too, by their browser ids); refused clearly otherwise; flooded from several
addresses, cut to the message rate. One process and two on Redis (conftest.BOTH_BACKENDS: with two
processes, the clients alternate between them)."""

from __future__ import annotations

import asyncio

from support import Recorder, members


async def test_a_direct_message_reaches_its_one_reader_and_only_the_two_read_it_back(connect, room):
    ana, ben, cho = await members(connect, room, "Ana", "Ben", "Cho")
    ana_id = (await ana.call("browser_id"))["browserId"]
    ben_id = (await ben.call("browser_id"))["browserId"]
    assert (await ana.call("new_message", "hello all", room))["ok"]

    reply = await ana.call("direct_message", room, ben.sid, "just for you")
    assert reply["ok"], reply
    sent = reply["message"]
    assert sent["author"] == {"id": ana.sid, "nickname": "Ana"}
    assert sent["to"] == {"id": ben.sid, "nickname": "Ben"}
    assert (sent["room"], sent["text"]) == (room, "just for you")
    assert "audience" not in sent
    (received,) = await ben.wait_for("direct_message")
    assert received == sent
    # Cho hears the message that follows, never the direct one; Ana does not get her own back
    assert (await ana.call("new_message", "after it", room))["ok"]
    await cho.wait_for("new_message", lambda line, message: message["text"] == "after it")
    assert not cho.received("direct_message") and not ana.received("direct_message")

    # history: the two see it (a reload: a new connection with the same browser id), nobody else
    for browser_id in (ana_id, ben_id):
        again = await connect(auth={"browserId": browser_id})
        history = (await again.call("enter_room", room))["history"]
        assert [m["text"] for m in history] == ["hello all", "just for you", "after it"], history
        assert history[1] == sent
    stranger = await connect()
    history = (await stranger.call("enter_room", room))["history"]
    assert [m["text"] for m in history] == ["hello all", "after it"]
    assert [m["text"] for m in (await cho.call("enter_room", room))["history"]] == ["hello all", "after it"]
    # a forged browser id is no key to it (the server issues a fresh one)
    forger = await connect(auth={"browserId": ben_id[:-3] + ("AAA" if not ben_id.endswith("AAA") else "BBB")})
    assert [m["text"] for m in (await forger.call("enter_room", room))["history"]] == ["hello all", "after it"]


async def test_direct_messages_that_are_not_allowed_are_refused_and_nothing_is_sent(connect, room):
    ana, ben = await members(connect, room, "Ana", "Ben")
    elsewhere = (await members(connect, f"{room}-other", "Dev"))[0]
    outsider = await connect()
    for client, args, code in (
        (ana, (room, ana.sid, "to myself"), "unknown_member"),
        (ana, (room, elsewhere.sid, "to another room"), "unknown_member"),
        (ana, (room, outsider.sid, "to someone in no room"), "unknown_member"),
        (ana, (room, "nobody", "x"), "unknown_member"),
        (ana, (room, ["x"], "x"), "unknown_member"),
        (ana, (room, None, "x"), "unknown_member"),
        (ana, (room, ben.sid, ""), "invalid_message"),
        (ana, (room, ben.sid, "x" * 100_000), "invalid_message"),
        (ana, (room, ben.sid, {"text": "x"}), "invalid_message"),
        (ana, (room, ben.sid, "bell\x07"), "invalid_message"),
        (ana, (None, ben.sid, "x"), "invalid_room"),
        (ana, (f"{room}-other", elsewhere.sid, "into a room I am not in"), "not_in_room"),
        (outsider, (room, ben.sid, "from outside"), "not_in_room"),
        (elsewhere, (room, ben.sid, "from another room"), "not_in_room"),
    ):
        reply = await client.call("direct_message", *args)
        assert reply["ok"] is False and reply["error"]["code"] == code, (args, reply)
    # a message after the refusals arrives; no direct message ever did, and none was kept
    assert (await ana.call("new_message", "after the refusals", room))["ok"]
    await ben.wait_for("new_message")
    assert not any(client.received("direct_message") for client in (ana, ben, elsewhere, outsider))
    assert [m["text"] for m in (await ben.call("enter_room", room))["history"]] == ["after the refusals"]


async def test_a_direct_message_to_someone_who_left_is_refused(connect, room):
    ana, ben = await members(connect, room, "Ana", "Ben")
    assert (await ben.call("leave_room", room))["ok"]
    await ana.wait_for("bye")
    reply = await ana.call("direct_message", room, ben.sid, "are you there?")
    assert reply["error"]["code"] == "unknown_member", reply
    assert not ben.received("direct_message")


async def test_direct_messages_flooded_from_several_addresses_are_cut_to_the_message_rate(server_factory, room):
    """Five attackers on five addresses each send 100 direct messages to one member at once: past
    the budget each is refused (`rate_limited`), nobody is disconnected, the target gets exactly the
    accepted ones, and another member still chats."""
    server = server_factory("--message-rate", "2", "--message-burst", "5")
    attackers = [await Recorder(server.url, source=f"127.0.0.{2 + i}").connect() for i in range(5)]
    target, bystander = await Recorder(server.url).connect(), await Recorder(server.url).connect()
    clients = (target, bystander, *attackers)
    try:
        for client in clients:
            assert (await client.call("enter_room", room))["ok"]

        async def flood(client: Recorder) -> list[dict]:
            return await asyncio.gather(
                *(client.call("direct_message", room, target.sid, f"spam {i}") for i in range(100))
            )

        replies = [reply for batch in await asyncio.gather(*map(flood, attackers)) for reply in batch]
        accepted = [reply["message"]["id"] for reply in replies if reply["ok"]]
        assert {reply["error"]["code"] for reply in replies if not reply["ok"]} == {"rate_limited"}
        assert 25 <= len(accepted) <= 5 * (5 + 2 * 5), len(accepted)
        assert all(client.sio.connected for client in clients)
        # the target gets every accepted one (on Redis, some through the other process), then the
        # bystander's message, and no direct message that was refused
        await target.wait_for(
            "direct_message", lambda *_: len(target.received("direct_message")) >= len(accepted), timeout=20
        )
        assert (await bystander.call("new_message", "still here", room))["ok"]
        await target.wait_for("new_message", lambda line, message: message["text"] == "still here")
        assert sorted(message["id"] for (message,) in target.received("direct_message")) == sorted(accepted)
        assert not bystander.received("direct_message")
    finally:
        for client in clients:
            await client.disconnect()
