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


class RetryLater(UserError):
    """Refused for now: `retryAfter` (seconds) says when the same request may succeed."""

    def __init__(self, code: str, message: str, retry_after: float) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, object]:  # type: ignore[override]
        return {**super().as_dict(), "retryAfter": round(self.retry_after, 1)}


def ok(**fields: object) -> dict[str, object]:
    return {"ok": True, **fields}


def failure(error: UserError) -> dict[str, object]:
    return {"ok": False, "error": error.as_dict()}


INTERNAL_ERROR = UserError("internal_error", "Something went wrong on the server; it has been logged.")
