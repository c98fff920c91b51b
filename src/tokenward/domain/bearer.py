"""RFC 6750 bearer credentials: read the ``Authorization`` header, build challenges.

Pure functions over raw header bytes, shared by the server and the resource-server middleware so
both answer a bad credential the same way.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

__all__ = [
    "MAX_AUTHORIZATION_BYTES",
    "Absent",
    "Bearer",
    "Credential",
    "Malformed",
    "OtherScheme",
    "challenge",
    "invalid_token_description",
    "read_credential",
]

# Our tokens are 53 bytes; anything far longer is refused before hashing or lookup.
MAX_AUTHORIZATION_BYTES = 512
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(rb"[A-Za-z0-9\-._~+/]+=*")
# RFC 9110 §5.6.2 token (an auth-scheme name)
_SCHEME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTE_UNSAFE = re.compile(r'[\\"]')
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class Absent:
    """No credential was presented: the request may be treated as anonymous."""


@dataclasses.dataclass(frozen=True)
class OtherScheme:
    """A credential of another scheme (Basic, Digest…): presented, so never anonymous."""


@dataclasses.dataclass(frozen=True)
class Bearer:
    token: str


@dataclasses.dataclass(frozen=True)
class Malformed:
    """The request breaks RFC 6750: answer ``400 invalid_request`` with ``reason``."""

    reason: str


Credential = Absent | OtherScheme | Bearer | Malformed


def read_credential(headers: Iterable[tuple[bytes, bytes]], query_string: bytes) -> Credential:
    """Classify the credential of a request from its raw ASGI headers and query string."""
    if _has_access_token_param(query_string):
        # RFC 6750 §2.3 allows URI tokens only as a last resort; they end up in logs and
        # browser history, so this server refuses them outright.
        return Malformed("access tokens in the query string are not accepted; use the header")
    values = [value for name, value in headers if name.lower() == b"authorization"]
    if not values:
        return Absent()
    if len(values) > 1:
        return Malformed("more than one Authorization header")
    return _classify(values[0])


def _classify(value: bytes) -> Credential:
    if len(value) > MAX_AUTHORIZATION_BYTES:
        return Malformed("the Authorization header is too long")
    if _CONTROL.search(value):
        return Malformed("the Authorization header contains control characters")
    scheme, _, rest = value.strip(b" ").partition(b" ")
    if not _SCHEME.fullmatch(scheme):
        return Malformed("the Authorization header has no valid scheme")
    if scheme.lower() != b"bearer":  # RFC 9110 §11.1: schemes are case-insensitive
        return OtherScheme()
    token = rest.lstrip(b" ")
    if not token:
        return Malformed("the Bearer credential is empty")
    if not _B64TOKEN.fullmatch(token):
        return Malformed("the Bearer credential is not a valid b64token")
    return Bearer(token.decode("ascii"))


def _has_access_token_param(query_string: bytes) -> bool:
    if not query_string:  # the usual case, kept cheap
        return False
    return any(
        unquote_to_bytes(part.split(b"=", 1)[0].replace(b"+", b" ")) == b"access_token"
        for part in query_string.split(b"&")
    )


_INVALID_TOKEN_DESCRIPTIONS = {
    "expired": "The access token has expired",
    "revoked": "The access token has been revoked",
    "owner deactivated": "The access token belongs to a deactivated account",
}


def invalid_token_description(reason: str | None) -> str:
    """The ``error_description`` of an ``invalid_token`` answer. Only a caller holding the real
    secret of a stored token gets a ``reason``; everyone else reads the same words, so the
    answer is no oracle for which token values exist."""
    return _INVALID_TOKEN_DESCRIPTIONS.get(reason or "", "The access token is not valid")


def challenge(
    realm: str,
    error: str | None = None,
    description: str | None = None,
    scope: str | None = None,
) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3). No error for a request with no credential."""
    params = [("realm", realm)]
    params += [
        (k, v)
        for k, v in (("error", error), ("error_description", description), ("scope", scope))
        if v is not None
    ]
    return "Bearer " + ", ".join(f'{k}="{_QUOTE_UNSAFE.sub("", v)}"' for k, v in params)
