"""Several nodes on one database: a revocation through one is refused by the others within the
bound, typically within milliseconds; a cache read before a revocation never outlives it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import redis

from backends import require_service
from tokenward.domain import tokens as token_format
from tokenward.domain.errors import InvalidToken
from tokenward.domain.model import Actor, NodeRecord
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.testing import make_token, make_user

BOUND = timedelta(seconds=1)
ADMIN = Actor("test")
REDIS_URL = "redis://127.0.0.1:6379/0"

Nodes = Callable[..., Runtime]


def _redis_reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["default bus", "redis bus"])
def node(request: pytest.FixtureRequest, database_url: str) -> Iterator[Nodes]:
    """``node()`` starts another node (runtime with a running follower) on the same database."""
    bus_url = None
    if request.param == "redis bus":
        require_service("Redis (127.0.0.1:6379)", _redis_reachable())
        bus_url = REDIS_URL
    started: list[Runtime] = []

    def start(follow: bool = True) -> Runtime:
        settings = Settings(database_url=database_url, max_staleness=BOUND, bus_url=bus_url)
        runtime = Runtime.build(settings, passwords=PasswordHasher.fast_for_tests())
        if follow:
            runtime.start()
            _wait(runtime.cache.is_fresh, "the node never became fresh")
        started.append(runtime)
        return runtime

    yield start
    for runtime in started:
        runtime.close()


def _wait(condition: Callable[[], bool], failure: str, limit: float = 5.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            pytest.fail(failure)
        time.sleep(0.001)
    return time.monotonic() - start


def _caught_up(*nodes: Runtime) -> None:
    """Wait until every node has applied the whole log (so a fill is not refused because an
    event it could not know of landed during its read)."""
    newest = nodes[0].store.max_seq()
    for node in nodes:
        _wait(_applied(node, newest), "a node did not catch up")


def _applied(node: Runtime, seq: int) -> Callable[[], bool]:
    return lambda: node.cache.applied_seq >= seq


def _refuses(runtime: Runtime, secret: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            runtime.verification.verify(secret)
        except InvalidToken:
            return True
        return False

    return check


def test_a_revocation_through_one_node_is_refused_by_the_others_within_milliseconds(
    node: Nodes,
) -> None:
    a, b, c = node(), node(), node()
    owner = make_user(a)
    created = make_token(a, owner)
    _caught_up(a, b, c)
    for other in (b, c):
        other.verification.verify(created.secret)  # now cached on b and c
        assert other.cache.get(created.record.digest) is not None
    a.tokens.revoke(created.record.id, by=ADMIN, owner_id=owner.id)
    for other in (b, c):
        took = _wait(_refuses(other, created.secret), "still accepted after 5 s")
        assert took < BOUND.total_seconds()
        assert took < 0.2  # pushed or polled: milliseconds, not the bound


def test_a_deactivation_evicts_every_cached_token_of_the_user(node: Nodes) -> None:
    a, b = node(), node()
    make_user(a, "root", is_admin=True)
    owner = make_user(a)
    secrets = [make_token(a, owner, f"t{i}").secret for i in range(3)]
    _caught_up(a, b)
    for secret in secrets:
        b.verification.verify(secret)
        assert b.cache.get(token_format.digest(secret)) is not None
    a.accounts.deactivate(owner.id, ADMIN)
    for secret in secrets:
        _wait(_refuses(b, secret), "a deactivated user's token is still accepted")


def test_a_node_that_cannot_confirm_freshness_stops_serving_from_its_cache(node: Nodes) -> None:
    a, b = node(), node()
    owner = make_user(a)
    created = make_token(a, owner)
    _caught_up(a, b)
    b.verification.verify(created.secret)
    assert b.cache.get(created.record.digest) is not None
    b.follower.stop()  # b can no longer learn of revocations
    confirmed = b.cache.confirmed_at
    assert confirmed is not None
    a.tokens.revoke(created.record.id, by=ADMIN, owner_id=owner.id)
    # Until the bound, b may still serve its cached entry; from the bound on it must ask the
    # store, which refuses.
    _wait(lambda: not b.cache.is_fresh(), "the cache stayed fresh without confirmations")
    assert time.monotonic() - confirmed >= BOUND.total_seconds()
    with pytest.raises(InvalidToken):
        b.verification.verify(created.secret)


def test_a_verify_that_read_before_a_revocation_does_not_put_the_token_back(
    node: Nodes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interleaving is forced: b's store read returns, then a revokes and b applies the
    revocation, then b's verify tries to fill its cache with what it read."""
    a, b = node(), node(follow=False)
    owner = make_user(a)
    created = make_token(a, owner)
    b.follower.catch_up()  # b is fresh, without a thread, so the test sets the order
    real_read = b.store.principal_by_digest

    def read_then_revocation_lands(digest: str) -> object:
        found = real_read(digest)
        a.tokens.revoke(created.record.id, by=ADMIN, owner_id=owner.id)
        b.follower.catch_up()
        return found

    monkeypatch.setattr(b.store, "principal_by_digest", read_then_revocation_lands)
    b.verification.verify(created.secret)  # in flight before the revocation: answered from its read
    monkeypatch.setattr(b.store, "principal_by_digest", real_read)
    assert b.cache.get(created.record.digest) is None
    with pytest.raises(InvalidToken) as caught:
        b.verification.verify(created.secret)
    assert caught.value.reason == "revoked"


def test_a_cached_token_is_still_checked_for_expiry_on_every_use(
    node: Nodes,
) -> None:
    a = node()
    owner = make_user(a)
    created = make_token(a, owner, expires_in_days=1)
    _caught_up(a)
    a.verification.verify(created.secret)
    assert a.cache.get(created.record.digest) is not None
    # No event marks an expiry: the cached entry itself must be checked against the clock.
    a.verification.clock = _Later(days=1)  # type: ignore[assignment]
    with pytest.raises(InvalidToken) as caught:
        a.verification.verify(created.secret)
    assert caught.value.reason == "expired"


class _Later:
    def __init__(self, **delta: float) -> None:
        from datetime import UTC, datetime

        self.moment = datetime.now(UTC) + timedelta(**delta)

    def now(self) -> object:
        return self.moment


def test_a_waiting_revocation_lists_every_live_node_that_applied_it(node: Nodes) -> None:
    a, b = node(), node()
    owner = make_user(a)
    created = make_token(a, owner)
    _wait(lambda: len(a.receipts.live_nodes()) == 2, "both nodes should report themselves")
    done = a.tokens.revoke(created.record.id, by=ADMIN, owner_id=owner.id)
    settled = a.receipts.wait_for(done.seq, done.effective_by)
    assert sorted(settled.confirmed) == sorted([a.receipts.node_id, b.receipts.node_id])
    assert settled.pending == []
    assert a.clock.now() < done.effective_by  # it did not need the whole bound


def test_a_stuck_node_is_reported_pending_until_it_stops_counting_as_live(node: Nodes) -> None:
    a, b = node(), node()
    owner = make_user(a)
    created = make_token(a, owner)
    _wait(lambda: len(a.receipts.live_nodes()) == 2, "both nodes should report themselves")
    b.follower.stop()  # b applies nothing more and stops reporting
    # Its last report, made just now: a loaded machine may have delayed its heartbeats, and a
    # node silent for the whole bound would rightly not be waited for at all.
    now = b.clock.now()
    b.store.report_node(NodeRecord(b.receipts.node_id, now, now, b.cache.applied_seq))
    done = a.tokens.revoke(created.record.id, by=ADMIN, owner_id=owner.id)
    settled = a.receipts.wait_for(done.seq, a.clock.now() + timedelta(milliseconds=300))
    assert settled.confirmed == [a.receipts.node_id]
    assert settled.pending == [b.receipts.node_id]
    # A node silent for max_staleness no longer serves from its cache, so it is not waited for.
    _wait(lambda: len(a.receipts.live_nodes()) == 1, "b should drop out", limit=3)
    assert a.receipts.wait_for(done.seq, done.effective_by).pending == []
