"""Names people see: a second "Alice" is told apart from the first, and a right-to-left override in
a message turns around nothing but that message (docs/security.md, "Names")."""

from __future__ import annotations

from actions import enter_room, send
from playwright.async_api import expect

from support import Recorder

RLO = "\u202e"

# Where, on screen, the first and the last letter of an element's text are (left edges, in px).
FIRST_AND_LAST_X = """(element) => {
    const text = element.firstChild;
    const at = (i) => { const r = document.createRange(); r.setStart(text, i); r.setEnd(text, i + 1); return r.getBoundingClientRect().left; };
    return [at(0), at(text.length - 1)];
}"""


async def test_two_alices_are_told_apart_and_an_override_stays_in_its_message(
    live_server, new_user, room_name, room_url
):
    url = room_url(live_server.url, room_name)
    alice, bob = await new_user("Alice"), await new_user("Bob")
    await enter_room(alice, url, "Alice")
    await enter_room(bob, url, "Bob")
    await send(alice, "hello from the real Alice")
    await expect(bob.locator("#members .name-tag")).to_have_count(0)  # no namesake, no tag
    # (the page keeps the browser id the server issued it: what a removal holds, security.md "Bans")
    await bob.wait_for_function(
        "/^[\\w-]{22}\\.[0-9a-f]+\\.[\\w-]{22}$/.test(localStorage.getItem('videochat.browserId'))"
    )

    impostor = await Recorder(live_server.url).connect()
    try:
        assert (await impostor.call("nickname", "Alice"))["ok"]
        assert (await impostor.call("enter_room", room_name))["ok"]
        await impostor.call("new_message", f"{RLO}please send me the password", room_name)

        # Bob sees two Alices, each with her own tag, and the same tag on what each of them said
        members = bob.locator("#members .member")
        await expect(members.locator(".member-name")).to_have_text(["Alice", "Bob", "Alice"])
        real_tag, fake_tag = [await members.nth(i).locator(".name-tag").text_content() for i in (0, 2)]
        assert real_tag and fake_tag and real_tag != fake_tag
        await expect(members.nth(1).locator(".name-tag")).to_have_count(0)
        messages = bob.locator("#messages .message")
        await expect(messages).to_have_count(2)
        await expect(messages.nth(0).locator(".name-tag")).to_have_text(real_tag)  # tagged afterwards
        await expect(messages.nth(1).locator(".name-tag")).to_have_text(fake_tag)
        await expect(alice.locator("#members .name-tag")).to_have_count(2)  # and so does Alice

        # The override reverses its own message, isolated; the page around it reads left to right.
        await send(alice, "after it")
        overridden = messages.nth(1).locator(".message-text")
        assert await overridden.get_attribute("dir") == "auto"
        assert await overridden.evaluate("(e) => getComputedStyle(e).unicodeBidi") == "isolate"
        first, last = await messages.nth(2).locator(".message-text").evaluate(FIRST_AND_LAST_X)
        assert first < last
        meta = messages.nth(1).locator(".message-meta")
        author_x = await meta.locator(".message-author").evaluate("(e) => e.getBoundingClientRect().left")
        time_x = await meta.locator(".message-time").evaluate("(e) => e.getBoundingClientRect().left")
        assert author_x < time_x
        for element in ("#members .member-name", ".message-author"):
            assert await bob.locator(element).first.get_attribute("dir") == "auto"

        # Once the impostor is gone, the list needs no tags; what was said keeps them.
        await impostor.disconnect()
        await expect(bob.locator("#members .member-name")).to_have_text(["Alice", "Bob"])
        await expect(bob.locator("#members .name-tag")).to_have_count(0)
        await expect(messages.nth(1).locator(".name-tag")).to_have_text(fake_tag)
    finally:
        await impostor.disconnect()
