"""Domain errors: what went wrong, in terms a caller can act on. The HTTP layer maps them."""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Forbidden",
    "InsufficientScope",
    "InvalidInput",
    "InvalidToken",
    "LoginFailed",
    "NotFound",
    "RateLimited",
    "StoreUnavailable",
    "TokenwardError",
]


class TokenwardError(Exception):
    """Base of every error the domain and service raise on purpose."""


class InvalidInput(TokenwardError):
    """A value a caller sent breaks a rule; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(TokenwardError):
    """The thing does not exist, or is not the caller's to see (never tell which)."""


class Conflict(TokenwardError):
    """The request is well-formed but clashes with the current state."""


class InvalidToken(TokenwardError):
    """A presented credential is not valid.

    ``reason`` is ``expired`` or ``revoked`` only when the caller holds the real secret of a
    stored token; anything else (unknown, malformed) is ``None`` so the answer reveals nothing.
    """

    def __init__(self, reason: str | None = None) -> None:
        super().__init__(reason or "invalid")
        self.reason = reason


class InsufficientScope(TokenwardError):
    """The credential is valid but lacks ``scope``."""

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope


class LoginFailed(TokenwardError):
    """Wrong username or password: one answer for both, so names cannot be probed."""


class RateLimited(TokenwardError):
    """Too many failures from one source; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class Forbidden(TokenwardError):
    """Authenticated, but not allowed (not an admin)."""


class StoreUnavailable(TokenwardError):
    """The store cannot be reached: callers must fail closed (503), never fall back to allow."""
