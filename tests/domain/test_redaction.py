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


@pytest.mark.parametrize(
    "text",
    [TOKEN + KEY, TOKEN + TOKEN, f"x{KEY}{TOKEN}yz", "twa_" + "A" * 20 + TOKEN],
    ids=["two tokens", "one token twice", "glued both sides", "after a token-shaped run"],
)
def test_tokens_glued_to_each_other_are_each_found_and_redacted(text: str) -> None:
    """A dump without separators: the next token's prefix letters are not swallowed by the
    run before it, which hid that token from revocation and left its body unredacted (found
    by the model test, tests/model)."""
    present = [secret for secret in (KEY, TOKEN) if secret in text]
    assert set(token_shaped(text)) == set(present)
    out = redact(text)
    assert all(secret[4:] not in out for secret in present)
    assert "[redacted]" in out
