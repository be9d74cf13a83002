"""Who asks an HTTP request for a file of a room (web/files.py) or a recording (web/recordings.py):
the browser id (events/identity.py) in the cookie `videochat_browser`, which the page sets for those
paths alone (static/js/storage.js). Checked on every request; a missing or forged id is nobody."""

from __future__ import annotations

import time

from starlette.requests import Request

from videochat.events.identity import BrowserIds

BROWSER_COOKIE = "videochat_browser"


def browser_key(request: Request, identities: BrowserIds) -> str | None:
    """The key of the browser the request's cookie proves (identity.BrowserId.key), or None."""
    token = request.cookies.get(BROWSER_COOKIE)
    browser = identities.verify(token, time.time()) if token else None
    return browser.key if browser is not None else None
