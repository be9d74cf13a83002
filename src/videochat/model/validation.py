"""Checks for everything a client sends: room names, nicknames, message text.

Names (nicknames and room names) are what people recognise each other and rooms by, so they follow
identifier hygiene (Unicode TR #36/#39, as far as it fits a chat): NFC normalisation (the same
letters typed on two keyboards are one name, one room), and no character that is invisible or that
reorders text: bidi controls (a right-to-left override shows "Alice" for "ecilA" and flips the text
around it), zero-width and other format characters, fillers that look like nothing. The joiners
stay where a script or an emoji needs them. Messages keep such characters: the page isolates every
user string (docs/security.md, "Names").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from videochat.model.errors import UserError

# Unicode's control characters (category Cc): C0, DEL and C1
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


# Bidi controls: embeddings and overrides (U+202A-202E), isolates (U+2066-2069), the marks (LRM,
# RLM, ALM). Explicit in the message, though Cf covers them, because they are the spoofing ones.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
# Letters that show as nothing: the Hangul fillers, the blank Braille pattern, Khmer's invisible vowels.
FILLERS = re.compile("[\u115f\u1160\u3164\uffa0\u2800\u17b4\u17b5]")
# What may hold a joiner: an emoji ZWJ sequence (👩‍💻), and where a script needs one (_between_letters);
# a subdivision flag's tag characters (🏴 + tags + cancel tag).
_EMOJI = "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2190-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
_EMOJI_JOINED = re.compile(f"(?<=[{_EMOJI}\ufe0f])\u200d(?=[{_EMOJI}])")
_FLAG_TAGS = re.compile("(?<=\U0001f3f4)[\U000e0061-\U000e007a\U000e0030-\U000e0039]{1,6}\U000e007f")
_JOINERS = re.compile("[\u200c\u200d]")
_MOST_MARKS_IN_A_ROW = 4  # combining marks on one letter: enough for any script, not for a tower


def _name_problem(text: str) -> str | None:
    """What is wrong with a (normalised) name, or None."""
    if BIDI_CONTROLS.search(text):
        return "bidirectional control characters (they change the order in which text is shown)"
    rest = _FLAG_TAGS.sub("", _EMOJI_JOINED.sub("", text))
    rest = "".join(c for i, c in enumerate(rest) if not (_JOINERS.fullmatch(c) and _between_letters(rest, i)))
    marks = 0
    for char in rest:
        category = unicodedata.category(char)
        if category in ("Cf", "Cs", "Zl", "Zp") or FILLERS.fullmatch(char):
            return "invisible characters (zero-width spaces or joiners, fillers, format characters)"
        marks = marks + 1 if category in ("Mn", "Me") else 0
        if marks > _MOST_MARKS_IN_A_ROW:
            return f"more than {_MOST_MARKS_IN_A_ROW} combining marks on one character"
    return None


def _between_letters(text: str, index: int) -> bool:
    """A joiner where a script needs it (IDNA's CONTEXTJ, simplified): after a virama (Indic
    conjuncts), or between two letters of the joining scripts (Arabic, Persian, Syriac)."""
    if not 0 < index < len(text) - 1:
        return False
    before, after = text[index - 1], text[index + 1]
    return unicodedata.combining(before) == 9 or bool(_JOINING_SCRIPT.fullmatch(before + after))


_JOINING_SCRIPT = re.compile("[\u0600-\u08ff]{2}")  # Arabic, Syriac, Thaana, N'Ko, ... and their marks


def _clean_text(value: object, *, what: str, code: str, limit: int, name: bool = False) -> str:
    if not isinstance(value, str):
        raise UserError(code, f"The {what} must be text, got {_describe(value)}.")
    text = unicodedata.normalize("NFC", value).strip() if name else value.strip()
    if not text:
        raise UserError(code, f"The {what} is empty.")
    if len(text) > limit:
        raise UserError(code, f"The {what} is too long: {len(text)} characters, at most {limit}.")
    if _has_control_characters(text):
        raise UserError(code, f"The {what} contains control characters.")
    problem = _name_problem(text) if name else None
    if problem is not None:
        raise UserError(
            code, f"The {what} contains {problem}; use visible letters, digits, spaces, punctuation or emoji."
        )
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
        return _clean_text(value, what="room name", code="invalid_room", limit=self.max_room_name, name=True)

    def nickname(self, value: object) -> str:
        return _clean_text(value, what="nickname", code="invalid_nickname", limit=self.max_nickname, name=True)

    def message(self, value: object) -> str:
        return _clean_text(value, what="message", code="invalid_message", limit=self.max_message)
