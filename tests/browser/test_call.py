"""Video calls between real Chromium pages with fake devices: media really flows, and the controls
do what they say (docs/protocol.md, "Video calls")."""

from __future__ import annotations

from actions import enter_room
from call_actions import (
    CALL_TIMEOUT_MS,
    LINKS,
    enter_and_join_call,
    join_call,
    offers_so_far,
    open_call_page,
    remote_tiles,
    sender_track,
    tile_of,
    wait_answering_connections,
    wait_for_async,
    wait_media_flows,
    wait_remote_videos_play,
    wait_spare_connection,
)
from playwright.async_api import Page, expect

# The browser's own "Stop sharing" ends the screen track; a test cannot click the browser's bar, so
# it ends the track the same way the browser reports it: the track stops and fires "ended".
END_SCREEN_SHARE_AS_THE_BROWSER_DOES = """() => {
    for (const pc of window.__pcs) for (const sender of pc.getSenders()) {
        const track = sender.track;
        if (track && track.label.startsWith("screen")) {
            track.stop();
            track.dispatchEvent(new Event("ended"));
            return true;
        }
    }
    return false;
}"""

# Every connected sender of video sends at most `bps`, `height` lines tall (the track's own height,
# scaled down by the encoding), from a track running at most `fps` frames a second.
VIDEO_SENT_AS = """([bps, height, fps]) => window.__pcs.filter((pc) => pc.connectionState === "connected").every((pc) =>
    pc.getSenders().some((s) => {
        const encoding = s.track?.kind === "video" && s.getParameters().encodings[0];
        const settings = encoding && s.track.getSettings();
        return encoding && encoding.maxBitrate === bps && settings.height / encoding.scaleResolutionDownBy === height
            && settings.frameRate <= fps;
    }))"""

# The candidates a connection was given: in its peer's description, and one by one (trickled).
REMOTE_CANDIDATES = """(pc) => [...(pc.remoteDescription?.sdp.match(/^a=candidate:.*$/gm) ?? []).map((line) => line.slice(2)),
    ...pc.__received]"""

# Per connection with a peer: no candidate pool, and candidates received, all of them UDP.
CONNECTIONS_SET_UP_LEAN = f"""() => {LINKS}.map((pc) => {{
    const received = ({REMOTE_CANDIDATES})(pc);
    return pc.getConfiguration().iceCandidatePoolSize === 0 && received.length > 0
        && received.every((line) => line.split(" ")[2].toLowerCase() === "udp");
}})"""

# The height of the first picture of each remote video (its size when its first frame came).
RECORD_FIRST_PICTURES = """
document.addEventListener("loadedmetadata", ({ target }) => {
    if (target.matches?.(".call-tile:not(.mine) video")) (window.__firstHeights ??= []).push(target.videoHeight);
}, true);
"""

# Counts the page's camera size changes (applyConstraints).
COUNT_RESIZES = """
(() => {
    const apply = MediaStreamTrack.prototype.applyConstraints;
    window.__resizes = 0;
    MediaStreamTrack.prototype.applyConstraints = function (...args) {
        window.__resizes += 1;
        return apply.apply(this, args);
    };
})();
"""
# The pre-join preview's camera runs [height, frame rate].
PREVIEW_CAMERA = """() => {
    const settings = document.querySelector("#preview-video").srcObject?.getVideoTracks()[0]?.getSettings();
    return settings ? [settings.height, settings.frameRate] : null;
}"""

END_CAMERA_AS_IF_UNPLUGGED = END_SCREEN_SHARE_AS_THE_BROWSER_DOES.replace(
    'track.label.startsWith("screen")', 'track.kind === "video" && track.label.startsWith("fake_device")'
)


async def choose_camera(page: Page, index: int) -> str:
    """Opens the call settings and picks the index-th camera; returns its label."""
    menu = page.locator(".call-menu:not(.reactions-menu)")
    if await menu.get_attribute("open") is None:
        await menu.locator("summary").click()
    select = page.locator("#camera-select")
    label = (await select.locator("option").all_inner_texts())[index]
    await select.select_option(label=label)
    return label


async def test_call_three_people_see_hear_and_control(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = await open_call_page(new_user, "Alice")
    bob = await open_call_page(new_user, "Bob")
    carol = await open_call_page(new_user, "Carol", lang="ko")
    pages = {"Alice": alice, "Bob": bob, "Carol": carol}
    await carol.add_init_script(COUNT_RESIZES)
    # The pre-join view says who is in the call already.
    await enter_room(alice, url, "Alice")
    await expect(alice.locator("#prejoin-callers")).to_have_text("No one is in the call yet.")
    await join_call(alice)
    await enter_room(bob, url, "Bob")
    await expect(bob.locator("#prejoin-callers")).to_have_text("Alice is in the call.")
    await join_call(bob)
    # Once the call has settled, each of its pages keeps a spare connection for the next newcomer,
    # its offer made and its candidates gathered before anyone comes (peers.js) ...
    spares = {name: await wait_spare_connection(pages[name]) for name in ("Alice", "Bob")}
    await enter_room(carol, url, "Carol")
    await expect(carol.locator("#call-join")).to_have_text("참여")
    await expect(carol.locator("#prejoin-callers")).to_have_text("Alice 님과 Bob 님이 통화 중입니다.")
    # Joining makes a call of three: her camera opens at the size such a call runs it (640x360 at
    # 15 frames a second), so Join does not resize it while the connections are made.
    await carol.wait_for_function(f"() => ({PREVIEW_CAMERA})() !== null")
    assert await carol.evaluate(PREVIEW_CAMERA) == [360, 15]
    # ... and the newcomer's page makes, before the click, the connections it will answer with.
    made_ahead = await wait_answering_connections(carol)
    await join_call(carol)

    # Everyone receives everyone: pictures that move, audio and video bytes and frames that grow.
    for page in pages.values():
        await wait_remote_videos_play(page, 2)
        await wait_media_flows(page, 2)
    assert await carol.evaluate("() => window.__resizes") == 0
    await expect(alice.locator("#tiles .call-tile.mine .tile-name")).to_have_text("Alice (you)")
    await expect(carol.locator("#mute-button")).to_have_text("음소거")
    # Our own picture is mirrored, the others' are not.
    assert await alice.locator("#tiles .call-tile.mine video").evaluate("v => getComputedStyle(v).transform") != "none"
    assert await tile_of(alice, "Bob").locator("video").evaluate("v => getComputedStyle(v).transform") == "none"
    # ... which the newcomer got: Carol answered it.
    for name, index in spares.items():
        assert await pages[name].evaluate(
            "(i) => [window.__pcs[i].connectionState, window.__pcs[i].remoteDescription?.type]", index
        ) == ["connected", "answer"]
    # Their candidates, gathered before she came, were in their offers: none had to trickle to her.
    assert await carol.evaluate(
        f"() => {LINKS}.map((pc) => [({REMOTE_CANDIDATES})(pc).length > 0, pc.__received.length])"
    ) == [[True, 0], [True, 0]]
    assert set(await carol.evaluate(f"() => {LINKS}.map((pc) => window.__pcs.indexOf(pc))")) <= set(made_ahead)
    # The pre-join preview, hidden in the call, lets go of the camera's stream (once the page is idle).
    for page in pages.values():
        await page.wait_for_function("() => document.querySelector('#preview-video').srcObject === null")
    # Each connection was negotiated once: the existing participants offered, the newcomer answered.
    for page in pages.values():
        assert await offers_so_far(page) == [1, 1]
    # Set up without a candidate pool (with one, about one answering connection in twenty never
    # gathered a candidate and waited 15 s to be re-created), and only candidates that can pair
    # travel: UDP ones, none of the browser's "active" TCP host candidates.
    for page in pages.values():
        assert await page.evaluate(CONNECTIONS_SET_UP_LEAN) == [True, True]
    # The upload budget (2500 kbit/s by default) is shared out: two peers, 64 kbit/s kept for audio
    # each; in a call of three or more the camera runs at 360p and 15 frames a second.
    await alice.wait_for_function(VIDEO_SENT_AS, arg=[(2500 // 2 - 64) * 1000, 360, 15], timeout=CALL_TIMEOUT_MS)
    # The fake microphone beeps: the speaking ring lights up on the others' pages.
    await expect(bob.locator("#tiles .call-tile[data-speaking]:not(.mine)").first).to_be_attached(
        timeout=CALL_TIMEOUT_MS
    )

    # Mute: the label says what the button will do next, the others see it, and silence is sent.
    mute = alice.locator("#mute-button")
    await expect(mute).to_have_text("Mute")
    await mute.click()
    await expect(mute).to_have_text("Unmute")
    await expect(mute).to_have_attribute("aria-pressed", "true")
    for page in (bob, carol):
        await expect(tile_of(page, "Alice")).to_have_attribute("data-audio", "false")
        await expect(tile_of(page, "Alice").locator(".tile-muted")).to_be_visible()
    assert [track["enabled"] for track in await sender_track(alice, "audio")] == [False, False]
    # The keyboard shortcut does the same (M), as the settings' help says.
    await alice.locator("body").press("m")
    await expect(mute).to_have_text("Mute")
    await expect(tile_of(bob, "Alice")).to_have_attribute("data-audio", "true")
    assert [track["enabled"] for track in await sender_track(alice, "audio")] == [True, True]
    # Push to talk: muted, holding the space bar talks; letting go mutes again.
    await alice.locator("body").press("m")
    await expect(tile_of(bob, "Alice")).to_have_attribute("data-audio", "false")
    await alice.evaluate("() => document.activeElement?.blur()")  # a focused button takes the space bar
    await alice.keyboard.down("Space")
    await expect(tile_of(bob, "Alice")).to_have_attribute("data-audio", "true")
    assert [track["enabled"] for track in await sender_track(alice, "audio")] == [True, True]
    await alice.keyboard.up("Space")
    await expect(tile_of(bob, "Alice")).to_have_attribute("data-audio", "false")
    await expect(mute).to_have_text("Unmute")
    await alice.locator("body").press("m")
    await expect(mute).to_have_text("Mute")

    # Camera off: the camera is released and nothing is sent; the others see the avatar.
    camera = bob.locator("#camera-button")
    await expect(camera).to_have_text("Turn Camera Off")
    await bob.locator("body").press("v")
    await expect(camera).to_have_text("Turn Camera On")
    await expect(camera).to_have_attribute("aria-pressed", "true")
    for page in (alice, carol):
        await expect(tile_of(page, "Bob")).to_have_attribute("data-video", "false")
        await expect(tile_of(page, "Bob").locator(".tile-placeholder .avatar")).to_be_visible()
    assert await sender_track(bob, "video") == [None, None]
    await camera.click()
    await expect(camera).to_have_text("Turn Camera Off")
    await expect(tile_of(alice, "Bob")).to_have_attribute("data-video", "true")
    await wait_media_flows(alice, 2)

    # The camera is unplugged (its track ends, as the browser reports it): Bob is told, the others
    # see the camera off; the button offers to turn it on again, which opens one that is there.
    assert await bob.evaluate(END_CAMERA_AS_IF_UNPLUGGED)
    await expect(bob.locator("#call-message-text")).to_have_text(
        "Your camera was disconnected. Plug it back in or choose another camera in the settings."
    )
    await expect(tile_of(alice, "Bob")).to_have_attribute("data-video", "false")
    await expect(camera).to_have_text("Turn Camera On")
    await camera.click()
    await expect(camera).to_have_text("Turn Camera Off")
    await expect(tile_of(alice, "Bob")).to_have_attribute("data-video", "true")
    await wait_media_flows(carol, 2)

    # Switching among the three fake cameras replaces the track: frames keep coming, no new offer.
    # Alice's spare connection for a fourth person (made again since Carol took the first one)
    # follows too. She ends on a camera nobody else uses: the pages share one browser, whose fake
    # cameras are shared devices, and when the call shrinks every page resizes its camera at once;
    # one device resized by three pages together now and then stayed at 640x480 (people on
    # their own machines have cameras of their own).
    spare = await wait_spare_connection(alice)
    offers = await offers_so_far(alice)
    for index in (1, 0, 2):
        label = await choose_camera(alice, index)
        await alice.wait_for_function(
            f"""(label) => {LINKS}.every((pc) =>
                pc.getSenders().some((s) => s.track && s.track.kind === "video" && s.track.label === label))""",
            arg=label,
            timeout=CALL_TIMEOUT_MS,
        )
        await alice.wait_for_function(
            "([i, label]) => window.__pcs[i].getSenders().some((s) => s.track?.kind === 'video' && s.track.label === label)",
            arg=[spare, label],
            timeout=CALL_TIMEOUT_MS,
        )
    # Frames come from the last camera, one no other page holds. On fake_device_1 (which another page
    # of this one browser had opened) Alice's track stayed live and unmuted yet her encoder got no
    # frame (framesEncoded stood still): the waits here did not wait until now, so that never showed.
    # People have cameras of their own; the pages of this test share three.
    for page in (bob, carol):
        await wait_media_flows(page, 2)
    assert await offers_so_far(alice) == offers
    assert await alice.evaluate("(i) => window.__pcs[i].signalingState", spare) == "have-local-offer"  # still a spare
    # The others' sound (each tile's <audio>: its <video> is muted) goes to the chosen speaker.
    speaker = alice.locator("#speaker-select")
    output = (await speaker.locator("option").all())[1]
    await speaker.select_option(await output.get_attribute("value"))
    await alice.wait_for_function(
        """(id) => {
            const sounds = [...document.querySelectorAll('#tiles .call-tile:not(.mine) audio')];
            return sounds.length === 2 && sounds.every((a) => a.sinkId === id && !a.muted && a.srcObject)
                && [...document.querySelectorAll('#tiles .call-tile video')].every((v) => v.muted);
        }""",
        arg=await output.get_attribute("value"),
    )
    assert await alice.evaluate(f"() => {LINKS}.every((pc) => pc.signalingState === 'stable')")

    # Screen share shows on the others, and the browser's own "Stop sharing" ends it cleanly.
    share = carol.locator("#share-button")
    await expect(share).to_have_text("화면 공유")
    await share.click()
    await expect(share).to_have_text("공유 중지")
    for page in (alice, bob):
        tile = tile_of(page, "Carol")
        await expect(tile).to_have_attribute("data-screen", "true")
        await expect(tile.locator(".tile-screen")).to_have_text("Sharing screen")
        await wait_media_flows(page, 2)
    # The screen goes at its own full size, even in a call of three.
    assert await carol.evaluate("""() => window.__pcs.filter((pc) => pc.connectionState === "connected").every((pc) =>
        pc.getSenders().some((s) => s.track?.contentHint === "detail" && s.getParameters().encodings[0].scaleResolutionDownBy === 1))""")
    assert await carol.evaluate(END_SCREEN_SHARE_AS_THE_BROWSER_DOES)
    await expect(share).to_have_text("화면 공유")
    for page in (alice, bob):
        await expect(tile_of(page, "Carol")).to_have_attribute("data-screen", "false")
    assert all(track["label"].startswith("fake_device") for track in await sender_track(carol, "video"))
    assert await offers_so_far(carol) == [1, 1]

    # Leaving the call removes the tile on the others; the person stays in the room's chat.
    await carol.locator("#leave-call").click()
    await expect(carol.locator("#prejoin")).to_be_visible()
    await expect(carol.locator("#prejoin-callers")).to_have_text("Alice 님과 Bob 님이 통화 중입니다.")
    for page in (alice, bob):
        await expect(remote_tiles(page)).to_have_count(1)
        await expect(page.locator("#members .member-name")).to_have_text(["Alice", "Bob", "Carol"])
        await expect(page.locator("#messages .notice-left .notice-text")).to_have_text(["Carol left the call."])
    await expect(alice.locator("#messages .notice-joined .notice-text")).to_have_text(
        ["Bob joined.", "Bob joined the call.", "Carol joined.", "Carol joined the call."]
    )
    await wait_media_flows(alice, 1)
    # One peer left: its share of the budget goes to the other, and the camera its full size and
    # frame rate (the small picture a connection starts with is long gone too).
    await alice.wait_for_function(VIDEO_SENT_AS, arg=[(2500 - 64) * 1000, 720, 30], timeout=CALL_TIMEOUT_MS)


# The browser takes its time listing the devices, as it does on a busy machine.
SLOW_DEVICE_LIST = """
(() => {
    const list = MediaDevices.prototype.enumerateDevices;
    MediaDevices.prototype.enumerateDevices = function () {
        return list.call(this).then((devices) => new Promise((resolve) => setTimeout(() => resolve(devices), 3000)));
    };
})();
"""
PREVIEWING = "(label) => document.querySelector('#preview-video').srcObject?.getVideoTracks()[0]?.label === label"


async def test_devices_chosen_before_joining_are_remembered_at_once(live_server, new_user, room_name, room_url):
    # Remembered as soon as the chosen camera is in use, not once the browser has listed the
    # devices again: a reload right after the choice keeps it.
    page = await open_call_page(new_user, "Carol")
    await page.add_init_script(SLOW_DEVICE_LIST)
    await enter_room(page, room_url(live_server.url, room_name), "Carol")
    select = page.locator("#prejoin-camera-select")
    await expect(select.locator("option")).to_have_count(3, timeout=CALL_TIMEOUT_MS)
    await select.select_option(label="fake_device_2")
    chosen = await select.input_value()
    await page.wait_for_function(PREVIEWING, arg="fake_device_2")
    await page.reload()
    await expect(page.locator("#prejoin-camera-select")).to_have_value(chosen, timeout=CALL_TIMEOUT_MS)
    await page.wait_for_function(PREVIEWING, arg="fake_device_2")


# From now on the browser fails to list the devices; then a device is plugged in.
FAIL_DEVICE_LIST_AND_PLUG_IN = """() => {
    window.__listFailed = 0;
    MediaDevices.prototype.enumerateDevices = function () {
        window.__listFailed += 1;
        return Promise.reject(new DOMException("The device list is not available", "AbortError"));
    };
    navigator.mediaDevices.dispatchEvent(new Event("devicechange"));
}"""


async def test_a_device_list_that_fails_keeps_the_one_shown(live_server, new_user, room_name, room_url):
    page = await open_call_page(new_user, "Carol")
    await enter_room(page, room_url(live_server.url, room_name), "Carol")
    options = page.locator("#prejoin-camera-select option")
    await expect(options).to_have_count(3, timeout=CALL_TIMEOUT_MS)
    await page.evaluate(FAIL_DEVICE_LIST_AND_PLUG_IN)
    await page.wait_for_function("() => window.__listFailed === 1")
    # No unhandled rejection (page_errors would fail the test), and the choices stay.
    await expect(options).to_have_count(3)
    await join_call(page)


# The camera opens only when the test says so (a browser slow to open it, or a person slow to allow it).
HOLD_CAMERA = """
(() => {
    const open = MediaDevices.prototype.getUserMedia;
    let release;
    const released = new Promise((resolve) => { release = resolve; });
    window.__releaseCamera = release;
    MediaDevices.prototype.getUserMedia = function (constraints) {
        return released.then(() => open.call(this, constraints));
    };
})();
"""


async def test_camera_opened_while_the_call_grew_runs_at_the_calls_size(live_server, new_user, room_name, room_url):
    # Carol's camera is asked for while one person is in the call (full size), and opens after a
    # second one joined: it runs at the size of the call of three she would make.
    url = room_url(live_server.url, room_name)
    alice = await open_call_page(new_user, "Alice")
    bob = await open_call_page(new_user, "Bob")
    carol = await open_call_page(new_user, "Carol")
    await carol.add_init_script(HOLD_CAMERA)
    await enter_and_join_call(alice, url, "Alice")
    await enter_room(bob, url, "Bob")
    await enter_room(carol, url, "Carol")
    await expect(carol.locator("#prejoin-callers")).to_have_text("Alice is in the call.")
    await join_call(bob)
    await expect(carol.locator("#prejoin-callers")).to_have_text("Alice and Bob are in the call.")
    await carol.evaluate("() => window.__releaseCamera()")
    await carol.wait_for_function(f"() => ({PREVIEW_CAMERA})()?.[0] === 360", timeout=CALL_TIMEOUT_MS)
    assert await carol.evaluate(PREVIEW_CAMERA) == [360, 15]


async def test_call_first_picture_small_then_full_size(live_server, new_user, room_name, room_url):
    # A new connection's first frames go small (the encoder starts from a low bandwidth estimate and
    # would drop larger ones while it scales down); a second later, the full size of a call of two.
    url = room_url(live_server.url, room_name)
    alice = await open_call_page(new_user, "Alice")
    bob = await open_call_page(new_user, "Bob")
    for page in (alice, bob):
        await page.add_init_script(RECORD_FIRST_PICTURES)
    await enter_and_join_call(alice, url, "Alice")
    await enter_and_join_call(bob, url, "Bob")
    for page in (alice, bob):
        await wait_remote_videos_play(page, 1)
        first = await page.evaluate("() => window.__firstHeights")
        assert len(first) == 1 and 0 < first[0] <= 180, first
        await page.wait_for_function(
            "() => document.querySelector('#tiles .call-tile:not(.mine) video').videoHeight === 720",
            timeout=CALL_TIMEOUT_MS,
        )


# The browser refuses the first REFUSALS setParameters calls of the page, as it does parameters read
# before a negotiation that came in between (InvalidModificationError).
REFUSE_SET_PARAMETERS = """
(() => {
    const set = RTCRtpSender.prototype.setParameters;
    window.__refused = 0;
    RTCRtpSender.prototype.setParameters = function (parameters) {
        if (window.__refused < %d) {
            window.__refused += 1;
            return Promise.reject(new DOMException("Read before a negotiation", "InvalidModificationError"));
        }
        return set.call(this, parameters);
    };
})();
"""
# More than a two-person call asks by itself (adopting the spare, the answer, connected, the camera's
# lift to full size): only a retry of the page's own gets the limits through.
REFUSALS = 6


async def test_call_sender_limits_set_again_after_the_browser_refused_them(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = await open_call_page(new_user, "Alice")
    await alice.add_init_script(REFUSE_SET_PARAMETERS % REFUSALS)
    bob = await open_call_page(new_user, "Bob")
    await enter_and_join_call(alice, url, "Alice")
    await enter_and_join_call(bob, url, "Bob")
    await wait_remote_videos_play(alice, 1)
    await alice.wait_for_function("(n) => window.__refused === n", arg=REFUSALS, timeout=CALL_TIMEOUT_MS)
    # Two people: the whole budget but the audio, the camera at its full size and frame rate.
    await alice.wait_for_function(VIDEO_SENT_AS, arg=[(2500 - 64) * 1000, 720, 30], timeout=CALL_TIMEOUT_MS)


# The sound received from the person of a tile (the track its page plays), summed as heard: the energy of
# the samples decoded and played (inbound-rtp totalAudioEnergy; 0 when they come out silent).
HEARD_ENERGY = """async (name) => {
    const tile = [...document.querySelectorAll("#tiles .call-tile:not(.mine)")]
        .find((item) => item.querySelector(".tile-name")?.textContent.trim() === name);
    const track = (tile?.querySelector("audio") ?? tile?.querySelector("video"))?.srcObject?.getAudioTracks()[0];
    if (!track) return -1;
    for (const pc of window.__pcs) {
        const receiver = pc.getReceivers().find((r) => r.track === track);
        if (!receiver) continue;
        let energy = 0;
        (await receiver.getStats()).forEach((r) => { if (r.type === "inbound-rtp") energy = r.totalAudioEnergy ?? 0; });
        return energy;
    }
    return -1;
}"""


async def test_someone_whose_camera_is_off_before_a_newcomer_comes_is_heard_by_them(
    live_server, new_user, room_name, room_url
):
    """Carol joins after Bob turned his camera off: she never receives a frame of his video. A tile
    playing sound and video in one <video> played no sound then (Chromium waits for a first frame);
    each tile's sound plays from an <audio> of its own."""
    url = room_url(live_server.url, room_name)
    alice, bob, carol = [await open_call_page(new_user, name) for name in ("Alice", "Bob", "Carol")]
    await enter_and_join_call(alice, url, "Alice")
    await enter_and_join_call(bob, url, "Bob")
    await wait_remote_videos_play(alice, 1)
    await bob.locator("#camera-button").click()
    await expect(tile_of(alice, "Bob")).to_have_attribute("data-video", "false")
    await enter_and_join_call(carol, url, "Carol")
    await expect(tile_of(carol, "Bob")).to_have_attribute("data-video", "false")
    # Bob's fake microphone beeps: what Carol's page plays of him is not silence
    await wait_for_async(carol, f"async () => (await ({HEARD_ENERGY})('Bob')) > 0.05")
    assert await carol.evaluate("() => document.querySelector('#tiles .call-tile:not(.mine) video').muted")
