"""Recording a call, as people see it (docs/recording.md): the owner starts it from the room's
settings, every page shows that the call is recorded (the badge, the chat, the pre-join view of
someone about to join), a two-person mesh moves to the SFU with its video going on, and stopping
takes it all back. A real server running a real Janus, in a network namespace of its own
(tests/sfu/netns)."""

from __future__ import annotations

import json
import subprocess

import pytest
from actions import enter_room
from call_actions import (
    CALL_TIMEOUT_MS,
    enter_and_join_call,
    open_call_page,
    wait_remote_videos_play,
    wait_sound_received,
)
from playwright.async_api import expect


@pytest.fixture
def sfu_videochat(server_factory):
    return server_factory("--sfu-from", "3", env={"VIDEOCHAT_JANUS": "auto"})


async def test_the_owner_records_and_every_page_shows_it_before_and_in_the_call(
    sfu_videochat, new_user, room_name, room_url
):
    url = room_url(sfu_videochat.url, room_name)
    ana, ben = await open_call_page(new_user, "Ana"), await open_call_page(new_user, "Ben")
    await enter_and_join_call(ana, url, "Ana")  # the first in the room owns it
    await enter_and_join_call(ben, url, "Ben")
    for page in (ana, ben):
        await wait_remote_videos_play(page, 1)
        await expect(page.get_by_test_id("recording-badge")).to_be_hidden()
    # only the owner has the buttons (in the room's settings, and in the call bar)
    await expect(ben.get_by_test_id("record-button")).to_be_hidden()
    await expect(ben.get_by_test_id("call-record")).to_be_hidden()
    await expect(ana.get_by_test_id("call-record")).to_be_visible()
    await ana.locator("#settings-details summary").click()
    record = ana.get_by_test_id("record-button")
    await expect(record).to_have_attribute("aria-pressed", "false")
    await record.click()
    await expect(record).to_have_attribute("aria-pressed", "true")
    await expect(record).to_have_text("Stop recording")
    await expect(ana.get_by_test_id("call-record")).to_have_attribute("aria-pressed", "true")
    for page in (ana, ben):
        badge = page.get_by_test_id("recording-badge")
        await expect(badge).to_be_visible()
        await expect(badge).to_have_attribute("title", "The call is being recorded (started by Ana).")
        await expect(page.locator("#messages .notice", has_text="Ana started recording the call.")).to_have_count(1)
    # the mesh of two moved to the SFU (Janus records there); the video goes on
    for page in (ana, ben):
        await page.wait_for_function(
            "() => window.__pcs.filter((pc) => pc.connectionState === 'connected').length === 2",
            timeout=CALL_TIMEOUT_MS,
        )
        await wait_remote_videos_play(page, 1)
    await sfu_videochat.wait_log("recording started")

    # someone entering sees it before joining the call, beside the Join button
    cho = await open_call_page(new_user, "Cho")
    await enter_room(cho, url, "Cho")
    await expect(cho.locator("#prejoin")).to_be_visible()
    note = cho.get_by_test_id("prejoin-recording")
    await expect(note).to_be_visible()
    await expect(note).to_contain_text("This call is being recorded")
    assert "prejoin-recording" in (await cho.locator("#call-join").get_attribute("aria-describedby") or "")
    await expect(cho.get_by_test_id("recording-badge")).to_be_visible()
    await expect(cho.locator("#messages .notice", has_text="This call is being recorded.")).to_have_count(1)

    # stopped (from the call bar this time) once Ben heard 3 s through Janus, so the file has them:
    # every page says so, and the note goes
    await wait_sound_received(ben, 3)
    await ana.get_by_test_id("call-record").click()
    await expect(record).to_have_attribute("aria-pressed", "false")
    for page in (ana, ben, cho):
        await expect(page.get_by_test_id("recording-badge")).to_be_hidden()
        await expect(page.locator("#messages .notice", has_text="Ana stopped recording the call.")).to_have_count(1)
    await expect(note).to_be_hidden()

    # whoever recorded finds it in "Your recordings": the file being made, then played in the page,
    # downloaded and deleted; nobody else has the list
    item = ana.get_by_test_id("recording-item")
    await expect(item).to_have_count(1)
    await expect(item).to_have_attribute("data-state", "ready", timeout=120_000)
    await expect(ben.get_by_test_id("recordings")).to_be_hidden()
    await ana.get_by_test_id("recording-play").click()
    video = ana.get_by_test_id("recording-video")
    await expect(video).to_be_visible()
    try:
        await ana.wait_for_function(
            "() => { const v = document.querySelector('[data-testid=recording-video]'); return v && v.readyState >= 1 && v.duration > 2; }",
            timeout=CALL_TIMEOUT_MS,
        )
    except Exception as error:
        state = await ana.evaluate(
            "() => { const v = document.querySelector('[data-testid=recording-video]');"
            " return v && {ready: v.readyState, network: v.networkState, duration: v.duration, error: v.error?.code, src: v.src}; }"
        )
        raise AssertionError(f"the recording does not play in the page: {state}") from error
    async with ana.expect_download() as download_info:
        await ana.get_by_test_id("recording-download").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".mp4")
    saved = await download.path()
    # the pages' fake cameras and microphones are in it: a video and a sound stream, as long as recorded
    probe = json.loads(
        subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "json", str(saved)],
            capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    assert sorted(s["codec_type"] for s in probe["streams"]) == ["audio", "video"]
    assert float(probe["format"]["duration"]) >= 2.0
    ana.once("dialog", lambda dialog: dialog.accept())
    await ana.get_by_test_id("recording-delete").click()
    await expect(ana.get_by_test_id("recordings")).to_be_hidden()
