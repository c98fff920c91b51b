"""The token format: ``tw<kind>_<body><checksum>``.

The body carries 256 random bits from :mod:`secrets` in base62; the checksum is the CRC32 of
prefix and body, so that typos are rejected without touching the store and secret scanners can
recognise a tokenward token by its shape alone.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import zlib

__all__ = [
    "TOKEN_LENGTH",
    "TokenKind",
    "digest",
    "generate",
    "hint",
    "is_id",
    "new_id",
    "parse",
]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_INDEX = {c: i for i, c in enumerate(_ALPHABET)}
_BASE62 = re.compile(r"[0-9A-Za-z]+")
_RANDOM_BYTES = 32
_BODY_WIDTH = 43  # 62**43 > 2**256, so every 32-byte value fits
_CHECKSUM_WIDTH = 6  # 62**6 > 2**32
_PREFIX_WIDTH = 4
TOKEN_LENGTH = _PREFIX_WIDTH + _BODY_WIDTH + _CHECKSUM_WIDTH


class TokenKind(enum.StrEnum):
    """What a token is for; the letter after ``tw`` in its prefix."""

    USER = "u"
    ADMIN = "a"
    SESSION = "s"  # a web session's cookie: never accepted as a bearer token

    @property
    def prefix(self) -> str:
        return f"tw{self.value}_"


_KIND_BY_PREFIX = {kind.prefix: kind for kind in TokenKind}


def _base62(number: int, width: int) -> str:
    chars = []
    while number:
        number, rest = divmod(number, 62)
        chars.append(_ALPHABET[rest])
    return "".join(reversed(chars)).rjust(width, "0")


def _checksum(text: str) -> str:
    number = zlib.crc32(text.encode("ascii"))
    digits = []
    for _ in range(_CHECKSUM_WIDTH):  # fixed width: on the verify path, so kept plain
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(digits[::-1])


def generate(kind: TokenKind) -> str:
    """Return a new secret token of ``kind``; the caller shows it once and keeps its digest."""
    head = kind.prefix + _base62(int.from_bytes(secrets.token_bytes(_RANDOM_BYTES)), _BODY_WIDTH)
    return head + _checksum(head)


def parse(candidate: str) -> TokenKind | None:
    """Return the kind of a well-formed token, or ``None``.

    Checks length, prefix, alphabet and checksum only; says nothing about whether the token
    exists. Runs before any hashing or lookup, so a typo never reaches the store.
    """
    if len(candidate) != TOKEN_LENGTH:
        return None
    kind = _KIND_BY_PREFIX.get(candidate[:_PREFIX_WIDTH])
    if kind is None or not _BASE62.fullmatch(candidate, _PREFIX_WIDTH):
        return None
    head, check = candidate[:-_CHECKSUM_WIDTH], candidate[-_CHECKSUM_WIDTH:]
    # The checksum is public information (anyone can compute it), so a plain compare is fine.
    return kind if _checksum(head) == check else None


def digest(token: str) -> str:
    """SHA-256 of the token, hex: the only form in which a secret is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def hint(token: str) -> str:
    """A short display form (``twu_AbC1…``) that identifies a token to its owner."""
    return token[: _PREFIX_WIDTH + 4] + "…"


def is_id(value: str, prefix: str) -> bool:
    """True if ``value`` has the shape of an id made by :func:`new_id` with ``prefix``."""
    return (
        len(value) == len(prefix) + 18
        and value.startswith(prefix + "_")
        and all(c in _INDEX for c in value[len(prefix) + 1 :])
    )


def new_id(prefix: str) -> str:
    """A public identifier such as ``tok_3kTm…``: random, unrelated to any secret."""
    return f"{prefix}_{_base62(int.from_bytes(secrets.token_bytes(12)), 17)}"
