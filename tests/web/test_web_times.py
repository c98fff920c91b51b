"""Times as the UI shows them: UTC, relative wording, and when an expiry turns to a warning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokenward.web.times import expiry_state, relative, utc

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(days=5), "in 5 days"),
        (timedelta(days=1, hours=3), "in 1 day"),
        (timedelta(days=1, hours=12), "in 2 days"),
        (timedelta(days=2, hours=23, minutes=59), "in 3 days"),
        (timedelta(hours=3, minutes=29), "in 3 hours"),
        (timedelta(hours=3, minutes=31), "in 4 hours"),
        (timedelta(minutes=1), "in 1 minute"),
        (timedelta(seconds=30), "in less than a minute"),
        (timedelta(0), "just now"),
        (-timedelta(seconds=30), "just now"),
        (-timedelta(minutes=12), "12 minutes ago"),
        (-timedelta(days=400), "400 days ago"),
    ],
)
def test_relative_names_the_largest_unit_rounded_to_the_nearest(
    delta: timedelta, text: str
) -> None:
    assert relative(NOW + delta, NOW) == text


def test_no_moment_reads_never_and_utc_is_explicit() -> None:
    assert relative(None, NOW) == "never"
    assert utc(None) == ""
    assert utc(NOW + timedelta(days=4)) == "2026-01-05 12:00 UTC"


@pytest.mark.parametrize(
    ("expires", "state"),
    [
        (None, "never"),
        (NOW, "expired"),
        (NOW - timedelta(days=1), "expired"),
        (NOW + timedelta(hours=1), "soon"),
        (NOW + timedelta(days=7), "soon"),
        (NOW + timedelta(days=7, seconds=1), "later"),
    ],
)
def test_an_expiry_within_seven_days_is_a_warning(expires: datetime | None, state: str) -> None:
    assert expiry_state(expires, NOW) == state
