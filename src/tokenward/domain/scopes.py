"""Scopes: what a token may do.

Built-in scopes govern tokenward's own API; an organisation adds its own resource scopes (for the
APIs that tokenward protects) through settings.
"""

from __future__ import annotations

import re

__all__ = [
    "ADMIN",
    "ADMIN_KEY_SCOPES",
    "INTROSPECT",
    "TOKENS_READ",
    "TOKENS_WRITE",
    "USER_BUILTIN_SCOPES",
    "is_valid_scope_name",
]

TOKENS_READ = "tokens:read"
TOKENS_WRITE = "tokens:write"
ADMIN = "admin"
INTROSPECT = "introspect"

USER_BUILTIN_SCOPES = frozenset({TOKENS_READ, TOKENS_WRITE})
ADMIN_KEY_SCOPES = frozenset({ADMIN, INTROSPECT})

# RFC 6749 §3.3 scope-token: printable ASCII without space, '"' or '\'. We are stricter so that
# a scope reads the same in a URL, a header and a log.
_SCOPE = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")


def is_valid_scope_name(name: str) -> bool:
    """True if ``name`` may be used as a scope."""
    return _SCOPE.fullmatch(name) is not None
