"""A call whose people are connected to different processes sharing Redis (docs/deploy.md): real Chromium
pages, a real redis-server, two videochat processes."""

from __future__ import annotations

import asyncio

from call_actions import enter_and_join_call, open_call_page, tile_of, wait_media_flows, wait_remote_videos_play
from playwright.async_api import expect

from redis_server import ProcessGroup, RedisServer
from support import SHARED_ADDRESS


async def test_call_across_two_processes(tmp_path, new_user, room_name, room_url):
    redis = await asyncio.to_thread(RedisServer(tmp_path / "redis").start)
    group = await asyncio.to_thread(ProcessGroup(tmp_path / "group", redis, *SHARED_ADDRESS).start)
    try:
        one, two = group.urls
        alice = await open_call_page(new_user, "Alice")
        bob = await open_call_page(new_user, "Bob")
        carol = await open_call_page(new_user, "Carol")
        await enter_and_join_call(alice, room_url(one, room_name), "Alice")
        await enter_and_join_call(bob, room_url(two, room_name), "Bob")
        await enter_and_join_call(carol, room_url(one, room_name), "Carol")
        for page in (alice, bob, carol):
            await wait_remote_videos_play(page, 2)
            await wait_media_flows(page, 2)
        # media state crosses processes too
        await bob.locator("#mute-button").click()
        for page in (alice, carol):
            await expect(tile_of(page, "Bob")).to_have_attribute("data-audio", "false")
        # the people list and chat are one room
        await expect(alice.locator("#members li")).to_have_count(3)
        await bob.locator("#message-input").fill("hello from the other process")
        await bob.locator("#message-input").press("Enter")
        await expect(alice.locator("#messages")).to_contain_text("hello from the other process")
        # Bob leaves the call: both pages on the other process drop his tile
        await bob.close()
        for page in (alice, carol):
            await expect(tile_of(page, "Bob")).to_have_count(0)
    finally:
        await asyncio.to_thread(group.stop)
        await asyncio.to_thread(redis.stop)
