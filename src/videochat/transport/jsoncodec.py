"""JSON of Socket.IO packets on every path: what clients send decoded once, with bounds.

Decoding is the standard library's with python-engineio's guard against huge integers, in one
decoder made once (python-engineio's `json.loads` makes a new one per call), and a bound on nesting:
arrays and objects more than MAX_DEPTH deep are refused (`TooDeep`, a ValueError) before anything is
decoded. The standard library's decoder recurses once per level: JSON nested some thousand levels deep
raised RecursionError, which nobody treated as a malformed packet, and even a structure that decodes
fails later wherever it is encoded again. No videochat event nests more than a few levels.
`LibraryJSON` is the same decoding for python-socketio and python-engineio (their `json=` option).

`encode_standard` is the standard library's compact encoder: what the stock path encodes acks with
(the fast path's fastpath.codec uses orjson, and this for what orjson refuses).
"""

from __future__ import annotations

import json
import re
from itertools import accumulate, repeat
from typing import Any

_standard = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def encode_standard(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes (non-ASCII as it is; a lone surrogate escaped); TypeError or
    ValueError if JSON cannot hold `value`."""
    return _standard(value).encode("utf-8", "backslashreplace")


def _safe_int(digits: str) -> int:
    # what python-engineio's json module does for every number a client sends: no huge integers
    if len(digits) > 100:
        raise ValueError("Integer is too large")
    return int(digits)


MAX_DEPTH = 32


class TooDeep(ValueError):
    """JSON whose arrays and objects nest deeper than MAX_DEPTH."""


_decode = json.JSONDecoder(parse_int=_safe_int).decode
# a string with its escapes (possessive: linear time, also when a quote is never closed)
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"?', re.S)
_ASCII_BUT_BRACKETS = str.maketrans({chr(c): None for c in range(128) if chr(c) not in "[]{}"})
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}.get


def nesting(text: str) -> int:
    """How deep the arrays and objects of JSON `text` nest (brackets inside strings do not count).
    In C loops only: about half the time the standard library takes to decode the same text."""
    brackets = _STRING.sub("", text).translate(_ASCII_BUT_BRACKETS)
    return max(accumulate(map(_STEP, brackets, repeat(0))), default=0)


def decode(text: str) -> Any:
    """JSON text -> value; ValueError if it is not JSON, has a huge integer or nests too deep."""
    # Counting brackets is cheap (no packet of a well-behaved client has MAX_DEPTH of them, strings
    # included); only then is the nesting measured, in time linear in the text.
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting(text) > MAX_DEPTH:
        raise TooDeep(f"JSON nested deeper than {MAX_DEPTH} levels")
    return _decode(text)


class LibraryJSON:
    """The JSON module python-socketio and python-engineio use (`json=`): `decode` for what clients
    send, the standard library's `dumps` (with the keywords the libraries give it)."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text: str | bytes, **_: Any) -> Any:
        return decode(text.decode("utf-8") if isinstance(text, (bytes, bytearray)) else text)
