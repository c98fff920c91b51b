"""Verify tokenward webhook signatures in your receiver.

    from tokenward.sdk import verify_signature

    if not verify_signature(SECRET, request.headers["Tokenward-Signature"], raw_body):
        return 400

Pass the raw request body, byte for byte, before any JSON parsing.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["verify_signature"]


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: int = 300,
    now: float | None = None,
) -> bool:
    """True if ``header`` (``Tokenward-Signature``: ``t=<unix seconds>,v1=<hex>``) signs
    ``body`` with ``secret`` and its timestamp is within ``tolerance`` seconds of ``now``
    (default: this machine's clock).

    The timestamp is part of what is signed, and a stale one is refused, so a captured
    delivery cannot be replayed later. Signatures are compared in constant time; several
    ``v1=`` values (during a secret change) are each tried.
    """
    fields = _fields(header)
    timestamp = fields.get("t", [""])[0]
    if not timestamp.isdigit():
        return False
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > tolerance:
        return False
    signed = timestamp.encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest().encode()
    # Every candidate is compared, matched or not: no early exit to time. (Bytes: a str
    # with non-ASCII characters would make compare_digest raise.)
    given = [value.encode("utf-8", "replace") for value in fields.get("v1", [])]
    matches = [hmac.compare_digest(expected, value) for value in given]
    return any(matches)


def _fields(header: str) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(key, []).append(value)
    return fields
