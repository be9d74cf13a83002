"""The errors a client can cause, and how they are put on the wire (in one place).

`CODES` is the one table of error codes: every code a client can receive, with its meaning. A
`UserError` with a code not in it fails at once (a typo or a new code shows in the tests, not on
the wire); docs/protocol.md's tables list exactly these codes (tests/test_error_codes.py), and the
page is handed the groups it acts on (web/pages.py, the page config).
"""

from __future__ import annotations

from videochat.model.passwords import LONGEST_PASSWORD

CODES: dict[str, str] = {
    # Input the server cannot take (docs/protocol.md, "Errors").
    "invalid_room": "the room name is missing, not text, empty, too long, or holds a character a name may not",
    "invalid_nickname": "the nickname is not text, empty, too long, or holds a character a name may not",
    "invalid_message": "the message is not text, empty, too long, or holds control characters",
    "unknown_event": "an event name the server does not know",
    "invalid_event": "an event without a name, or with a name the Socket.IO libraries reserve",
    "invalid_frame": "the plain WebSocket lobby could not read a frame (only logged: the lobby answers in text)",
    "internal_error": "a bug on the server; it is logged and the connection stays up",
    # Bounds on what one connection or address may do.
    "too_many_connections": "the address has --max-connections-per-ip connections already (connect_error data)",
    "too_many_rooms": "one more room would pass --max-rooms-per-connection or --max-rooms-per-ip",
    "rate_limited": "more of this kind of event than the rate limits allow",
    # Rooms: membership, the door of a locked or capped room, the owner's powers.
    "not_in_room": "the socket sent to (or left) a room it is not in",
    "password_required": "the room is locked and no password came",
    "wrong_password": "the password is not the room's",
    "too_many_attempts": "a password attempt refused before it was checked; retryAfter says when to try again",
    "room_full": "the room has as many members as its owner allowed",
    "banned": "the room's owner removed this browser (or its address) a short while ago",
    "waiting": "the room asks people to wait: its owner was asked, and `admitted` or `declined` follows",
    "too_many_waiting": "so many people wait at the room's door already that no more may knock for now",
    "not_owner": "only the room's owner may do that",
    "unknown_member": "no such other member in the room",
    "invalid_settings": "room settings not as described",
    "invalid_password": f"a password is not text of 1 to {LONGEST_PASSWORD} characters",
    # Files in the chat (docs/protocol.md, "Files").
    "files_off": "the server takes no files (--max-upload-mb 0)",
    "invalid_file": "upload_file's {name, size} not as described",
    "file_too_large": "the file is larger than --max-upload-mb, or more bytes came than its ticket announced",
    "too_many_uploads": "too many uploads under way at once, or too many bytes from one address lately",
    "uploads_full": "the server's room for files (--uploads-max-gb, or the disk) is taken",
    "invalid_ticket": "an upload's ticket that is forged, expired, for another file, or used already",
    "upload_incomplete": "an upload that ended before every byte its ticket announced came",
    # Recording a call (docs/recording.md).
    "recording_unavailable": "recording needs the SFU, which is off or unreachable, or someone in the call cannot use it",
    "recordings_full": "the recordings take --recordings-max-gb already, or the disk is nearly full",
    "unknown_recording": "no such recording of this browser's in the room (or it is under way)",
    # Calls: signaling.
    "call_full": "the call has --max-call-size participants already (--max-sfu-call-size on the SFU)",
    "not_in_call": "the socket is not a participant of that room's call",
    "unknown_peer": "toId is not another participant of the same call",
    "invalid_description": "an offer or answer that is not a description of its type, or too long",
    "invalid_candidate": "an ICE candidate that is not one, or too long",
    "invalid_media": "a media state that is not {audio, video, screen} booleans",
    "invalid_reaction": "a reaction that is not one of the server's emoji (model/reactions.py)",
    "invalid_hand": "raise_hand's second argument is not true or false",
    # Calls through the SFU (docs/sfu.md).
    "sfu_required": "the call is on the SFU, and this client did not say it speaks the SFU events (join_room's sfu)",
    "not_on_sfu": "an SFU event for a call that is peer to peer",
    "sfu_failed": "the SFU (Janus) refused or did not answer; the message says what happened",
    "sfu_reachable": "sfu_status from someone whose media does reach the SFU: the call stays on it",
    "invalid_sfu_request": "an SFU event whose arguments are not as described",
}

PASSWORD_REFUSALS = frozenset({"password_required", "wrong_password", "too_many_attempts"})
"""The room's door refuses us for its password: a page asks for it (again)."""

ENTRY_REFUSALS = PASSWORD_REFUSALS | {"room_full", "banned", "waiting", "too_many_waiting"}
"""The room itself refuses us (not the request): a page that was in it, back after a reconnect, is
out of it and its call."""


class UserError(Exception):
    """Bad input from a client: answered with a code and a message, never fatal."""

    def __init__(self, code: str, message: str) -> None:
        if code not in CODES:
            raise ValueError(f"{code!r} is not an error code of model/errors.py's CODES")
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class RetryLater(UserError):
    """Refused for now: `retryAfter` (seconds) says when the same request may succeed."""

    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, object]:  # type: ignore[override]
        return {**super().as_dict(), "retryAfter": round(self.retry_after, 1)}


def ok(**fields: object) -> dict[str, object]:
    return {"ok": True, **fields}


def failure(error: UserError) -> dict[str, object]:
    return {"ok": False, "error": error.as_dict()}


INTERNAL_ERROR = UserError("internal_error", "Something went wrong on the server; it has been logged.")
