"""The RFC 7662 introspection answer for a token, as a plain dictionary."""

from __future__ import annotations

from typing import Any

from tokenward.domain.model import Principal

__all__ = ["INACTIVE", "active_response"]

# RFC 7662 §2.2: for a token that is not active, "active": false and nothing more, so the
# answer tells nothing about tokens that exist but are expired, revoked or someone else's.
INACTIVE: dict[str, Any] = {"active": False}


def active_response(principal: Principal) -> dict[str, Any]:
    """RFC 7662 §2.2 members for an active token, plus ``tokenward_id``."""
    token = principal.token
    assert token is not None  # noqa: S101 - only tokens are introspected
    response: dict[str, Any] = {
        "active": True,
        "scope": " ".join(token.scopes),
        "client_id": token.id,
        "username": principal.user.username,
        "sub": principal.user.id,
        "token_type": "Bearer",
        "iat": int(token.created_at.timestamp()),
        "tokenward_id": token.id,
    }
    usable_until = token.usable_until  # a rotated token's grace ends it like an expiry
    if usable_until is not None:
        response["exp"] = int(usable_until.timestamp())
    return response
