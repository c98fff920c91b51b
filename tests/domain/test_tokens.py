"""The token format: shape, checksum, digest, hint."""

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenward.domain import tokens
from tokenward.domain.tokens import TOKEN_LENGTH, TokenKind

_SHAPE = re.compile(r"tw[uas]_[0-9A-Za-z]{49}")


@pytest.mark.parametrize("kind", list(TokenKind))
def test_generated_tokens_have_the_documented_shape_and_parse_back(kind: TokenKind) -> None:
    secret = tokens.generate(kind)
    assert _SHAPE.fullmatch(secret)
    assert len(secret) == TOKEN_LENGTH == 53
    assert secret.startswith(kind.prefix)
    assert tokens.parse(secret) is kind


def test_generated_tokens_are_distinct() -> None:
    assert len({tokens.generate(TokenKind.USER) for _ in range(1000)}) == 1000


@given(st.integers(min_value=4, max_value=TOKEN_LENGTH - 1), st.sampled_from(string.digits))
def test_any_single_character_change_in_body_or_checksum_is_rejected(
    position: int, replacement: str
) -> None:
    secret = tokens.generate(TokenKind.USER)
    changed = secret[:position] + replacement + secret[position + 1 :]
    if changed != secret:
        assert tokens.parse(changed) is None


def test_a_case_flipped_token_is_rejected() -> None:
    secret = tokens.generate(TokenKind.USER)
    assert tokens.parse(secret.swapcase()) is None
    body_flipped = secret[:4] + secret[4:].swapcase()
    assert body_flipped == secret or tokens.parse(body_flipped) is None


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:-1], id="truncated"),
        pytest.param(lambda s: s + "0", id="too long"),
        pytest.param(lambda s: "twx_" + s[4:], id="unknown kind"),
        pytest.param(lambda s: "ghp_" + s[4:], id="foreign prefix"),
        pytest.param(lambda s: s[:10] + "-" + s[11:], id="outside alphabet"),
        pytest.param(lambda s: s[:10] + "é" + s[11:], id="non-ascii"),
        pytest.param(lambda s: "", id="empty"),
    ],
)
def test_malformed_candidates_are_rejected_before_any_lookup(mangle: object) -> None:
    secret = tokens.generate(TokenKind.USER)
    assert callable(mangle)
    assert tokens.parse(mangle(secret)) is None


def test_moving_a_token_to_another_kind_breaks_its_checksum() -> None:
    secret = tokens.generate(TokenKind.USER)
    assert tokens.parse("twa_" + secret[4:]) is None


def test_digest_is_sha256_hex_and_differs_per_token() -> None:
    one, two = tokens.generate(TokenKind.USER), tokens.generate(TokenKind.USER)
    assert re.fullmatch(r"[0-9a-f]{64}", tokens.digest(one))
    assert tokens.digest(one) == tokens.digest(one) != tokens.digest(two)


def test_hint_shows_the_prefix_and_four_characters_only() -> None:
    secret = tokens.generate(TokenKind.ADMIN)
    assert tokens.hint(secret) == secret[:8] + "…"


def test_public_ids_carry_their_prefix_and_are_unrelated_to_secrets() -> None:
    ident = tokens.new_id("tok")
    assert re.fullmatch(r"tok_[0-9A-Za-z]{17}", ident)
    assert ident != tokens.new_id("tok")
