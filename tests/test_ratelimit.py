"""Failure limits: refuse after the limit, recover as failures age out, keys apart."""

from datetime import timedelta

import pytest

from tokenward.domain.errors import RateLimited
from tokenward.ratelimit import FailureLimiter
from tokenward.testing import FakeClock


def test_failures_up_to_the_limit_are_allowed_then_refused_with_retry_after() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock, limit=3, window=timedelta(minutes=1))
    for _ in range(3):
        limiter.check("ip:1")
        limiter.fail("ip:1")
        clock.advance(seconds=10)
    with pytest.raises(RateLimited) as caught:
        limiter.check("ip:1")
    assert caught.value.retry_after == 30  # the first failure ages out 60 s after it happened
    limiter.check("ip:2")  # other keys are not affected


def test_the_limit_recovers_once_the_window_has_passed() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock, limit=1, window=timedelta(minutes=1))
    limiter.fail("user:alice")
    with pytest.raises(RateLimited):
        limiter.check("user:alice")
    clock.advance(seconds=60)
    limiter.check("user:alice")


def test_checking_alone_never_counts() -> None:
    limiter = FailureLimiter(FakeClock(), limit=1, window=timedelta(minutes=1))
    for _ in range(100):
        limiter.check("ip:1")


def test_take_counts_every_attempt_and_refuses_past_the_limit_without_counting_it() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock, limit=2, window=timedelta(minutes=1))
    limiter.take("ip:1")
    clock.advance(seconds=20)
    limiter.take("ip:1")
    with pytest.raises(RateLimited) as caught:
        limiter.take("ip:1")
    assert caught.value.retry_after == 40  # the first attempt ages out 60 s after it was made
    clock.advance(seconds=40)
    limiter.take("ip:1")  # the refused attempt was not counted: one slot is free again
    with pytest.raises(RateLimited):
        limiter.take("ip:1")
