"""The pages work under the strict Content-Security-Policy the server sends (src/videochat/security.py):
no inline script, no inline style, no inline handler, nothing from elsewhere."""

from __future__ import annotations

from actions import enter_room, send
from playwright.async_api import Page, Response, expect


async def with_strict_csp(page: Page) -> list[str]:
    """Checks every document `page` loads carries the policy; returns the violations it will record."""
    violations: list[str] = []

    def check_policy(response: Response) -> None:
        if response.request.resource_type == "document":
            policy = response.headers.get("content-security-policy", "")
            if "script-src 'self'" not in policy or "'unsafe-inline'" in policy:
                violations.append(f"{response.url} has no strict policy: {policy!r}")

    page.on("response", check_policy)
    await page.expose_function("reportViolation", lambda text: violations.append(text))
    await page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.reportViolation(`${e.violatedDirective} ${e.blockedURI}`))"
    )
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return violations


async def test_csp_home_and_room_pages_need_nothing_inline(live_server, new_user, room_name, room_url):
    page = await new_user("Strict")
    violations = await with_strict_csp(page)
    await page.goto(live_server.url + "/")
    await expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    await expect(page.locator("#rooms-empty, #room-list li").first).to_be_visible()

    await enter_room(page, room_url(live_server.url, room_name), "Strict")
    await send(page, "styled by a stylesheet only")
    # The avatar color is set through the CSSOM, which the policy allows.
    hue = await page.locator("#members .avatar").first.evaluate("e => e.style.getPropertyValue('--hue')")
    assert hue != ""
    # The call too: the preview, the tiles and their icons come from files only.
    await page.locator("#call-join").click()
    await expect(page.locator("#tiles .call-tile.mine")).to_be_visible()
    await page.locator("#mute-button").click()
    await expect(page.locator("#tiles .call-tile.mine .tile-muted")).to_be_visible()
    assert violations == []
