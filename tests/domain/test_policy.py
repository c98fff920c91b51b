"""Lifetime policy: defaults, maximums, the accepted window for expires_at."""

from datetime import UTC, datetime, timedelta

import pytest

from tokenward.domain.errors import InvalidInput
from tokenward.domain.policy import LifetimeRule, Policy, resolve_expiry
from tokenward.domain.tokens import TokenKind

NOW = datetime(2026, 6, 1, tzinfo=UTC)
USER = Policy().user_token


def test_defaults_match_the_promises() -> None:
    policy = Policy()
    assert (policy.user_token.default_days, policy.user_token.max_days) == (90, 365)
    assert policy.user_token.allow_no_expiry is False
    assert (policy.admin_key.default_days, policy.admin_key.max_days) == (7, 365)
    assert policy.rule_for(TokenKind.ADMIN) is policy.admin_key
    assert policy.rule_for(TokenKind.USER) is policy.user_token


def test_no_lifetime_given_means_the_default() -> None:
    assert resolve_expiry(USER, NOW) == NOW + timedelta(days=90)
    assert resolve_expiry(Policy().admin_key, NOW) == NOW + timedelta(days=7)


@pytest.mark.parametrize("days", [1, 30, 365])
def test_days_within_the_maximum_are_accepted(days: int) -> None:
    assert resolve_expiry(USER, NOW, expires_in_days=days) == NOW + timedelta(days=days)


@pytest.mark.parametrize("days", [0, -1, 366, 10_000])
def test_days_outside_one_to_maximum_are_refused_naming_the_field(days: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_expiry(USER, NOW, expires_in_days=days)
    assert caught.value.field == "expires_in_days"
    assert "365" in caught.value.message


@pytest.mark.parametrize(
    "offset",
    [timedelta(microseconds=1), timedelta(hours=1), timedelta(days=365)],
)
def test_any_expires_at_in_the_open_closed_window_is_accepted(offset: timedelta) -> None:
    assert resolve_expiry(USER, NOW, expires_at=NOW + offset) == NOW + offset


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (timedelta(0), "future"),
        (-timedelta(seconds=1), "future"),
        (timedelta(days=365, microseconds=1), "maximum"),
    ],
)
def test_expires_at_outside_the_window_is_refused(offset: timedelta, words: str) -> None:
    with pytest.raises(InvalidInput, match=words) as caught:
        resolve_expiry(USER, NOW, expires_at=NOW + offset)
    assert caught.value.field == "expires_at"


def test_naive_expires_at_is_refused() -> None:
    with pytest.raises(InvalidInput, match="time zone"):
        resolve_expiry(USER, NOW, expires_at=datetime(2026, 7, 1))


def test_no_expiry_is_refused_unless_the_policy_allows_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        resolve_expiry(USER, NOW, never_expires=True)
    assert caught.value.field == "never_expires"
    lenient = LifetimeRule(default_days=90, max_days=365, allow_no_expiry=True)
    assert resolve_expiry(lenient, NOW, never_expires=True) is None


def test_two_ways_of_giving_a_lifetime_are_refused() -> None:
    with pytest.raises(InvalidInput, match="only one"):
        resolve_expiry(USER, NOW, expires_in_days=3, expires_at=NOW + timedelta(days=3))


@pytest.mark.parametrize(
    ("default", "maximum", "field"),
    [(8, 7, "default_days"), (0, 7, "default_days"), (1, 366, "max_days"), (1, 0, "max_days")],
)
def test_inconsistent_rules_cannot_be_built(default: int, maximum: int, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        LifetimeRule(default_days=default, max_days=maximum)
    assert caught.value.field == field
