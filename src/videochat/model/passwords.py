"""Passwords kept only as salted scrypt hashes (the admin UI's, rooms' locks)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

LONGEST_PASSWORD = 1024  # characters; anything longer is refused before hashing

# scrypt cost: 16 MiB and some tens of milliseconds per attempt, which slows guessing. Callers on
# the event loop hash in a worker thread.
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class PasswordHash:
    """A salted scrypt hash of a password; the password itself is not kept."""

    def __init__(self, password: str) -> None:
        self._salt = secrets.token_bytes(16)
        self._digest = self._hash(password)

    def _hash(self, password: str) -> bytes:
        return hashlib.scrypt(password.encode("utf-8"), salt=self._salt, **_SCRYPT)

    def to_data(self) -> dict[str, str]:
        """Salt and digest (never the password), for another process to check passwords against."""
        return {"salt": self._salt.hex(), "digest": self._digest.hex()}

    @classmethod
    def from_data(cls, data: dict[str, str]) -> PasswordHash:
        hashed = cls.__new__(cls)
        hashed._salt, hashed._digest = bytes.fromhex(data["salt"]), bytes.fromhex(data["digest"])
        return hashed

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(self._hash(password), self._digest)
