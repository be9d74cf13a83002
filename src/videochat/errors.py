"""The errors a client can cause, and how they are put on the wire (in one place)."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from a client: answered with a code and a message, never fatal."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def ok(**fields: object) -> dict[str, object]:
    return {"ok": True, **fields}


def failure(error: UserError) -> dict[str, object]:
    return {"ok": False, "error": error.as_dict()}


INTERNAL_ERROR = UserError("internal_error", "Something went wrong on the server; it has been logged.")
