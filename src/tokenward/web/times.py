"""Times as people read them: ``2026-01-05 12:00 UTC``, ``in 5 days``, ``3 hours ago``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

__all__ = ["SOON", "expiry_state", "relative", "utc"]

SOON = timedelta(days=7)  # an expiry this close is shown in the warning colour
_UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"))


def utc(moment: datetime | None) -> str:
    """``2026-01-05 12:00 UTC``, or an empty string for ``None``."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime | None, now: datetime) -> str:
    """``in 5 days`` or ``5 days ago`` (the largest whole unit, rounded to the nearest: a token
    made for 3 days a moment ago expires "in 3 days"); ``never`` for ``None``."""
    if moment is None:
        return "never"
    seconds = int((moment - now).total_seconds())
    amount = _amount(abs(seconds))
    if amount is None:
        return "in less than a minute" if seconds > 0 else "just now"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def _amount(seconds: int) -> str | None:
    for size, unit in _UNITS:
        if seconds >= size:
            count = (seconds + size // 2) // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return None


def expiry_state(expires_at: datetime | None, now: datetime) -> str:
    """``never``, ``expired``, ``soon`` (within :data:`SOON`) or ``later``: the CSS class of
    an expiry."""
    if expires_at is None:
        return "never"
    if expires_at <= now:
        return "expired"
    return "soon" if expires_at - now <= SOON else "later"
