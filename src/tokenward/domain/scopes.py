"""Scopes: what a token may do, each with a one-line description for people choosing them.

Built-in scopes govern tokenward's own API; an organisation adds its own resource scopes (for the
APIs that tokenward protects) through settings, as ``name=description`` entries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tokenward.domain.errors import InvalidInput

__all__ = [
    "ADMIN",
    "ADMIN_KEY_SCOPES",
    "BUILTIN_DESCRIPTIONS",
    "DEFAULT_RESOURCE_SCOPES",
    "INTROSPECT",
    "SCOPE_NAME",
    "TOKENS_READ",
    "TOKENS_WRITE",
    "USER_BUILTIN_SCOPES",
    "describe",
    "is_valid_scope_name",
    "parse_scope_list",
]

TOKENS_READ = "tokens:read"
TOKENS_WRITE = "tokens:write"
ADMIN = "admin"
INTROSPECT = "introspect"

USER_BUILTIN_SCOPES = frozenset({TOKENS_READ, TOKENS_WRITE})
ADMIN_KEY_SCOPES = frozenset({ADMIN, INTROSPECT})

BUILTIN_DESCRIPTIONS = {
    TOKENS_READ: "See your tokens and when they were used (never their secrets)",
    TOKENS_WRITE: "Create, rotate and revoke your tokens, with scopes it holds itself",
    ADMIN: "Manage users, every token, admin keys, the policy and the audit log",
    INTROSPECT: "Check other tokens (RFC 7662) and follow revocations, for resource servers",
}
# What TOKENWARD_SCOPES holds when it is not set.
DEFAULT_RESOURCE_SCOPES = (
    "read=Read data in the APIs that tokenward protects; "
    "write=Change data in the APIs that tokenward protects"
)
MAX_DESCRIPTION = 200

# RFC 6749 §3.3 scope-token: printable ASCII without space, '"' or '\'. We are stricter so that
# a scope reads the same in a URL, a header and a log.
SCOPE_NAME = r"[a-z][a-z0-9_.:-]{0,63}"  # the rule as a pattern (the OpenAPI document quotes it)
_SCOPE = re.compile(SCOPE_NAME)


def is_valid_scope_name(name: str) -> bool:
    """True if ``name`` may be used as a scope."""
    return _SCOPE.fullmatch(name) is not None


def describe(scope: str, resource_descriptions: Mapping[str, str]) -> str:
    """The one-line description of ``scope`` ("" when the organisation gave none)."""
    return resource_descriptions.get(scope) or BUILTIN_DESCRIPTIONS.get(scope, "")


def parse_scope_list(text: str) -> dict[str, str]:
    """Resource scopes and their descriptions from ``name=description`` entries, separated by
    commas, or by semicolons when the text has any (so that a description may hold commas);
    a bare ``name`` has no description. :class:`InvalidInput` names a bad entry."""
    found: dict[str, str] = {}
    for entry in text.split(";" if ";" in text else ","):
        name, _, description = (part.strip() for part in entry.partition("="))
        if name or description:
            found[_checked_name(name)] = _checked_description(name, description)
    return found


def _checked_name(name: str) -> str:
    if not is_valid_scope_name(name):
        raise InvalidInput("scopes", f"{name!r} is not a valid scope name")
    if name in USER_BUILTIN_SCOPES | ADMIN_KEY_SCOPES:
        raise InvalidInput("scopes", f"{name!r} is a built-in scope")
    return name


def _checked_description(name: str, description: str) -> str:
    if len(description) > MAX_DESCRIPTION or not description.isprintable():
        message = f"the description of {name!r} must be one line of at most {MAX_DESCRIPTION}"
        raise InvalidInput("scopes", message + " characters")
    return description
