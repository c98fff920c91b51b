"""Failure limits shared by every node through Redis (``TOKENWARD_BUS_URL``).

Each key is a sorted set of failure times in Redis, trimmed to the window; one Lua script
trims, counts and records, so concurrent nodes cannot both slip past the limit. If Redis does
not answer, the node counts on its own (the in-process limiter) until it does again: a
limit is there to slow guessers, and an unreachable Redis must not refuse the honest.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections.abc import Callable
from datetime import timedelta

import redis

from tokenward.domain.clock import Clock
from tokenward.domain.errors import RateLimited
from tokenward.ratelimit import FailureLimiter

__all__ = ["RedisFailureLimiter"]

log = logging.getLogger("tokenward.ratelimit")
_PREFIX = "tokenward:limit:"
# KEYS[1]: the key; ARGV: now, window (s), limit, mode (check | take | fail), member.
# Returns {count before this call, time of the oldest failure in the window}.
_SCRIPT = """
local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2] or ARGV[1]
local full = count >= limit
if ARGV[4] ~= 'check' and not full then
  redis.call('ZADD', KEYS[1], now, ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
end
return {count, oldest}
"""


class RedisFailureLimiter(FailureLimiter):
    """:class:`FailureLimiter` with its counts in Redis under ``name`` (one per limit), so
    that N nodes allow the limit, not N times it. A full key records no more failures: its
    memory is bounded by the limit."""

    def __init__(
        self, client: redis.Redis, name: str, clock: Clock, limit: int, window: timedelta
    ) -> None:
        super().__init__(clock, limit, window)
        self.client = client
        self.name = name
        self._script = client.register_script(_SCRIPT)
        self._failing = False

    def check(self, key: str) -> None:
        self._shared("check", key, super().check)

    def take(self, key: str) -> None:
        self._shared("take", key, super().take)

    def fail(self, key: str) -> None:
        self._shared("fail", key, super().fail)

    def over(self, key: str) -> bool:
        found = self._run("check", key)
        return super().over(key) if found is None else found[0] >= self.limit

    def _shared(self, mode: str, key: str, local: Callable[[str], None]) -> None:
        """``mode`` in Redis, raising :class:`RateLimited` when the key is full (``check``,
        ``take``); ``local`` instead while Redis does not answer."""
        found = self._run(mode, key)
        if found is None:
            local(key)
            return
        count, oldest = found
        if mode != "fail" and count >= self.limit:
            now = self.clock.now().timestamp()
            raise RateLimited(max(1, math.ceil(oldest + self.window - now)))

    def _run(self, mode: str, key: str) -> tuple[int, float] | None:
        now = self.clock.now().timestamp()
        args: list[str | float] = [
            now,
            self.window,
            self.limit,
            mode,
            f"{now}:{secrets.token_hex(4)}",
        ]
        try:
            count, oldest = self._script(keys=[_redis_key(self.name, key)], args=args)
        except redis.RedisError as error:
            if not self._failing:
                log.warning("failure limits: Redis unavailable (%s); counting on this node", error)
            self._failing = True
            return None
        if self._failing:
            log.info("failure limits: Redis answers again; counting across nodes")
        self._failing = False
        return int(count), float(oldest)


def _redis_key(limiter: str, key: str) -> str:
    """The Redis key of ``key``: its SHA-256, so the usernames and addresses the limits count
    (a password typed as a username among them) never sit in clear in a Redis every node reads."""
    return f"{_PREFIX}{limiter}:{hashlib.sha256(key.encode()).hexdigest()}"
