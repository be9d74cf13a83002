"""A Socket.IO connection's life: `connect` (the address's connection cap, the client id, the
browser id), `disconnect` (out of every room), and `browser_id` (docs/protocol.md)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import socketio

from videochat.events.departures import Departures
from videochat.events.identity import BrowserIds, address_key
from videochat.events.realtime import Event, Server, event_handler
from videochat.model.errors import ok
from videochat.model.ratelimit import Limiter
from videochat.model.rooms import Registry

log = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"[0-9A-Za-z_-]{8,128}")


@dataclass(eq=False, repr=False)
class Sessions:
    sio: Server
    registry: Registry
    limiter: Limiter
    # who each connection is: the browser id it proves, else one issued now (identity.py)
    identities: BrowserIds
    departures: Departures

    def register(self) -> None:
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        event_handler(self.sio, "browser_id")(self.browser_id)

    async def connect(self, sid: str, environ: dict, auth: Any = None) -> None:
        address = client_address(environ)
        if not self.limiter.connect(sid, address):
            log.warning(
                "refused a connection: too many from its address",
                extra={"address": address, "connections": self.limiter.connections_from(address)},
            )
            self.sio.metrics.rejected("too_many_connections")
            # the browser's connect_error carries err.message and err.data
            raise socketio.exceptions.ConnectionRefusedError(
                "Too many connections from your network address; close some tabs and try again.",
                {"code": "too_many_connections"},
            )
        try:
            client_id = _client_id(auth)
        except socketio.exceptions.ConnectionRefusedError:
            self.limiter.disconnect(sid)
            raise
        holder = self.registry.holder_of_client_id(client_id) if client_id else None
        if holder is not None:
            # The same client is back on a new socket (its old one has not timed out yet): drop the
            # old one now, so that the others hear `bye`/`peer_left` at once and see no ghost.
            log.info("client reconnected: dropping its old socket", extra={"sid": sid, "old_sid": holder})
            await self.sio.disconnect(holder)
        # Whom a removal keeps out, and whom an owner is: the browser id the server signed (a new one
        # for a client without a valid one, issued now), and the address (identity.py).
        browser = self.identities.recognise(auth)
        self.registry.connect(
            sid,
            client_id=client_id,
            key=browser.key,
            address=address_key(address),
            known_since=browser.issued,
            origin=self.registry.origin,  # the process holding the connection, when several share rooms
        )
        log.debug("connected", extra={"sid": sid, "transport": _transport(environ)})

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        self.limiter.disconnect(sid)
        member, departures = await self.departures.disconnected(sid)
        if member is not None:
            log.debug(
                "disconnected",
                extra={"sid": sid, "nickname": member.nickname, "rooms": len(departures), "reason": str(reason)},
            )

    async def browser_id(self, event: Event, *_: Any) -> dict:
        """The signed browser id this connection holds, for the page to keep and send back in
        `auth.browserId` (a bearer credential of this browser: never logged)."""
        member = self.registry.member(event.sid)
        assert member is not None and member.key is not None and member.known_since is not None, event.sid
        return ok(browserId=self.identities.token(member.key, member.known_since))


def client_address(environ: dict) -> str:
    """The client's address from the ASGI scope: python-engineio's environ says REMOTE_ADDR=127.0.0.1
    for everyone. uvicorn puts the X-Forwarded-For address there for trusted proxies only."""
    client = (environ.get("asgi.scope") or {}).get("client")
    return client[0] if client else ""


def _client_id(auth: Any) -> str | None:
    """The `clientId` of the connection's auth payload, if any; a malformed one refuses the connection."""
    if not isinstance(auth, dict) or auth.get("clientId") is None:
        return None
    client_id = auth["clientId"]
    if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
        raise socketio.exceptions.ConnectionRefusedError(
            "auth.clientId must be 8 to 128 letters, digits, '-' or '_' (a random hex string)"
        )
    return client_id


def _transport(environ: dict) -> str:
    query = environ.get("QUERY_STRING", "")
    return "websocket" if "transport=websocket" in query else "polling"
