"""Attacks on who people are: dodging a room owner's removal, and passing for someone else by name.

Bans (docs/security.md, "Who a ban holds"): the removed member comes back without `auth`, with a
made-up or forged `browserId`, or from another tab; the server issues and signs browser ids, and a
removal holds the id and the address. Names: a second "Alice", invisible and bidi control characters.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from support import Recorder, attacker_addresses


async def _connected(url: str, source: str, auth: dict | None = None) -> Recorder:
    return await Recorder(url, source=source, auth=auth).connect()


async def _issued_id(client: Recorder) -> str:
    """The browser id the server issued to (or recognised for) this connection."""
    reply = await client.call("browser_id")
    assert reply["ok"], reply
    return reply["browserId"]


def _forged(token: str) -> list[str]:
    """Tokens made from a real one: another id, an earlier issue time, a changed signature."""
    browser_id, issued, mac = token.split(".")
    other_mac = ("B" if mac[0] == "A" else "A") + mac[1:]
    return [f"{'x' * 22}.{issued}.{mac}", f"{browser_id}.1.{mac}", f"{browser_id}.{issued}.{other_mac}"]


@pytest.mark.parametrize("backend", ["single", "redis"], indirect=True)
async def test_a_removed_member_cannot_come_back_under_another_id(server_factory):
    server = server_factory("--ban-seconds", "60")
    home, victim_home, elsewhere, travel = attacker_addresses(4)  # owner; victim and a neighbour; others
    clients: list[Recorder] = []

    async def client(source: str, auth: dict | None = None) -> Recorder:
        clients.append(await _connected(server.url, source, auth))
        return clients[-1]

    try:
        # a neighbour behind the same address, known before the removal: its page kept its id
        neighbour = await client(victim_home)
        neighbour_id = await _issued_id(neighbour)
        await neighbour.disconnect()

        owner = await client(home)
        victim = await client(victim_home, {"browserId": "victim-browser-1", "clientId": "victim-tab-01"})
        for member in (owner, victim):
            assert (await member.call("enter_room", "club"))["ok"]
        victim_id = await _issued_id(victim)
        assert victim_id != "victim-browser-1"  # a made-up id is replaced by one the server signs
        assert (await owner.call("remove_member", "club", victim.sid))["ok"]
        await victim.wait_for("removed")

        dodges = [
            None,
            {"clientId": "victim-tab-02"},
            {"browserId": "fresh-browser-0001"},
            *({"browserId": token} for token in _forged(victim_id)),
            *({"browserId": token} for token in _forged(neighbour_id)),
        ]

        async def dodge(auth: dict | None) -> None:
            attempt = await client(victim_home, auth)
            reply = await attempt.call("enter_room", "club")
            assert not reply["ok"] and reply["error"]["code"] == "banned", (auth, reply)
            await attempt.disconnect()

        await asyncio.gather(*(dodge(auth) for auth in dodges))  # all at once, from the victim's address
        # another tab of the same browser, from home or from another network
        for source in (victim_home, travel):
            tab = await client(source, {"browserId": victim_id})
            reply = await tab.call("enter_room", "club")
            assert not reply["ok"] and reply["error"]["code"] == "banned", (source, reply)
            assert "removed from" in reply["error"]["message"]

        # the neighbour known before the removal, and someone new from elsewhere, get in
        back = await client(victim_home, {"browserId": neighbour_id})
        assert await _issued_id(back) == neighbour_id
        assert (await back.call("enter_room", "club"))["ok"]
        stranger = await client(elsewhere)
        assert (await stranger.call("enter_room", "club"))["ok"]
        count = (await owner.call("enter_room", "club"))["count"]
        assert count == 3  # owner, neighbour, stranger
    finally:
        for each in clients:
            await each.disconnect()


async def test_the_secret_that_signs_browser_ids_is_private_and_outlives_a_restart(server_factory):
    server = server_factory()
    secret = server.data_dir / "browser-id.key"
    assert secret.stat().st_mode & 0o777 == 0o600
    first = await Recorder(server.url).connect()
    token = await _issued_id(first)
    await first.disconnect()
    await asyncio.to_thread(server.restart)
    again = await Recorder(server.url, auth={"browserId": token}).connect()
    try:
        assert await _issued_id(again) == token  # the same browser, recognised after a restart
    finally:
        await again.disconnect()
    key = secret.read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key) and key not in server.log


# Names: what an impostor would type to pass for someone, or to turn text around on screen
SPOOFING_NAMES = {
    "a zero-width space": "Ali\u200bce",
    "a zero-width joiner between Latin letters": "Ali\u200dce",
    "a word joiner": "Ali\u2060ce",
    "a byte order mark": "\ufeffAlice",
    "a soft hyphen": "Ali\u00adce",
    "a right-to-left override": "\u202eecilA",
    "a left-to-right embedding": "\u202aAlice",
    "a right-to-left isolate": "\u2067Alice\u2069",
    "a left-to-right mark": "Alice\u200e",
    "an Arabic letter mark": "\u061cAlice",
    "the Hangul filler": "\u3164",
    "a Hangul choseong filler": "\u115fAlice",
    "a blank Braille pattern": "\u2800",
    "a line separator": "Ali\u2028ce",
    "a hidden tag text": "Alice\U000e0041\U000e0042",
    "a tower of combining marks": "A" + "\u0301" * 8,
}
FINE_NAMES = [
    "👩🏽\u200d💻 Dev",
    "می\u200cخواهم",
    "क्\u200dष",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    "ㅋㅋ Jisoo",
    "Zoë",
]


async def test_names_that_hide_or_reorder_characters_are_refused(server_factory, room):
    server = server_factory(
        "--nickname-rate", "100", "--nickname-burst", "100", "--join-rate", "100", "--join-burst", "100"
    )
    client = await Recorder(server.url).connect()
    try:
        for why, name in SPOOFING_NAMES.items():
            reply = await client.call("nickname", name)
            assert not reply["ok"] and reply["error"]["code"] == "invalid_nickname", (why, reply)
            assert "characters" in reply["error"]["message"] or "marks" in reply["error"]["message"], why
            entered = await client.call("enter_room", f"{room}{name}")
            assert not entered["ok"] and entered["error"]["code"] == "invalid_room", (why, entered)
        for name in FINE_NAMES:  # what scripts and emoji need stays
            reply = await client.call("nickname", name)
            assert reply["ok"] and reply["nickname"] == name, (name, reply)
    finally:
        await client.disconnect()


async def test_names_are_normalised_so_one_name_looks_one_way(connect, room):
    composed, decomposed = await connect(), await connect()
    assert (await decomposed.call("nickname", "Zoe\u0308"))["nickname"] == "Zo\u00eb"
    first = await composed.call("enter_room", f"{room}-caf\u00e9")
    second = await decomposed.call("enter_room", f"{room}-cafe\u0301")
    assert second["room"] == first["room"] == f"{room}-caf\u00e9" and second["count"] == 2
