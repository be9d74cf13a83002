"""Calls across harder networks: relay-only through a real coturn, offers that collide (glare), and a
page whose socket drops for a few seconds."""

from __future__ import annotations

import asyncio

import pytest
from actions import OFFLINE_NOTICED_MS
from call_actions import (
    CALL_TIMEOUT_MS,
    LINKS,
    enter_and_join_call,
    open_call_page,
    remote_tiles,
    selected_candidate_types,
    tile_of,
    wait_media_flows,
    wait_remote_videos_play,
)
from playwright.async_api import expect

import turn
from turn import TurnServer

# A page whose watch gives a connection 60 s rather than 15 before declaring it failed, as a starved
# page's timers may run late: the other side's watch runs out first, and its new connection comes.
LATE_WATCH = """
(() => {
    const set = window.setTimeout;
    window.setTimeout = (handler, ms, ...args) => set(handler, ms === 15000 ? 60000 : ms, ...args);
})();
"""
RESTART_ICE_EVERYWHERE = f"() => {LINKS}.forEach((pc) => pc.restartIce())"
COLLISIONS = "() => window.__pcs.reduce((sum, pc) => sum + pc.__collisions, 0)"


@pytest.fixture
async def own_turn_server(tmp_path):
    """A coturn of this test's own: the test stops it to break the media path."""
    server = await asyncio.to_thread(TurnServer(tmp_path / "turn").start)
    yield server
    await asyncio.to_thread(server.stop)


async def test_call_relay_only_through_turn_with_glare_and_a_dropped_socket(
    own_turn_server, server_factory, new_user, room_name, room_url, monkeypatch
):
    turn_server = own_turn_server
    server = await asyncio.to_thread(
        server_factory,
        *turn_server.videochat_args(),
        "--ice-transport-policy",
        "relay",
        env=turn_server.videochat_env(),
    )
    url = room_url(server.url, room_name)
    alice = await open_call_page(new_user, "Alice")
    await alice.add_init_script(LATE_WATCH)
    bob = await open_call_page(new_user, "Bob")
    # Both press Join at the same moment.
    await asyncio.gather(enter_and_join_call(alice, url, "Alice"), enter_and_join_call(bob, url, "Bob"))
    for page in (alice, bob):
        await wait_remote_videos_play(page, 1)
        await wait_media_flows(page, 1)
        # relay-only, with the credentials the server issued for coturn
        # (the answering side's connection was made before the join, and given them then)
        assert await page.evaluate(f"() => {LINKS}.map((pc) => pc.getConfiguration().iceTransportPolicy)") == ["relay"]
        assert await selected_candidate_types(page) == ["relay"]

    # Glare: both sides offer at the same moment (an ICE restart on each), until a collision really
    # happened; perfect negotiation settles it and the call goes on.
    for _ in range(5):
        await asyncio.gather(alice.evaluate(RESTART_ICE_EVERYWHERE), bob.evaluate(RESTART_ICE_EVERYWHERE))
        for page in (alice, bob):
            await page.wait_for_function(
                f"() => {LINKS}.every((pc) => pc.signalingState === 'stable' && pc.connectionState === 'connected')",
                timeout=CALL_TIMEOUT_MS,
            )
        if await alice.evaluate(COLLISIONS) + await bob.evaluate(COLLISIONS) > 0:
            break
    assert await alice.evaluate(COLLISIONS) + await bob.evaluate(COLLISIONS) > 0, "the offers never collided"
    for page in (alice, bob):
        await wait_media_flows(page, 1)

    # Bob's socket drops for a few seconds: the others see him leave, then come back into the call
    # by himself; nobody reloads.
    await bob.context.set_offline(True)
    await expect(bob.locator("#status")).to_have_attribute("data-state", "reconnecting")
    await expect(remote_tiles(alice)).to_have_count(0, timeout=OFFLINE_NOTICED_MS)
    await bob.context.set_offline(False)
    await expect(bob.locator("#status")).to_have_attribute("data-state", "connected", timeout=CALL_TIMEOUT_MS)
    await expect(tile_of(alice, "Bob")).to_be_visible(timeout=CALL_TIMEOUT_MS)
    for page in (alice, bob):
        await wait_remote_videos_play(page, 1)
        await wait_media_flows(page, 1)
        assert await selected_candidate_types(page) == ["relay"]
    await expect(alice.locator("#members .member-name")).to_have_text(["Alice", "Bob"])

    # The relay goes away: the media path breaks, and the page says that it is reconnecting.
    port = turn_server.port
    before = await alice.evaluate(f"() => window.__pcs.indexOf({LINKS}[0])")
    await asyncio.to_thread(turn_server.stop)
    for page, other in ((alice, "Bob"), (bob, "Alice")):
        await expect(page.locator("#call-message-text")).to_have_text(
            f"The connection to {other} was interrupted. Reconnecting…", timeout=CALL_TIMEOUT_MS
        )
        await expect(tile_of(page, other).locator(".tile-state")).to_have_text("Connection interrupted. Reconnecting…")
    # The ICE restart gets nowhere without a relay: the connection is declared failed, to be made anew
    # (on Alice's page when Bob's new connection comes: her own watch runs late, see LATE_WATCH).
    for page, other in ((alice, "Bob"), (bob, "Alice")):
        await expect(page.locator("#call-message-text")).to_have_text(
            f"Could not connect to {other}. Trying again with a new connection…", timeout=120_000
        )
    # The relay comes back (same port, same secret, none of the old allocations): a new connection.
    monkeypatch.setattr(turn, "free_port", lambda: port)
    await asyncio.to_thread(turn_server.start)
    for page, other in ((alice, "Bob"), (bob, "Alice")):
        await expect(tile_of(page, other)).to_have_attribute("data-state", "connected", timeout=120_000)
        await expect(page.locator("#call-message")).to_be_hidden()
        await wait_media_flows(page, 1)
        assert await selected_candidate_types(page) == ["relay"]
    # ... on a new RTCPeerConnection, the old one closed.
    links = await alice.evaluate(f"() => {LINKS}.map((pc) => window.__pcs.indexOf(pc))")
    assert len(links) == 1 and links != [before]
    assert await alice.evaluate("(i) => window.__pcs[i].connectionState", before) == "closed"
