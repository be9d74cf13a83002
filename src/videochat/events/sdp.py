"""Checking what clients send of WebRTC: session descriptions and ICE candidates (shapes and sizes;
the server never looks inside SDP). The mesh's relays (signaling.py) and the SFU's events (sfu.py)."""

from __future__ import annotations

from typing import Any

from videochat.model.errors import UserError


def session_description(event: str, value: Any, max_bytes: int) -> dict:
    if not isinstance(value, dict) or value.get("type") != event:
        raise UserError("invalid_description", f"An {event} needs a description {{type: {event!r}, sdp}}.")
    sdp = value.get("sdp")
    if not isinstance(sdp, str) or not sdp:
        raise UserError("invalid_description", "description.sdp must be a non-empty string.")
    if len(sdp.encode()) > max_bytes:
        raise UserError("invalid_description", f"description.sdp is too long: at most {max_bytes} bytes.")
    return {"type": event, "sdp": sdp}


def candidate_init(value: Any, max_bytes: int) -> dict | None:
    """An RTCIceCandidateInit, or None (end of candidates); only the known fields are relayed."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UserError("invalid_candidate", "An ice candidate must be an object {candidate, sdpMid, sdpMLineIndex}.")
    candidate = value.get("candidate")
    if not isinstance(candidate, str):
        raise UserError("invalid_candidate", "candidate.candidate must be a string.")
    if len(candidate.encode()) > max_bytes:
        raise UserError("invalid_candidate", f"candidate.candidate is too long: at most {max_bytes} bytes.")
    cleaned: dict[str, Any] = {"candidate": candidate}
    mid, index, fragment = value.get("sdpMid"), value.get("sdpMLineIndex"), value.get("usernameFragment")
    if mid is not None and not (isinstance(mid, str) and len(mid) <= 64):
        raise UserError("invalid_candidate", "candidate.sdpMid must be a short string or null.")
    if index is not None and not (isinstance(index, int) and not isinstance(index, bool) and 0 <= index < 1024):
        raise UserError("invalid_candidate", "candidate.sdpMLineIndex must be a small whole number or null.")
    if fragment is not None and not (isinstance(fragment, str) and len(fragment) <= 256):
        raise UserError("invalid_candidate", "candidate.usernameFragment must be a short string or null.")
    cleaned.update(sdpMid=mid, sdpMLineIndex=index)
    if fragment is not None:
        cleaned["usernameFragment"] = fragment
    return cleaned
