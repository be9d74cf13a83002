"""Every event the server sends to clients of the main namespace, each with what it tells them.

One list, so that what the server may send is written down once: `Server.emit` (realtime.py)
refuses a name that is not here, and tests/test_docs.py checks these names against the server →
client events of docs/protocol.md, both ways. A new event therefore needs its line here and its
section there, or the first test that sends it fails. (The `/admin` namespace speaks the Socket.IO
Admin UI's own protocol, sent by python-socketio's instrumentation; it is not listed here.)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

OUTGOING: Mapping[str, str] = MappingProxyType(
    {
        # chat (docs/protocol.md, "Socket.IO: server → client")
        "welcome": "someone entered a room the client is in (or joined its call)",
        "bye": "someone left a room the client is in",
        "new_message": "another member's message in one of the client's rooms",
        "direct_message": "a message another member of a room wrote to this client alone",
        "room_change": "the list of public rooms changed",
        "nickname_change": "a member of one of the client's rooms renamed itself",
        "room_update": "a room's owner or settings changed",
        "removed": "the room's owner took the client out of the room",
        "mute_request": "the room's owner asks the client to mute its microphone",
        "knock": "to a room's owner: who waits to enter it now (the whole list)",
        "admitted": "the room's owner let the client in: its next entry passes",
        "declined": "the room's owner did not let the client in",
        "error": "an event the client sent without an acknowledgement was refused",
        "server_shutdown": "the server is stopping; the connection closes next",
        # calls (docs/protocol.md, "Video calls: signaling")
        "offer": "a call participant's offer, relayed",
        "answer": "a call participant's answer, relayed",
        "ice": "a call participant's ICE candidate, relayed",
        "media_state": "what a call participant now sends (audio, video, screen)",
        "reaction": "a call participant's emoji, floated over their tile",
        "hand": "a call participant's hand went up or down",
        "peer_left": "someone left the call of one of the client's rooms",
        "recording": "the room's call began or stopped being recorded (docs/recording.md)",
        "recording_file": "to whoever started a recording: how its processing goes, and when it is ready",
        # calls through the SFU (docs/protocol.md, "Calls through the SFU")
        "call_mode": "the call moved between peer to peer and the SFU (or to another SFU instance)",
        "sfu_offer": "the SFU's offer of the streams the client receives; answered with sfu_answer",
        "sfu_send": "the highest simulcast layer of the client's camera that anyone receives now",
    }
)


class UndeclaredEvent(RuntimeError):
    """The server was about to send an event its protocol does not list (a bug, found by the tests)."""


def check_outgoing(event: object, namespace: str | None) -> None:
    """Raise UndeclaredEvent unless `event` is in OUTGOING (main namespace only)."""
    if (namespace or "/") == "/" and event not in OUTGOING:
        raise UndeclaredEvent(
            f"the server may not send {event!r}: list it in events/outgoing.py and document it in docs/protocol.md"
        )
