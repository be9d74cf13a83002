"""The Python peer (videochat.peer, aiortc) and a Chromium page call each other through the server,
each side making the offer once. aiortc only reaches 127.0.0.1 through TURN, hence the coturn."""

from __future__ import annotations

from call_actions import LINKS, enter_and_join_call, open_call_page, tile_of, wait_media_flows, wait_remote_videos_play
from playwright.async_api import expect

from videochat.peer import Peer


async def test_call_python_peer_and_browser_both_directions_of_offer(turn_videochat, new_user, room_name, room_url):
    url = room_url(turn_videochat.url, room_name)
    robots: list[Peer] = []
    try:
        # Offered by the Python peer: it is in the call first, the page joins after.
        first = Peer(turn_videochat.url, room_name, name="Robot One", ice_transport_policy="relay")
        robots.append(first)
        await first.start()
        alice = await open_call_page(new_user, "Alice")
        await enter_and_join_call(alice, url, "Alice")
        await expect(tile_of(alice, "Robot One")).to_be_visible()
        await wait_remote_videos_play(alice, 1)
        await wait_media_flows(alice, 1)
        page_peer = await first.wait_for_peer(nickname="Alice")
        await first.wait_for_connection(page_peer.id, timeout=45)
        await first.wait_for_media(page_peer.id, timeout=45)

        # Offered by the browser: the page is in the call, the Python peer joins after.
        second = Peer(
            turn_videochat.url,
            room_name,
            name="Robot Two",
            ice_transport_policy="relay",
            send_audio=True,
            send_video=True,
        )
        robots.append(second)
        await second.start()
        await second.wait_for_connection(page_peer.id, timeout=45)
        await second.wait_for_media(page_peer.id, timeout=45)
        await wait_remote_videos_play(alice, 2)
        await wait_media_flows(alice, 2)
        # Who offered: the Python peer to the page, then the page to the second Python peer.
        assert await alice.evaluate(f"() => {LINKS}.map((pc) => pc.localDescription.type)") == ["answer", "offer"]
        # The Python peer starts over on a fresh connection (a new DTLS fingerprint) while connected:
        # the page drops its old connection and answers on a new one.
        await first.call(page_peer.id)
        await first.wait_for_connection(page_peer.id, timeout=45)
        await first.wait_for_media(page_peer.id, timeout=45)
        await alice.wait_for_function("() => window.__pcs.filter((pc) => pc.connectionState === 'closed').length === 1")
        await wait_media_flows(alice, 2)
        # The Python peer's media state reaches the page as an event.
        await second.set_media(audio=False)
        await expect(tile_of(alice, "Robot Two")).to_have_attribute("data-audio", "false")
    finally:
        for robot in robots:
            await robot.stop()
