"""OAuth discovery documents, as plain data: RFC 8414 authorization server metadata for the
tokenward server, and RFC 9728 protected resource metadata for an API it protects (its own, or a
resource server's, served by the SDK middleware).

tokenward mints no OAuth tokens and has no authorization endpoint: the server document lists no
``token_endpoint`` rather than invent one, and says so with empty ``response_types_supported``
and ``grant_types_supported`` (RFC 8414 §2 requires the first; the second's default would claim
grants that do not exist).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "AUTHORIZATION_SERVER_PATH",
    "CLIENT_AUTH_METHODS",
    "PROTECTED_RESOURCE_PATH",
    "ProtectedResource",
    "authorization_server",
    "base_url",
]

AUTHORIZATION_SERVER_PATH = "/.well-known/oauth-authorization-server"
PROTECTED_RESOURCE_PATH = "/.well-known/oauth-protected-resource"
# RFC 6749 §2.3.1: the admin key's id and the key itself, in a Basic header or in the form.
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def base_url(url: str) -> str:
    """``url`` as an issuer or resource identifier: ``https`` or ``http``, a host, no query or
    fragment (RFC 8414 §2, RFC 9728 §2), no trailing slash. :class:`ValueError` otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment or "#" in url:
        raise ValueError("must have no query or fragment")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def authorization_server(issuer: str, scopes: Iterable[str]) -> dict[str, Any]:
    """The RFC 8414 document of the tokenward server at ``issuer`` (see :func:`base_url`)."""
    return {
        "issuer": issuer,
        "introspection_endpoint": f"{issuer}/v1/introspect",
        "introspection_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "revocation_endpoint": f"{issuer}/v1/revoke",
        # RFC 7009 §2.1: possession of a token is enough to revoke it.
        "revocation_endpoint_auth_methods_supported": [*CLIENT_AUTH_METHODS, "none"],
        "scopes_supported": sorted(scopes),
        "response_types_supported": [],
        "grant_types_supported": [],
        "service_documentation": f"{issuer}/openapi.json",
    }


@dataclasses.dataclass(frozen=True)
class ProtectedResource:
    """RFC 9728 metadata of an API: ``resource`` is its identifier (its base URL), and
    ``authorization_servers`` the issuers whose tokens it takes (the tokenward server's URL)."""

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "resource", base_url(self.resource))
        servers = tuple(base_url(server) for server in self.authorization_servers)
        object.__setattr__(self, "authorization_servers", servers)

    def document(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "authorization_servers": list(self.authorization_servers),
            "bearer_methods_supported": ["header"],  # never the query or the body (RFC 6750 §2)
            "scopes_supported": sorted(self.scopes_supported),
        }

    @property
    def path(self) -> str:
        """Where the document is served (RFC 9728 §3.1: the well-known segment goes between
        the host and the resource's own path)."""
        return PROTECTED_RESOURCE_PATH + urlsplit(self.resource).path

    @property
    def url(self) -> str:
        """The document's URL, for the ``resource_metadata`` of 401 challenges (§5.1)."""
        parts = urlsplit(self.resource)
        return urlunsplit((parts.scheme, parts.netloc, self.path, "", ""))
