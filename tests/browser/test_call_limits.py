"""A full call, a person whose camera and microphone are blocked, one without a camera, and a join
that loses the last place to someone else: each is told so in the page; each can still chat, watch
or speak once there is room."""

from __future__ import annotations

from actions import enter_room, send
from call_actions import (
    CALL_TIMEOUT_MS,
    enter_and_join_call,
    join_call,
    open_call_page,
    remote_tiles,
    tile_of,
    wait_for_async,
    wait_media_flows,
)
from chromium import CHROMIUM_FLAGS, Chromium
from playwright.async_api import expect

# Audio bytes sent on each connected peer connection.
AUDIO_SENT = """async () => {
    const sent = [];
    for (const pc of window.__pcs.filter((pc) => pc.connectionState === "connected")) {
        let bytes = 0;
        (await pc.getStats()).forEach((r) => { if (r.type === "outbound-rtp" && r.kind === "audio") bytes += r.bytesSent; });
        sent.push(bytes);
    }
    return sent;
}"""
NO_MEDIA = {"media": {"audio": False, "video": False, "screen": False}}


async def join_without_media(connect, room: str, nicknames: list[str]) -> list:
    """Light Socket.IO clients in the room's call, one per nickname (no media: they save the CPU)."""
    clients = []
    for nickname in nicknames:
        client = await connect()
        await client.call("nickname", nickname)
        reply = await client.call("join_room", room, NO_MEDIA)
        assert reply["ok"], reply
        clients.append(client)
    return clients


async def test_call_full_and_blocked_camera_still_chat_and_watch(
    playwright, live_server, connect, new_user, room_name, room_url
):
    url = room_url(live_server.url, room_name)
    alice = await open_call_page(new_user, "Alice")
    await enter_and_join_call(alice, url, "Alice")
    # Five light Socket.IO clients fill the call's other five places.
    fillers = await join_without_media(connect, room_name, [f"filler{number}" for number in range(5)])
    await expect(remote_tiles(alice)).to_have_count(5)

    # A browser that never got the fake "allow" answer: getUserMedia is refused.
    strict_flags = [flag for flag in CHROMIUM_FLAGS if flag != "--use-fake-ui-for-media-stream"]
    async with Chromium(playwright, strict_flags) as strict:
        dave = await open_call_page(new_user, "Dave", browser=strict)
        await enter_room(dave, url, "Dave")
        message = dave.locator("#call-message")
        await expect(message.locator("#call-message-text")).to_contain_text(
            "Camera and microphone are blocked for this site"
        )
        await expect(dave.locator("#prejoin-note")).to_have_text(
            "You will join without camera and microphone: you can watch, listen and chat."
        )
        await expect(dave.locator("#prejoin-mic")).to_be_disabled()

        # A seventh person sees that the call is full before trying, cannot join, and chats on.
        await expect(dave.locator("#prejoin-callers")).to_have_text(
            "The call is full: 6 people are in it. You can still chat."
        )
        await expect(dave.locator("#call-join")).to_be_disabled()
        await send(dave, "full, but here")
        await fillers[0].wait_for("new_message", lambda *args: "full, but here" in repr(args))
        await expect(alice.locator("#messages .message .message-text")).to_have_text(["full, but here"])

        # A place frees up: Dave can join, and joins to watch and listen, sending nothing.
        await fillers[0].call("leave_call", room_name)
        await expect(remote_tiles(alice)).to_have_count(4)
        await expect(dave.locator("#prejoin-callers")).to_have_text("Alice, filler1 and 3 more are in the call.")
        await dave.locator("#call-join").click()
        await expect(dave.locator("#call")).to_be_visible()
        # The camera and microphone are still blocked: the page still says so, in the call too.
        await expect(message.locator("#call-message-text")).to_contain_text(
            "Camera and microphone are blocked for this site"
        )
        await expect(tile_of(alice, "Dave")).to_have_attribute("data-video", "false")
        await expect(tile_of(alice, "Dave")).to_have_attribute("data-audio", "false")
        await expect(tile_of(dave, "Alice")).to_be_visible()
        # Alice's picture, within the call timeout the other call tests allow (the page default of
        # 15 s ran out once in a fresh-clone CI run, twice under load)
        await dave.wait_for_function(
            """() => [...document.querySelectorAll("#tiles .call-tile:not(.mine)")].some((tile) =>
                   tile.querySelector(".tile-name")?.textContent.includes("Alice")
                   && tile.querySelector("video")?.videoWidth > 0)""",
            timeout=CALL_TIMEOUT_MS,
        )
        await wait_media_flows(dave, 1)

    # A computer without a camera: its person joins with the microphone only.
    cameraless_flags = [flag.replace("device-count=3", "device-count=0") for flag in CHROMIUM_FLAGS]
    async with Chromium(playwright, cameraless_flags) as cameraless:
        erin = await open_call_page(new_user, "Erin", lang="ko", browser=cameraless)
        await enter_room(erin, url, "Erin")
        await expect(erin.locator("#call-message-text")).to_have_text(
            "카메라를 찾지 못해 음성으로만 참여합니다. 카메라를 연결한 다음 설정에서 선택하세요."
        )
        await expect(erin.locator("#prejoin-note")).to_have_text("음성으로만 참여합니다.")
        await expect(erin.locator("#prejoin-camera")).to_be_disabled()
        await fillers[1].call("leave_call", room_name)  # Dave has gone too: Alice and three fillers
        await expect(remote_tiles(alice)).to_have_count(3)
        await join_call(erin)
        erin_tile = tile_of(alice, "Erin")
        await expect(erin_tile).to_have_attribute("data-audio", "true")
        await expect(erin_tile).to_have_attribute("data-video", "false")
        # Erin's microphone really reaches Alice, and Erin sees Alice.
        await erin.wait_for_function(
            "() => window.__pcs.filter((pc) => pc.connectionState === 'connected').length === 1",
            timeout=CALL_TIMEOUT_MS,
        )
        sent = await erin.evaluate(AUDIO_SENT)
        await wait_for_async(
            erin,
            f"async (before) => {{ const now = await ({AUDIO_SENT})(); return now.every((bytes, i) => bytes > before[i]); }}",
            sent,
        )
        await expect(tile_of(erin, "Alice")).to_have_attribute("data-video", "true")


# Holds the page's join_room packets until the test releases them: a click that races the last place.
# (On the WebSocket, and on long-polling's POST should the connection not be upgraded yet.)
HOLD_JOIN = """
(() => {
    window.__held = [];
    window.__holdJoin = false;
    for (const Kind of [WebSocket, XMLHttpRequest]) {
        const send = Kind.prototype.send;
        Kind.prototype.send = function (data) {
            if (window.__holdJoin && typeof data === "string" && data.includes('"join_room"')) {
                window.__held.push(() => send.call(this, data));
                return;
            }
            return send.call(this, data);
        };
    }
    window.__releaseJoin = () => { window.__holdJoin = false; window.__held.splice(0).forEach((go) => go()); };
})();
"""


async def test_a_join_that_loses_the_last_place_is_told_the_call_is_full(
    live_server, connect, new_user, room_name, room_url
):
    url = room_url(live_server.url, room_name)
    fillers = await join_without_media(connect, room_name, [f"filler{number}" for number in range(5)])
    fred = await open_call_page(new_user, "Fred")
    await fred.add_init_script(HOLD_JOIN)
    await enter_room(fred, url, "Fred")
    await expect(fred.locator("#prejoin-callers")).to_have_text("filler0, filler1 and 3 more are in the call.")
    join = fred.locator("#call-join")
    await expect(join).to_be_enabled()

    # Fred clicks while there is a place; the last place goes to someone else before his request arrives.
    await fred.evaluate("window.__holdJoin = true")
    await join.click()
    await fred.wait_for_function("window.__held.length === 1")
    [last] = await join_without_media(connect, room_name, ["last"])
    await expect(fred.locator("#prejoin-callers")).to_have_text(
        "The call is full: 6 people are in it. You can still chat."
    )
    await expect(join).to_be_disabled()  # busy with the click, and full
    await fred.evaluate("window.__releaseJoin()")

    # The server refuses; the page says why, stays out of the call, and the chat goes on.
    await expect(fred.locator("#call-message-text")).to_have_text(
        "The video call is full, so you cannot join it now. You can still chat with everyone here."
    )
    await expect(fred.locator("#call")).to_be_hidden()
    await expect(join).to_be_disabled()
    await send(fred, "missed it")
    await last.wait_for("new_message", lambda *args: "missed it" in repr(args))

    # A place frees: the refusal is past news, and Fred joins.
    await fillers[0].call("leave_call", room_name)
    await expect(join).to_be_enabled()
    await join.click()
    await expect(fred.locator("#call")).to_be_visible()
    await expect(remote_tiles(fred)).to_have_count(5)
    await expect(fred.locator("#call-message")).to_be_hidden()
