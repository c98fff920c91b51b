"""Failure counting per key (client address, username) over a sliding window.

In-process: each node counts on its own, so N nodes allow up to N times the limit. That is
enough to make online guessing useless (tokens carry 256 random bits; the limit is for
passwords) and keeps the success path free of any shared write.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import timedelta

from tokenward.domain.clock import Clock
from tokenward.domain.errors import RateLimited

__all__ = ["FailureLimiter", "LoginLimits"]

_MAX_KEYS = 100_000  # bound memory under a flood of distinct keys


class FailureLimiter:
    """Allows ``limit`` failures per key in any ``window``; then refuses until one ages out."""

    def __init__(self, clock: Clock, limit: int, window: timedelta) -> None:
        self.clock = clock
        self.limit = limit
        self.window = window.total_seconds()
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        """Raise :class:`RateLimited` if ``key`` has used up its failures."""
        now = self.clock.now().timestamp()
        with self._lock:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                raise RateLimited(max(1, math.ceil(times[0] + self.window - now)))

    def over(self, key: str) -> bool:
        """Whether ``key`` has used up its failures (without counting anything)."""
        now = self.clock.now().timestamp()
        with self._lock:
            times = self._recent(key, now)
            return times is not None and len(times) >= self.limit

    def fail(self, key: str) -> None:
        """Record one failure for ``key``."""
        now = self.clock.now().timestamp()
        with self._lock:
            self._record(key, now)

    def take(self, key: str) -> None:
        """Count one attempt of ``key`` whatever its outcome (a limit on every attempt, such
        as leak reports), refusing with :class:`RateLimited` once the limit is used up. The
        check and the count are one step, so concurrent attempts cannot both slip through."""
        now = self.clock.now().timestamp()
        with self._lock:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                raise RateLimited(max(1, math.ceil(times[0] + self.window - now)))
            self._record(key, now)

    def _record(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            if len(self._failures) >= _MAX_KEYS:
                self._failures.pop(next(iter(self._failures)))
            times = self._failures[key] = deque()
        times.append(now)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        while times and times[0] <= now - self.window:
            times.popleft()
        return times


class LoginLimits:
    """Failed logins, limited so that a correct password is never refused by someone else.

    ``pairs`` counts failures per (username, client address) and refuses that pair with 429
    past its limit: a guesser is stopped, the owner logging in from elsewhere is not. ``names``
    counts failures per username from every address and never refuses: past its limit each
    attempt on that name first waits ``delay`` seconds, and then a correct password logs in as
    always (a distributed guesser is slowed, the owner only delayed)."""

    def __init__(self, pairs: FailureLimiter, names: FailureLimiter, delay: float) -> None:
        self.pairs = pairs
        self.names = names
        self.delay = delay

    def slowdown(self, name: str | None) -> float:
        """Seconds an attempt on ``name`` waits before its password is checked."""
        return self.delay if self.names.over(f"name:{name}") else 0.0

    def check(self, name: str | None, address: str | None) -> None:
        """Raise :class:`RateLimited` if this (name, address) pair has failed too often."""
        self.pairs.check(_pair(name, address))

    def fail(self, name: str | None, address: str | None) -> None:
        self.pairs.fail(_pair(name, address))
        self.names.fail(f"name:{name}")


def _pair(name: str | None, address: str | None) -> str:
    return f"pair:{name}@{address or 'unknown'}"
