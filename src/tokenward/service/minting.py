"""Minting a token: a fresh secret and the record that stores only its digest."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tokenward.domain import tokens as token_format
from tokenward.domain.model import Actor, TokenRecord
from tokenward.domain.tokens import TokenKind

__all__ = ["CreatedToken", "created_details", "mint"]


@dataclasses.dataclass(frozen=True)
class CreatedToken:
    """A token just made: its record, and its secret, shown to the caller once."""

    record: TokenRecord
    secret: str  # shown to the caller once, never stored


def mint(
    kind: TokenKind,
    owner_id: str,
    by: Actor,
    label: str,
    scopes: tuple[str, ...],
    now: datetime,
    expires_at: datetime | None,
    rotated_from: str | None = None,
) -> CreatedToken:
    """A new token record and its secret (nothing stored yet)."""
    secret = token_format.generate(kind)
    record = TokenRecord(
        id=token_format.new_id("tok"),
        kind=kind,
        user_id=owner_id,
        created_by=by.id,
        label=label,
        scopes=scopes,
        created_at=now,
        expires_at=expires_at,
        digest=token_format.digest(secret),
        hint=token_format.hint(secret),
        rotated_from=rotated_from,
    )
    return CreatedToken(record, secret)


def created_details(created: CreatedToken) -> dict[str, object]:
    """The details of ``token.created``."""
    record = created.record
    expires = None if record.expires_at is None else record.expires_at.isoformat()
    return {
        "token_id": record.id,
        "kind": record.kind.value,
        "user_id": record.user_id,
        "label": record.label,
        "scopes": list(record.scopes),
        "expires_at": expires,
        "rotated_from": record.rotated_from,
    }
