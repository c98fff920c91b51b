"""Secrets in free text a stranger sends (a leak report's ``source``): found and redacted
before anything is stored, logged or sent on.

What is redacted, and why only that:

- every string shaped like a tokenward secret (``tw<kind>_`` and 20 or more base62
  characters), valid or not: scanners find tokens by this shape (P5);
- the user information of a URL (``https://user:password@host``);
- the value after a credential-like name, ``password=…``, ``api_key: …``, ``TOKEN=…``
  (``Authorization: Bearer …`` included);
- the credentials of ``Bearer``, ``Basic`` and ``Digest`` schemes.

A password on its own in free text cannot be told from any other word: the field is for the
place a token was found, and the documentation says not to paste other secrets into it.
"""

from __future__ import annotations

import re

from tokenward.domain.tokens import TOKEN_LENGTH

__all__ = ["REDACTED", "redact", "token_shaped"]

REDACTED = "[redacted]"
# A lookahead, so runs may overlap: in ``<token><token>`` the first run swallows the second
# token's prefix letters, and a plain scan would resume past them and miss that token.
_TOKEN_SHAPE = re.compile(r"(?=(tw[a-z]_[0-9A-Za-z]{20,}))")
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#\s@]*@")
_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|digest)\s+[^\s,;\"']+")
_NAMED_VALUE = re.compile(
    r"(?i)(\b[\w-]*(?:passw(?:or)?d|pwd|pass(?:phrase)?|secret|token|api[_-]?key|key|auth"
    r"(?:orization)?|credentials?|cookie|session)[\"']?\s*[:=]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s&;,\"']+)"
)


def token_shaped(text: str) -> list[str]:
    """Every string of ``text`` that may be a tokenward token, cut to a token's length (a
    token glued to more letters is still found); whether each is one is for the caller."""
    return [run[:TOKEN_LENGTH] for run in _TOKEN_SHAPE.findall(text) if len(run) >= TOKEN_LENGTH]


def _redact_token_shaped(text: str) -> str:
    """Every token-shaped run replaced; overlapping runs (tokens glued together) as one."""
    pieces, done = [], 0
    for found in _TOKEN_SHAPE.finditer(text):
        start, stop = found.span(1)
        if start >= done:
            pieces += [text[done:start], REDACTED]
        done = max(done, stop)
    return "".join(pieces) + text[done:]


def redact(text: str) -> str:
    """``text`` with every secret this module can recognise replaced by ``[redacted]``."""
    text = _redact_token_shaped(text)
    text = _URL_USERINFO.sub(rf"\g<1>{REDACTED}@", text)
    text = _SCHEME_CREDENTIAL.sub(rf"\g<1> {REDACTED}", text)
    return _NAMED_VALUE.sub(rf"\g<1>{REDACTED}", text)
