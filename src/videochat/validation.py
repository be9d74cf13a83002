"""Checks for everything a client sends: room names, nicknames, message text."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UserError


# Unicode's control characters (category Cc): C0, DEL and C1
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def _clean_text(value: object, *, what: str, code: str, limit: int) -> str:
    if not isinstance(value, str):
        raise UserError(code, f"The {what} must be text, got {_describe(value)}.")
    text = value.strip()
    if not text:
        raise UserError(code, f"The {what} is empty.")
    if len(text) > limit:
        raise UserError(code, f"The {what} is too long: {len(text)} characters, at most {limit}.")
    if _has_control_characters(text):
        raise UserError(code, f"The {what} contains control characters.")
    return text


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (bytes, bytearray)):
        return "binary data"
    return type(value).__name__


@dataclass(frozen=True)
class Limits:
    max_room_name: int = 64
    max_nickname: int = 32
    max_message: int = 2000

    def room(self, value: object) -> str:
        """A room is a string, or the seed's `{payload: string}`."""
        if isinstance(value, dict) and "payload" in value:
            value = value["payload"]
        return _clean_text(value, what="room name", code="invalid_room", limit=self.max_room_name)

    def nickname(self, value: object) -> str:
        return _clean_text(value, what="nickname", code="invalid_nickname", limit=self.max_nickname)

    def message(self, value: object) -> str:
        return _clean_text(value, what="message", code="invalid_message", limit=self.max_message)
