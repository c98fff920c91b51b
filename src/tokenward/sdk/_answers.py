"""The error answers a protected resource server gives, as (status, headers, body): the same
RFC 6750 challenges and RFC 9457 bodies as the tokenward server, for ASGI and WSGI alike."""

from __future__ import annotations

import json

from tokenward.domain.bearer import challenge, invalid_token_description

__all__ = ["Answer", "invalid_request", "invalid_token", "missing", "unavailable"]

Answer = tuple[int, list[tuple[str, str]], bytes]


def _problem(
    status: int, title: str, detail: str, headers: list[tuple[str, str]], **extra: str
) -> Answer:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return (
        status,
        [("content-type", "application/problem+json"), ("cache-control", "no-store"), *headers],
        json.dumps(body).encode(),
    )


def missing(realm: str) -> Answer:
    """401 with a bare challenge: no credential, or one of another scheme."""
    return _problem(
        401,
        "Authentication required",
        "Send 'Authorization: Bearer <token>'.",
        [("www-authenticate", challenge(realm))],
    )


def invalid_request(realm: str, reason: str) -> Answer:
    return _problem(
        400,
        "Invalid request",
        reason,
        [("www-authenticate", challenge(realm, "invalid_request", reason))],
        error="invalid_request",
    )


def invalid_token(realm: str, reason: str | None) -> Answer:
    """401 ``invalid_token``; says expired or revoked only to the holder of the real secret."""
    description = invalid_token_description(reason)
    return _problem(
        401,
        "Invalid token",
        description,
        [("www-authenticate", challenge(realm, "invalid_token", description))],
        error="invalid_token",
    )


def insufficient_scope(realm: str, scope: str) -> Answer:
    detail = f"This request needs the scope '{scope}'."
    return _problem(
        403,
        "Insufficient scope",
        detail,
        [("www-authenticate", challenge(realm, "insufficient_scope", detail, scope))],
        error="insufficient_scope",
        scope=scope,
    )


def unavailable() -> Answer:
    """503: freshness cannot be proven and tokenward cannot be asked (fail closed)."""
    return _problem(
        503,
        "Service unavailable",
        "Tokens cannot be verified right now; try again shortly.",
        [("retry-after", "1")],
    )
