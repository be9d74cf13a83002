"""Reactions: a small fixed set of emoji a call participant sends, shown for a few seconds over their
tile. Nothing is stored; the set is the server's, and pages get it in their configuration."""

from __future__ import annotations

from videochat.model.errors import UserError

# thumbs up, clapping, laughing, surprised, heart, party
REACTIONS = ("\U0001f44d", "\U0001f44f", "\U0001f602", "\U0001f62e", "\u2764\ufe0f", "\U0001f389")


def reaction(value: object) -> str:
    """One of REACTIONS, else `invalid_reaction`."""
    if not isinstance(value, str) or value not in REACTIONS:
        raise UserError("invalid_reaction", f"A reaction is one of {' '.join(REACTIONS)}.")
    return value
