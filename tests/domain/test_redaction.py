"""What a leak report's ``source`` keeps: every token-shaped string, URL credentials and the
values of credential-like names are redacted; the place itself stays readable."""

from __future__ import annotations

import pytest

from tokenward.domain.redaction import redact, token_shaped
from tokenward.domain.tokens import TokenKind, generate

TOKEN = generate(TokenKind.USER)
KEY = generate(TokenKind.ADMIN)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"https://paste.example/raw/abc?token={TOKEN}", "https://paste.example/raw/abc?token="),
        (f"found {TOKEN} and {KEY} in a gist", "found [redacted] and [redacted] in a gist"),
        (f"glued{TOKEN}xyz", "glued[redacted]"),
        ("twu_" + "x" * 30, "[redacted]"),  # token-shaped, not a valid token: redacted too
        ("https://deploy:hunter2-long-pw@ci.example/hook", "https://[redacted]@ci.example/hook"),
        ("password=hunter2-long-pw next", "password=[redacted] next"),
        ("DB_PASSWORD='two words' end", "DB_PASSWORD=[redacted] end"),
        ('{"password": "hunter2-long-pw"}', '{"password": [redacted]}'),
        ("api_key: abc123, more", "api_key: [redacted], more"),
        ("X-Api-Key:abc123", "X-Api-Key:[redacted]"),
        ("Authorization: Bearer abc.def.ghi", "Authorization: [redacted] [redacted]"),
        ("sent with Basic dXNlcjpwYXNz here", "sent with Basic [redacted] here"),
        ("GITHUB_TOKEN=ghp_abc SECRET=x", "GITHUB_TOKEN=[redacted] SECRET=[redacted]"),
        ("https://github.com/org/repo/blob/main/app.py#L3", None),  # nothing to redact
        ("a passage=ok about passwords in general", None),
    ],
)
def test_secrets_in_free_text_are_redacted_and_the_rest_kept(text: str, kept: str | None) -> None:
    out = redact(text)
    if kept is None:
        assert out == text
    else:
        assert kept in out
    for secret in (TOKEN, KEY, "hunter2-long-pw", "two words", "abc123", "dXNlcjpwYXNz"):
        assert secret not in out


def test_token_shaped_strings_are_found_for_revocation() -> None:
    text = f"one {TOKEN}, one glued x{KEY}yz, and twu_short"
    assert token_shaped(text) == [TOKEN, KEY]
    assert token_shaped("nothing here") == []
