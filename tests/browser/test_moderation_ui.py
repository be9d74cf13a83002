"""Room owners in the browser (docs/protocol.md "Room owners"): lock and cap, password form, removal, mute requests,
handing over, private rooms. Real server, real Chromium; every step waits on what the pages show."""

from __future__ import annotations

from actions import enter_room, message_texts, send
from playwright.async_api import Page, expect


def member(page: Page, nickname: str):
    return page.locator(f'#members li[data-nickname="{nickname}"]')


def listed(page: Page, room: str):
    return page.locator(f'#room-list li[data-room="{room}"]')


async def open_settings(page: Page) -> None:
    await expect(page.locator("#room-settings")).to_be_visible()
    if await page.locator("#settings-details").get_attribute("open") is None:
        await page.locator("#settings-details summary").click()


async def test_owner_locks_and_caps_the_room_others_need_the_password(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice = await new_user("Alice")
    await enter_room(alice, url, "Alice")
    await expect(member(alice, "Alice").locator(".owner-badge")).to_contain_text("Owner")
    await expect(member(alice, "Alice").locator(".owner-badge")).to_have_attribute("title", "Room owner")
    await expect(alice.locator("#room-lock")).to_be_hidden()

    await open_settings(alice)
    await expect(alice.locator("#lock-state")).to_have_text("Anyone with the link can join.")
    await alice.locator("#lock-password").fill("s3cret pass")
    await alice.locator("#lock-password").press("Enter")
    await expect(alice.locator("#room-settings")).to_have_attribute("data-locked", "true")
    await expect(alice.locator("#room-lock")).to_have_text("Locked")
    await expect(alice.locator("#lock-state")).to_have_text("The room is locked with a password.")
    await expect(alice.locator("#lock-password")).to_have_value("")
    await expect(alice.locator("#lock-button")).to_have_text("Change password")

    # The home page's list shows the padlock, and says "locked" to screen readers.
    watcher = await new_user("Watcher")
    await watcher.goto(live_server.url + "/")
    await expect(listed(watcher, room_name)).to_have_attribute("data-locked", "true")
    await expect(listed(watcher, room_name).locator(".room-lock .visually-hidden")).to_have_text("locked")
    await expect(listed(watcher, room_name).locator("a")).to_have_attribute(
        "aria-label", f"Join {room_name}, locked, 1 in the room"
    )

    # Bob is asked for the password; a wrong one is refused in the page; the right one lets him in.
    bob = await new_user("Bob")
    await bob.goto(url)
    panel = bob.locator("#access-panel")
    await expect(panel).to_have_attribute("data-state", "password_required")
    await expect(bob.locator("#access-heading")).to_have_text(f"{room_name} is locked")
    await expect(bob.locator("#access-message")).to_have_text("This room is locked. Enter its password to join.")
    await expect(bob.locator("#password-input")).to_be_focused()
    await expect(bob.locator("#room-view")).to_be_hidden()
    await bob.locator("#password-input").fill("not it")
    await bob.locator("#password-input").press("Enter")
    await expect(panel).to_have_attribute("data-state", "wrong_password")
    await expect(bob.locator("#access-message")).to_have_text("That password is not right. Try again.")
    await expect(bob.locator("#password-input")).to_have_attribute("aria-invalid", "true")
    await expect(alice.locator("#member-count")).to_have_text("1 member")
    await bob.locator("#password-input").fill("s3cret pass")
    await bob.locator("#password-enter").click()
    await expect(bob.locator("#members li.you .member-name")).to_have_text("Bob")
    await expect(panel).to_be_hidden()
    await expect(bob.locator("#room-lock")).to_be_visible()
    await expect(member(bob, "Alice").locator(".owner-badge")).to_contain_text("Owner")
    await expect(member(bob, "Bob").locator(".owner-badge")).to_have_count(0)
    await expect(bob.locator("#room-settings")).to_be_hidden()  # only the owner changes the room
    await expect(bob.locator(".member-menu-button")).to_have_count(0)
    await expect(alice.get_by_role("button", name="Actions for Bob")).to_be_visible()

    # The password changes while Bob is offline: back online, his page asks for it again (no error
    # banner), and the new one lets him back in.
    await bob.context.set_offline(True)
    await expect(bob.locator("#status")).to_have_attribute("data-state", "reconnecting")
    await alice.locator("#lock-password").fill("n3w pass")
    await alice.locator("#lock-password").press("Enter")
    await expect(alice.locator("#lock-password")).to_have_value("")
    # (the new password holds once the server says so: Bob's page, back before that, would still
    # get in with the old one, and the panel's state would be that of his first wrong try)
    await expect(alice.locator("#settings-status")).to_have_text("Saved.")
    await bob.context.set_offline(False)
    await expect(panel).to_have_attribute("data-state", "wrong_password")
    await expect(bob.locator("#errors .error")).to_have_count(0)
    await bob.locator("#password-input").fill("n3w pass")
    await bob.locator("#password-enter").click()
    await expect(bob.locator("#members li.you .member-name")).to_have_text("Bob")
    await expect(alice.locator("#member-count")).to_have_text("2 members")

    # A cap of 2: Carol is told the room is full, before any password.
    await alice.locator("#cap-input").fill("2")
    await alice.locator("#cap-input").press("Enter")
    await expect(alice.locator("#room-settings")).to_have_attribute("data-max-members", "2")
    carol = await new_user("Carol")
    await carol.goto(url)
    await expect(carol.locator("#access-panel")).to_have_attribute("data-state", "room_full")
    await expect(carol.locator("#access-message")).to_have_text("This room is full. Try again later.")
    await expect(carol.locator("#access-home")).to_have_attribute("href", "/")

    # Unlocked and uncapped, Carol's "Try again" lets her in without a password.
    await alice.locator("#unlock-button").click()
    await expect(bob.locator("#room-lock")).to_be_hidden()
    await expect(listed(watcher, room_name)).to_have_attribute("data-locked", "false")
    await alice.locator("#cap-input").fill("")
    await alice.locator("#cap-input").press("Enter")
    await expect(alice.locator("#room-settings")).to_have_attribute("data-max-members", "")
    await carol.locator("#access-retry").click()
    await expect(carol.locator("#members li.you .member-name")).to_have_text("Carol")
    await expect(alice.locator("#member-count")).to_have_text("3 members")


async def test_owner_removes_asks_to_mute_and_hands_over(live_server, new_user, room_name, room_url):
    url = room_url(live_server.url, room_name)
    alice, bob, carol = await new_user("Alice"), await new_user("Bob"), await new_user("Carol")
    for page, name in ((alice, "Alice"), (bob, "Bob"), (carol, "Carol")):
        await enter_room(page, url, name)
    await expect(alice.locator("#member-count")).to_have_text("3 members")

    # The actions menu works from the keyboard; removing asks first, and can be called off.
    menu_button = alice.get_by_role("button", name="Actions for Bob")
    await menu_button.focus()
    await alice.keyboard.press("Enter")
    await expect(menu_button).to_have_attribute("aria-expanded", "true")
    menu = member(alice, "Bob").locator(".member-menu")
    await expect(menu.get_by_role("button")).to_have_text(["Ask to mute", "Make owner", "Remove"])
    await expect(menu.get_by_role("button", name="Ask to mute")).to_be_focused()
    await menu.get_by_role("button", name="Remove").click()
    await expect(menu.locator(".confirm-text")).to_have_text("Remove Bob from the room?")
    await expect(menu.get_by_role("button", name="Yes, remove")).to_be_focused()
    await menu.get_by_role("button", name="Cancel").click()
    await expect(menu.get_by_role("button", name="Remove")).to_be_visible()
    await menu.get_by_role("button", name="Remove").click()
    await alice.keyboard.press("Enter")  # "Yes, remove" has the focus

    # Bob's page says so and stops; he stays connected; the others see him leave.
    await expect(bob.locator("#access-panel")).to_have_attribute("data-state", "removed")
    await expect(bob.locator("#access-message")).to_have_text(f"You were removed from {room_name} by Alice.")
    await expect(bob.locator("#room-view")).to_be_hidden()
    await expect(bob.locator("#access-home")).to_be_visible()
    await expect(bob.locator("#member-count")).to_be_hidden()
    await expect(bob.locator("#status")).to_have_attribute("data-state", "connected")
    for page in (alice, carol):
        await expect(page.locator("#messages .notice-left .notice-text")).to_have_text("Bob left.")
        await expect(page.locator("#members .member-name")).to_have_text(["Alice", "Carol"])
    await send(alice, "after Bob left")
    await expect(message_texts(carol)).to_have_text(["after Bob left"])
    await expect(message_texts(bob)).to_have_count(0)

    # A lost connection comes back without putting him in again (the rejoin would run before "connected").
    await bob.context.set_offline(True)
    await expect(bob.locator("#status")).to_have_attribute("data-state", "reconnecting")
    await bob.context.set_offline(False)
    await expect(bob.locator("#status")).to_have_attribute("data-state", "connected")
    await expect(bob.locator("#access-panel")).to_have_attribute("data-state", "removed")
    await expect(bob.locator("#room-view")).to_be_hidden()

    # Coming back is refused, and explained (the client id in localStorage outlives the page).
    await bob.reload()
    await expect(bob.locator("#access-panel")).to_have_attribute("data-state", "banned")
    await expect(bob.locator("#access-message")).to_have_text(
        "The owner removed you from this room; you cannot come back yet."
    )
    await expect(bob.locator("#room-view")).to_be_hidden()
    await expect(alice.locator("#member-count")).to_have_text("2 members")

    # Ask to mute: Carol's page says so (its call mutes the microphone: the test after the next).
    await alice.get_by_role("button", name="Actions for Carol").click()
    await member(alice, "Carol").get_by_role("button", name="Ask to mute").click()
    await expect(carol.locator("#messages .notice-mute .notice-text")).to_have_text("Alice asked you to mute.")
    await expect(alice.locator("#messages .notice-text").last).to_have_text("Asked Carol to mute.")

    # Handing over: the badge moves on both pages, and so do the owner's tools.
    await alice.get_by_role("button", name="Actions for Carol").click()
    await member(alice, "Carol").get_by_role("button", name="Make owner").click()
    for page in (alice, carol):
        await expect(member(page, "Carol").locator(".owner-badge")).to_contain_text("Owner")
        await expect(member(page, "Alice").locator(".owner-badge")).to_have_count(0)
        await expect(page.locator('#members li[data-owner="true"] .member-name')).to_have_text("Carol")
    await expect(carol.locator("#messages .notice-owner .notice-text")).to_have_text("You now own the room.")
    await expect(alice.locator("#messages .notice-owner .notice-text")).to_have_text("Carol now owns the room.")
    await expect(alice.locator("#room-settings")).to_be_hidden()
    await expect(alice.locator(".member-menu-button")).to_have_count(0)
    await expect(carol.locator("#room-settings")).to_be_visible()
    await expect(carol.get_by_role("button", name="Actions for Alice")).to_be_visible()

    # When the owner leaves, the longest-present member owns the room.
    await carol.locator("#leave").click()
    await expect(member(alice, "Alice").locator(".owner-badge")).to_contain_text("Owner")
    await expect(alice.locator("#room-settings")).to_be_visible()


async def test_private_room_from_the_home_form_is_reached_by_link_only(live_server, new_user, room_name, room_url):
    alice = await new_user("Alice")
    await alice.goto(live_server.url + "/")
    await alice.locator("#room-input").fill(room_name)
    await alice.get_by_label("Private room (only people with the link can find it)").check()
    await alice.locator("#enter").click()
    # The page took the choice out of the address: a shared link creates nothing private.
    await expect(alice).to_have_url(room_url(live_server.url, room_name))
    await expect(alice.locator("#members li.you .member-name")).to_have_text("Alice")
    await expect(alice.locator("#room-private")).to_have_text("Private")

    watcher = await new_user("Watcher")
    await watcher.goto(live_server.url + "/")
    await expect(watcher.locator("#room-list")).to_have_attribute("aria-busy", "false")
    await expect(listed(watcher, room_name)).to_have_count(0)

    bob = await new_user("Bob")
    await enter_room(bob, room_url(live_server.url, room_name), "Bob")
    await expect(bob.locator("#room-private")).to_be_visible()
    await expect(alice.locator("#member-count")).to_have_text("2 members")

    # The owner makes it public: it shows in the list, with both members.
    await open_settings(alice)
    await expect(alice.locator("#private-input")).to_be_checked()
    await alice.locator("#private-input").uncheck()
    await expect(listed(watcher, room_name)).to_have_attribute("data-count", "2")
    await expect(bob.locator("#room-private")).to_be_hidden()
    await expect(listed(watcher, room_name)).to_have_attribute("data-locked", "false")


async def test_asked_to_mute_in_a_call_the_member_is_muted_and_may_unmute(live_server, new_user, room_name, room_url):
    from call_actions import enter_and_join_call, open_call_page, sender_track, tile_of, wait_media_flows

    url = room_url(live_server.url, room_name)
    owner, guest = await open_call_page(new_user, "Owner"), await open_call_page(new_user, "Guest")
    await enter_and_join_call(owner, url, "Owner")
    await enter_and_join_call(guest, url, "Guest")
    await wait_media_flows(guest, 1)
    await expect(guest.locator("#mute-button")).to_have_text("Mute")

    await member(owner, "Guest").get_by_role("button", name="Actions for Guest").click()
    await member(owner, "Guest").get_by_role("button", name="Ask to mute").click()
    # The guest's page mutes itself: its button, its sent track, and what the owner sees.
    await expect(guest.locator("#mute-button")).to_have_text("Unmute")
    assert [track["enabled"] for track in await sender_track(guest, "audio")] == [False]
    await expect(tile_of(owner, "Guest")).to_have_attribute("data-audio", "false")
    # Only the guest can unmute the guest.
    await guest.locator("#mute-button").click()
    await expect(tile_of(owner, "Guest")).to_have_attribute("data-audio", "true")
