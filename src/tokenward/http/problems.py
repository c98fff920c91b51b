"""RFC 9457 problem details and the RFC 6750 answers built on them."""

from __future__ import annotations

import re
from typing import Any

import orjson
from starlette.responses import Response

from tokenward.domain.bearer import challenge, invalid_token_description

__all__ = [
    "REALM",
    "authentication_required",
    "challenge",
    "insufficient_scope",
    "invalid_request",
    "invalid_token",
    "problem",
    "too_many",
    "unavailable",
]

REALM = "tokenward"
# A secret pasted where a value belongs (a scope, an id) must not come back in an error: error
# bodies reach logs and proxies more often than successes do (P5).
_TOKEN_SHAPE = re.compile(rb"tw[a-z]_[0-9A-Za-z]{20,}")
_NO_STORE = {"Cache-Control": "no-store"}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    """An ``application/problem+json`` response (RFC 9457 §3)."""
    body = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return Response(
        _TOKEN_SHAPE.sub(b"[redacted]", orjson.dumps(body)),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def authentication_required() -> Response:
    """401 with a bare challenge (RFC 6750 §3.1: no error code when no credential was sent,
    or when the credential was not a Bearer one)."""
    return problem(
        401,
        "Authentication required",
        "Send a token as 'Authorization: Bearer <token>'.",
        slug="authentication-required",
        headers={"WWW-Authenticate": challenge(REALM), **_NO_STORE},
    )


def invalid_request(reason: str) -> Response:
    """400 ``invalid_request`` (RFC 6750 §3.1). ``reason`` never contains presented bytes."""
    return problem(
        400,
        "Invalid request",
        reason,
        slug="invalid-request",
        headers={
            "WWW-Authenticate": challenge(REALM, "invalid_request", reason),
            **_NO_STORE,
        },
        error="invalid_request",
    )


def invalid_token(reason: str | None) -> Response:
    """401 ``invalid_token``. Unknown, malformed, expired and revoked tokens get the same status,
    headers and body shape; only a caller holding a real secret learns why (``reason``), so the
    answer is no oracle for which token values exist."""
    description = invalid_token_description(reason)
    return problem(
        401,
        "Invalid token",
        description,
        slug="invalid-token",
        headers={
            "WWW-Authenticate": challenge(REALM, "invalid_token", description),
            **_NO_STORE,
        },
        error="invalid_token",
    )


def too_many(retry_after: int, detail: str = "Too many failed attempts; wait.") -> Response:
    """429 with ``Retry-After``."""
    return problem(
        429,
        "Too many failed attempts",
        detail,
        slug="rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


def unavailable() -> Response:
    """503 with ``Retry-After``: the store cannot be reached, so nothing is vouched for."""
    return problem(
        503,
        "Service unavailable",
        "The token store cannot be reached; try again shortly.",
        slug="store-unavailable",
        headers={"Retry-After": "1"},
    )


def insufficient_scope(scope: str) -> Response:
    """403 ``insufficient_scope`` naming the scope needed (RFC 6750 §3.1)."""
    detail = f"This request needs the scope '{scope}'."
    return problem(
        403,
        "Insufficient scope",
        detail,
        slug="insufficient-scope",
        headers={"WWW-Authenticate": challenge(REALM, "insufficient_scope", detail, scope)},
        error="insufficient_scope",
        scope=scope,
    )
