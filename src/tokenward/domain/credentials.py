"""The credential decision every middleware makes, the server's and the SDK's alike, and the
OAuth endpoints' variant of it (client authentication, RFC 6749 §2.3).

A request presents no credential (anonymous), a Bearer token (to verify), or something that is
refused before any verification: a malformed one (``400 invalid_request``) or one of another
scheme (``401``: a credential was presented, so never anonymous treatment; promise P2).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Iterable
from urllib.parse import unquote_plus

from tokenward.domain.bearer import Absent, Bearer, Malformed, read_credential
from tokenward.domain.errors import AuthenticationRequired, InvalidClient, MalformedCredential

__all__ = ["ClientSecret", "presented_client", "presented_token"]

Headers = Iterable[tuple[bytes, bytes]]


@dataclasses.dataclass(frozen=True, slots=True)
class ClientSecret:
    """OAuth client credentials (RFC 6749 §2.3.1): an admin key's id and the key itself, sent
    in an HTTP Basic header (``basic``) or as the form fields ``client_id``/``client_secret``."""

    client_id: str
    secret: str = dataclasses.field(repr=False)
    basic: bool


def presented_token(headers: Headers, query_string: bytes) -> str | None:
    """The Bearer token a request presents, or ``None`` when it presents no credential.

    Raises :class:`MalformedCredential` for a request that breaks RFC 6750 (§2.1, §2.3) and
    :class:`AuthenticationRequired` for another scheme (RFC 6750 §3.1: a bare challenge)."""
    credential = read_credential(headers, query_string)
    if isinstance(credential, Bearer):
        return credential.token
    if isinstance(credential, Absent):
        return None
    if isinstance(credential, Malformed):
        raise MalformedCredential(credential.reason)
    raise AuthenticationRequired()


def presented_client(
    headers: Headers, query_string: bytes, posted: ClientSecret | None
) -> ClientSecret | str | None:
    """What the caller of an OAuth endpoint presents: client credentials (Basic header or
    ``posted`` form fields), a Bearer token (``str``), or ``None``.

    RFC 6749 §2.3: a client uses one authentication method a request, so a header and form
    credentials together are ``400 invalid_request``. Another scheme than Basic or Bearer is
    refused as for any endpoint (401)."""
    headers = list(headers)
    credential = read_credential(headers, query_string)
    if isinstance(credential, Malformed):
        raise MalformedCredential(credential.reason)
    if isinstance(credential, Absent):
        return posted
    if posted is not None:
        raise MalformedCredential("use one client authentication method, not several")
    if isinstance(credential, Bearer):
        return credential.token
    return _basic(next(value for name, value in headers if name.lower() == b"authorization"))


def _basic(value: bytes) -> ClientSecret:
    """``client_secret_basic``: both parts form-encoded, then Base64 (RFC 6749 §2.3.1). An
    unreadable Basic credential is a failed client authentication like a wrong one."""
    scheme, _, encoded = value.strip(b" ").partition(b" ")
    if scheme.lower() != b"basic":
        raise AuthenticationRequired()
    try:
        decoded = base64.b64decode(encoded.strip(b" "), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient(basic=True) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient(basic=True)
    return ClientSecret(unquote_plus(client_id), unquote_plus(secret), basic=True)
