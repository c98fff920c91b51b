"""The credential decision every middleware makes, the server's and the SDK's alike.

A request presents no credential (anonymous), a Bearer token (to verify), or something that is
refused before any verification: a malformed one (``400 invalid_request``) or one of another
scheme (``401``: a credential was presented, so never anonymous treatment; promise P2).
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenward.domain.bearer import Absent, Bearer, Malformed, read_credential
from tokenward.domain.errors import AuthenticationRequired, MalformedCredential

__all__ = ["presented_token"]


def presented_token(headers: Iterable[tuple[bytes, bytes]], query_string: bytes) -> str | None:
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
