"""Files in the chat: what a file's name, size and type may be, the ticket that lets one member
upload one file into one room, and the bytes each address may upload. No I/O: the disk is
storage/uploads.py's, the HTTP web/files.py's.

An upload takes two steps (docs/protocol.md, "Files"). The member asks over its Socket.IO connection
(`upload_file`), where the server knows who it is and which rooms it is in; the answer holds a
ticket, signed by the server, naming the file's id, the room, the connection, the name and the exact
size, and valid for TICKET_SECONDS. The browser then sends the bytes with an HTTP PUT to
`/files/<id>` with the ticket (HTTP: a progress bar, a cancel, and no 25 MB Socket.IO packets). Any
process of the server can check the ticket (the secret is the browser ids' one, shared through Redis);
the file's id, once stored, cannot be stored again, so a ticket is good for one file.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from videochat.model.errors import UserError
from videochat.model.ratelimit import Rate, TokenBucket

FILE = "file"  # a chat message's field that shows a file: {id, name, size, type, url}
FILE_ID = re.compile(r"[0-9a-f]{32}")
TICKET_SECONDS = 120.0  # from the answer to `upload_file` to the start of the PUT
LONGEST_NAME = 200  # characters of a file's name (what a file system takes, with room to spare)
MB = 1024 * 1024
# Uploads under way at once, per connection and per address (a household behind one NAT shares it)
UPLOADS_PER_CONNECTION = 3
UPLOADS_PER_ADDRESS = 6
# Each address may upload BUDGET_FILES largest files at once, and one more each BUDGET_REFILL seconds
BUDGET_FILES = 8
BUDGET_REFILL = 30.0

# What the server serves a file as: an image it recognises by its first bytes (pages show it as a
# thumbnail), anything else as bytes to save. Never what the uploader says: a "picture" that is
# HTML or SVG would be a script on our origin.
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
DOWNLOAD_TYPE = "application/octet-stream"
SNIFF_BYTES = 16
_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f/\\\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def content_type(head: bytes) -> str:
    """The type a file is served as, from its first SNIFF_BYTES bytes."""
    for magic, kind in _IMAGES:
        if head.startswith(magic):
            return kind
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return DOWNLOAD_TYPE


def file_name(name: object) -> str:
    """A file's name as people see it and save it: text, without folders, control or bidi characters
    (a right-to-left override turns "gpj.exe" into "exe.jpg"), at most LONGEST_NAME characters."""
    if not isinstance(name, str):
        raise UserError("invalid_file", "A file's name must be text.")
    name = _UNSAFE_IN_NAME.sub("_", unicodedata.normalize("NFC", name)).strip().lstrip(".")
    if not name:
        raise UserError("invalid_file", "A file needs a name.")
    if len(name) > LONGEST_NAME:
        raise UserError("invalid_file", f"A file's name may be {LONGEST_NAME} characters long at most.")
    return name


def file_size(size: object, most: int) -> int:
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise UserError("invalid_file", "A file's size must be a whole number of bytes, 1 or more.")
    if size > most:
        raise UserError(
            "file_too_large", f"Files may be {describe_size(most)} at most; this one is {describe_size(size)}."
        )
    return size


def describe_size(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} bytes"


def new_file_id() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Ticket:
    """Leave to upload one file: its id, the room and connection it is for, its name and size, and
    the browser (its identity key) whose connection that is: a page that reconnects while its bytes
    go up is the same person with a new connection."""

    id: str
    room: str
    sid: str
    name: str
    size: int
    expires: float  # Unix time
    key: str | None = None


_CONTEXT = b"videochat upload ticket 1\n"


class Tickets:
    """Signs and checks tickets with `mac(bytes) -> bytes` (a keyed MAC of the server's secret)."""

    def __init__(self, mac: Callable[[bytes], bytes]) -> None:
        self._mac = mac

    def issue(self, ticket: Ticket) -> str:
        body = json.dumps(
            [ticket.id, ticket.room, ticket.sid, ticket.name, ticket.size, round(ticket.expires), ticket.key],
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(_CONTEXT + body)[:16])}"

    def check(self, token: object, file_id: str, now: float) -> Ticket:
        """The ticket `token` is, if it is one of ours, for `file_id`, and not expired."""
        refused = UserError(
            "invalid_ticket", "This upload's ticket is not valid (expired, or for another file); ask again."
        )
        if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 1:
            raise refused
        body_text, mac_text = token.split(".")
        try:
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, binascii.Error):
            raise refused from None
        if not hmac.compare_digest(self._mac(_CONTEXT + body)[:16], mac):
            raise refused
        try:  # signed by us, but maybe by an older version (six fields) during an upgrade
            id_, room, sid, name, size, expires, key = json.loads(body)
        except ValueError:
            raise refused from None
        if id_ != file_id or expires < now:
            raise refused
        return Ticket(id_, room, sid, name, size, float(expires), key)


class UploadBudget:
    """The bytes each address may upload: BUDGET_FILES of the largest files at once, refilled at one
    such file per BUDGET_REFILL seconds (a token bucket counted in bytes)."""

    MOST_ADDRESSES = 10_000  # addresses remembered; a full bucket is forgotten first

    def __init__(self, largest: int) -> None:
        self.rate = Rate(largest / BUDGET_REFILL, largest * BUDGET_FILES)
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, address: str, size: int, now: float) -> bool:
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.MOST_ADDRESSES:
                self._forget_full(now)
            bucket = self._buckets[address] = TokenBucket(self.rate, now)
        if bucket.available(now) < size:
            return False
        bucket.tokens -= size
        return True

    def _forget_full(self, now: float) -> None:
        for address, bucket in list(self._buckets.items()):
            if bucket.available(now) >= self.rate.burst:
                del self._buckets[address]
        while len(self._buckets) >= self.MOST_ADDRESSES:  # all are in use: the oldest goes
            del self._buckets[next(iter(self._buckets))]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
