"""Labels, usernames and derived token status."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import TokenRecord, TokenStatus, check_label, normalise_username
from tokenward.domain.tokens import TokenKind

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize("label", ["ci", "x" * 100, "déploiement prod", "🚀 deploy"])
def test_printable_labels_up_to_100_characters_are_kept(label: str) -> None:
    assert check_label(label) == label


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 101, "100"),
        ("a\x00b", "control"),
        ("a\tb", "control"),
        ("a\nb", "control"),
        ("safe\u202eexe.txt", "control"),
    ],
)
def test_bad_labels_are_refused_naming_the_field(label: str, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        check_label(label)
    assert caught.value.field == "label"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("alice", "alice"),
        ("Alice", "alice"),
        ("ＡＬＩＣＥ", "alice"),
        ("bob.smith-2", "bob.smith-2"),
    ],
)
def test_usernames_fold_to_one_canonical_form(raw: str, canonical: str) -> None:
    assert normalise_username(raw) == canonical


@pytest.mark.parametrize(
    "raw", ["", "a b", "al\x00ice", "аlice", "-alice", "x" * 65, "alice\u200b", "al/ice"]
)
def test_usernames_that_could_look_alike_or_break_output_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_username(raw)
    assert caught.value.field == "username"


def _token(**changes: object) -> TokenRecord:
    base = TokenRecord(
        id="tok_1",
        kind=TokenKind.USER,
        user_id="usr_1",
        created_by="test",
        label="t",
        scopes=(),
        created_at=NOW,
        expires_at=NOW + timedelta(days=1),
        digest="0" * 64,
        hint="twu_0000…",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_status_is_derived_from_times_and_revocation_wins() -> None:
    token = _token()
    assert token.status(NOW) is TokenStatus.ACTIVE
    assert token.status(NOW + timedelta(days=1)) is TokenStatus.EXPIRED
    assert _token(revoked_at=NOW).status(NOW) is TokenStatus.REVOKED
    assert _token(revoked_at=NOW).status(NOW + timedelta(days=2)) is TokenStatus.REVOKED
    assert _token(expires_at=None).status(NOW + timedelta(days=9999)) is TokenStatus.ACTIVE
