"""Opaque page cursors: the (created_at, id) of the last item a page showed."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import TokenRecord

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(record: TokenRecord) -> str:
    raw = f"{record.created_at.isoformat()}|{record.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, token_id = raw.split("|", 1)
        when = datetime.fromisoformat(created)
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput("cursor", "is not a cursor this server issued") from error
    if when.tzinfo is None:
        raise InvalidInput("cursor", "is not a cursor this server issued")
    return when, token_id
