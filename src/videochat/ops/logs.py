"""Logging: one line per event on standard error, human-readable (key=value) or JSON.

Code says what happened in the message and passes the context as fields:
`log.info("enter_room", extra={"room": name, "sid": sid, "nickname": nick})`. Both formats write
every field; the human one as ` room=lobby sid=abc nickname="Jisoo Kim"` after the message.

What users say stays out of the logs: the fields in SENSITIVE_FIELDS (message text, SDP, ICE
candidates) are dropped from every record unless `--log-sensitive` asks for them. Pass such content
only in those fields, never in the message itself.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
SENSITIVE_FIELDS = frozenset({"text", "sdp", "candidate"})

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The `extra=` fields of a record, in the order they were given."""
    return {
        key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES and not key.startswith("_")
    }


class HumanFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # A message may quote what a client sent (python-engineio's "Invalid session <sid>"): a
        # line break in it would start a forged line of its own. The traceback, added after this,
        # keeps its lines.
        message = record.message
        record.message = one_line(message)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = record_fields(record)
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # a traceback, if any, stays below the fields
        pairs = " ".join(f"{key}={_human_value(value)}" for key, value in fields.items())
        return f"{head} {pairs}{newline}{rest}"


def one_line(text: str) -> str:
    """`text` with every character that is not printable (line breaks, terminal escapes, bidi
    controls) written as an escape, so that it stays on its line and shows what it was."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def _human_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    if text == "" or any(char.isspace() or char in '"=\\' for char in text) or not text.isprintable():
        return json.dumps(text, ensure_ascii=False)  # quoted and escaped: one event stays one line
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class HideSensitive(logging.Filter):
    """Drops the fields that carry what users say (see SENSITIVE_FIELDS) from every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in SENSITIVE_FIELDS & vars(record).keys():
            delattr(record, key)
        return True


class ClientMistakesAreWarnings(logging.Filter):
    """python-engineio logs a client's mistake (an unknown session id, an old protocol version, a
    made-up transport) at ERROR the first time, without a traceback; that is its only ERROR without
    one. Anyone can cause it, so it is a warning here: ERROR stays for the server's own failures."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("engineio") and record.levelno == logging.ERROR and not record.exc_info:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def configure_logging(level: str, log_format: str = "human", *, sensitive: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else HumanFormatter())
    handler.addFilter(ClientMistakesAreWarnings())
    if not sensitive:
        handler.addFilter(HideSensitive())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Library chatter stays at warning unless we debug. Their debug lines dump whole frames (message
    # text, SDP), so those are written only when sensitive content is asked for too.
    library_level = "WARNING"
    if level == "debug":
        library_level = "DEBUG" if sensitive else "INFO"
    # "engineio.server" and "socketio.server" by name: a library whose logger has no level of its
    # own gives it one and a handler of its own (raw lines besides ours, unfiltered, unformatted).
    for name in (
        "uvicorn",
        "uvicorn.error",
        "engineio",
        "socketio",
        "engineio.server",
        "socketio.server",
        "websockets",
    ):
        logging.getLogger(name).setLevel(library_level)
