"""ICE servers for calls: the configured STUN and TURN URLs, with TURN REST API credentials.

With a shared secret (coturn's `use-auth-secret`), every TURN entry carries a credential that
expires: username `"<unix expiry>:<id>"`, credential `base64(HMAC-SHA1(secret, username))`. coturn
recomputes it from the same secret, so nothing has to be stored. The secret comes from the
environment or a file, is kept here only, and is never logged or put in a repr.

Credentials go only to participants of a call (the `join_room` ack, and `ice_servers` to renew them,
signaling.py), never over plain HTTP: `GET /api/ice-servers` handed one to anyone, which made the TURN
server an open relay (docs/security.md, "TURN credentials").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field

from videochat.settings import Settings


def turn_credential(secret: str, username: str) -> str:
    """The TURN REST API password for `username`: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def turn_username(expiry: int, user_id: str) -> str:
    return f"{expiry}:{user_id}"


@dataclass(frozen=True)
class IceServers:
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    transport_policy: str = "all"
    ttl: int = 600
    _secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> IceServers:
        secret = settings.turn_secret
        if settings.turn_secret_file is not None:
            secret = settings.turn_secret_file.read_text().strip()
        return cls(
            tuple(settings.stun_url_list),
            tuple(settings.turn_url_list),
            settings.ice_transport_policy,
            settings.turn_ttl,
            secret or None,
        )

    @property
    def issues_credentials(self) -> bool:
        return self._secret is not None

    def servers(self, user_id: str | None = None, *, now: float | None = None) -> list[dict[str, object]]:
        """The RTCIceServer list a browser passes to RTCPeerConnection (fresh credentials each call)."""
        servers: list[dict[str, object]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls:
            turn: dict[str, object] = {"urls": list(self.turn_urls)}
            if self._secret is not None:
                expiry = int(now if now is not None else time.time()) + self.ttl
                # the id only labels the allocation in coturn's log; it must not contain ':'
                username = turn_username(expiry, (user_id or uuid.uuid4().hex).replace(":", ""))
                turn.update(username=username, credential=turn_credential(self._secret, username))
            servers.append(turn)
        return servers

    def as_dict(self, user_id: str | None = None) -> dict[str, object]:
        """What a call participant's acks carry: the servers, the policy, and `iceTtl`, the seconds the
        credentials stay valid (null without credentials: nothing to renew)."""
        return {
            "iceServers": self.servers(user_id),
            "iceTransportPolicy": self.transport_policy,
            "iceTtl": self.ttl if self.issues_credentials and self.turn_urls else None,
        }
