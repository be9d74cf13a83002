"""Video calls between real Chromium pages with fake devices: media really flows, and the controls
do what they say (docs/protocol.md, "Video calls")."""

from __future__ import annotations

from playwright.async_api import expect

from call_actions import (
    CALL_TIMEOUT_MS,
    enter_and_join_call,
    offers_so_far,
    open_call_page,
    remote_tiles,
    sender_track,
    tile_of,
    wait_media_flows,
    wait_remote_videos_play,
)


async def test_call_three_people_see_and_hear_each_other(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    names = ["Alice", "Bob", "Carol"]
    pages = {}
    for name in names:
        pages[name] = await open_call_page(new_user, name)
        await enter_and_join_call(pages[name], url, name)
    for name, page in pages.items():
        await wait_remote_videos_play(page, 2)
        await wait_media_flows(page, 2)
