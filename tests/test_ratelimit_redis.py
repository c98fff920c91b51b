"""Failure limits shared by the nodes through a real Redis (127.0.0.1:6379), and counted on
each node alone while Redis does not answer."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis

from backends import require_service
from tokenward.domain.errors import LoginFailed, RateLimited
from tokenward.domain.model import Actor
from tokenward.passwords import PasswordHasher
from tokenward.ratelimit_redis import RedisFailureLimiter
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import DEFAULT_PASSWORD, FakeClock, make_user

REDIS_URL = "redis://127.0.0.1:6379/0"
MINUTE = timedelta(minutes=1)


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    found = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        reachable = bool(found.ping())
    except redis.RedisError:
        reachable = False
    require_service("Redis (127.0.0.1:6379)", reachable)
    yield found
    found.close()


def _name() -> str:
    return f"test-{secrets.token_hex(4)}"  # keys of this test's own in the shared Redis


def test_two_nodes_share_one_count(client: redis.Redis) -> None:
    clock, name = FakeClock(), _name()
    first, second = (RedisFailureLimiter(client, name, clock, 3, MINUTE) for _ in range(2))
    first.fail("ip:198.51.100.1")
    second.fail("ip:198.51.100.1")
    assert not first.over("ip:198.51.100.1")
    first.fail("ip:198.51.100.1")
    with pytest.raises(RateLimited) as caught:
        second.check("ip:198.51.100.1")
    assert 0 < caught.value.retry_after <= 60
    assert second.over("ip:198.51.100.1") and not second.over("ip:198.51.100.2")
    clock.advance(seconds=61)
    second.check("ip:198.51.100.1")  # the window passed on every node


def test_take_counts_and_refuses_in_one_step_across_nodes(client: redis.Redis) -> None:
    clock, name = FakeClock(), _name()
    first, second = (RedisFailureLimiter(client, name, clock, 2, MINUTE) for _ in range(2))
    first.take("ip:1")
    second.take("ip:1")
    with pytest.raises(RateLimited):
        first.take("ip:1")
    key = f"tokenward:limit:{name}:{hashlib.sha256(b'ip:1').hexdigest()}"
    assert client.zcard(key) == 2  # a full key records no more


def test_while_redis_does_not_answer_each_node_counts_on_its_own() -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    limiter = RedisFailureLimiter(dead, _name(), FakeClock(), 2, MINUTE)
    limiter.fail("ip:1")
    limiter.fail("ip:1")
    with pytest.raises(RateLimited):
        limiter.check("ip:1")
    assert limiter.over("ip:1")


def test_with_a_redis_bus_a_login_guesser_is_refused_on_every_node(
    client: redis.Redis, database_url: str
) -> None:
    """The (name, address) count and the per-name slow-down hold across two runtimes, each
    with its own connection to one database; no username sits in Redis in clear."""
    clock = FakeClock()
    settings = Settings(database_url=database_url, bus_url=REDIS_URL, failed_logins_per_minute=2)
    fast = PasswordHasher.fast_for_tests()
    nodes = [
        Runtime.build(settings, store=SqlStore(database_url), clock=clock, passwords=fast)
        for _ in range(2)
    ]
    try:
        nodes[0].migrate()
        username = f"u{secrets.token_hex(4)}"
        make_user(nodes[0], username)
        guesser = Actor("anonymous", "203.0.113.66", "pytest")
        for node in nodes:
            with pytest.raises(LoginFailed):
                node.sessions.login(username, "wrong password!", guesser)
        with pytest.raises(RateLimited):
            nodes[1].sessions.login(username, DEFAULT_PASSWORD, guesser)
        assert nodes[0].sessions.slowdown(username) == 1.0
        owner = Actor("anonymous", "192.0.2.10", "pytest")
        assert nodes[1].sessions.login(username, DEFAULT_PASSWORD, owner).session.user_id
        assert not [
            key for key in client.scan_iter("tokenward:limit:*") if username.encode() in key
        ]
    finally:
        for node in nodes:
            node.close()
