"""The management client's exceptions, one per kind of refusal, built from RFC 9457 problems.

No message, ``repr`` or attribute holds a secret: messages are built from the server's problem
text (which the server already redacts) and redacted again here, and the request (whose headers
hold the caller's token) is never attached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "ConflictError",
    "ForbiddenError",
    "InvalidTokenError",
    "NotFoundError",
    "RateLimitedError",
    "TokenwardError",
    "UnavailableError",
    "ValidationError",
    "error_for",
    "redact",
]

# The token format's shape (``tw<kind>_`` and base62): a secret pasted where a value belongs
# must not reach a log line through an exception.
# ``(?:_…)*``: the next token glued on (``<token><token>``) goes with it, not its body alone.
_TOKEN_SHAPE = re.compile(r"tw[a-z]_[0-9A-Za-z]{20,}(?:_[0-9A-Za-z]+)*")


def redact(text: str) -> str:
    """``text`` with anything shaped like a tokenward token replaced."""
    return _TOKEN_SHAPE.sub("[redacted]", text)


class TokenwardError(Exception):
    """The server refused a request (``status`` and its ``problem`` body say why), or could not
    be reached (``status`` is ``None``)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(redact(message))
        self.status = status
        self.problem: dict[str, Any] = dict(problem or {})
        #: Seconds the server asked the caller to wait (``Retry-After``), if it said.
        self.retry_after = retry_after


class InvalidTokenError(TokenwardError):
    """401: no credential, or one that is unknown, expired, revoked or of a deactivated user."""


class ForbiddenError(TokenwardError):
    """403: the credential is valid but lacks a right; ``scope`` names the scope it needs."""

    @property
    def scope(self) -> str | None:
        """The scope the request needs (RFC 6750 ``insufficient_scope``), if the server said."""
        scope = self.problem.get("scope")
        return scope if isinstance(scope, str) else None


class NotFoundError(TokenwardError):
    """404: no such resource, or one that is not the caller's."""


class ConflictError(TokenwardError):
    """409: the request contradicts the current state (a taken username, the last admin)."""


class ValidationError(TokenwardError):
    """400 or 422: the request is malformed or a field is invalid; ``fields`` names each."""

    @property
    def fields(self) -> list[tuple[str, str]]:
        """``(field, message)`` for every field the server named."""
        errors = self.problem.get("errors")
        if not isinstance(errors, list):
            return []
        return [
            (str(e.get("field", "")), str(e.get("message", "")))
            for e in errors
            if isinstance(e, dict)
        ]


class RateLimitedError(TokenwardError):
    """429: too many failed attempts from this address; wait ``retry_after`` seconds."""


class UnavailableError(TokenwardError):
    """503, or no answer at all (``status`` is ``None``): try again after ``retry_after``."""


_BY_STATUS: dict[int, type[TokenwardError]] = {
    400: ValidationError,
    401: InvalidTokenError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitedError,
    503: UnavailableError,
}


def error_for(status: int, reason: str, body: object, retry_after: str | None) -> TokenwardError:
    """The exception for an error answer: ``body`` is its decoded JSON (or ``None``)."""
    problem = body if isinstance(body, dict) else {}
    kind = _BY_STATUS.get(status, TokenwardError)
    return kind(
        _message(status, reason, problem),
        status=status,
        problem=problem,
        retry_after=_seconds(retry_after),
    )


def _message(status: int, reason: str, problem: Mapping[str, Any]) -> str:
    # RFC 9457 title/detail; RFC 6749 §5.2 error/error_description (the OAuth endpoints);
    # the readiness probe's reason; else the status line.
    title = problem.get("title") or problem.get("error") or reason
    detail = problem.get("detail") or problem.get("error_description") or problem.get("reason")
    return f"{status} {title}" + (f": {detail}" if detail and detail != title else "")


def _seconds(retry_after: str | None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date."""
    if retry_after is None:
        return None
    try:
        return max(0.0, float(retry_after))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(retry_after)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, zone unknown (RFC 5322 §3.3)
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
