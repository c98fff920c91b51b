"""The verified-token cache: served only while fresh, evicted by events, never resurrected."""

from __future__ import annotations

from datetime import UTC, datetime

from tokenward.domain.model import Event, Principal, TokenRecord, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind
from tokenward.propagation.cache import FreshCache

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


def _principal(user_id: str = "usr_a", token_id: str = "tok_1") -> Principal:
    user = UserRecord(user_id, user_id, "h", False, UserStatus.ACTIVE, NOW)
    token = TokenRecord(token_id, TokenKind.USER, user_id, "t", "l", (), NOW, None, "d", "h")
    return Principal(user, token=token)


def _cache(capacity: int = 10) -> tuple[FreshCache, Monotonic]:
    clock = Monotonic()
    return FreshCache(1.0, capacity, clock), clock


def _revoked(digest: str, seq: int) -> Event:
    return Event("token.revoked", NOW, "a", "tok", details={"digests": [digest]}, seq=seq)


def test_nothing_is_served_before_the_first_confirmation() -> None:
    cache, _ = _cache()
    assert not cache.fill("d1", _principal(), cache.generation)
    assert cache.get("d1") is None


def test_entries_are_served_only_while_the_last_confirmation_is_younger_than_the_bound() -> None:
    cache, clock = _cache()
    cache.apply([], clock())
    assert cache.fill("d1", _principal(), cache.generation)
    clock.value += 0.999
    assert cache.get("d1") is not None
    clock.value += 0.001
    assert cache.get("d1") is None and not cache.is_fresh()
    cache.apply([], clock())  # a later confirmation makes it servable again
    assert cache.get("d1") is not None


def test_a_revocation_event_evicts_the_token_and_a_user_event_every_token_of_the_user() -> None:
    cache, clock = _cache()
    cache.apply([], clock())
    g = cache.generation
    for digest, user in (("d1", "usr_a"), ("d2", "usr_a"), ("d3", "usr_b")):
        assert cache.fill(digest, _principal(user), g)
    cache.apply([_revoked("d1", 1)], clock())
    assert cache.get("d1") is None and cache.get("d2") is not None
    cache.apply([Event("user.deactivated", NOW, "a", "usr_a", seq=2)], clock())
    assert cache.get("d2") is None and cache.get("d3") is not None
    assert cache.applied_seq == 2


def test_a_user_event_evicts_every_token_of_the_user_however_its_tokens_came_and_went() -> None:
    """The user index holds a lone digest as itself and a set from the second on: whatever the
    order of fills and revocations, a user event finds every token left, and nothing stays."""
    cache, clock = _cache()
    cache.apply([], clock())
    g = cache.generation
    for digest, user in (("d1", "usr_a"), ("d2", "usr_a"), ("d3", "usr_a"), ("d4", "usr_b")):
        assert cache.fill(digest, _principal(user), g)
    assert cache.fill("d4", _principal("usr_b"), g)  # the same token again: still one
    for digest, user in (("d5", "usr_c"), ("d6", "usr_c")):
        assert cache.fill(digest, _principal(user), g)
    cache.apply([_revoked("d2", 1), _revoked("d5", 2), _revoked("d6", 3)], clock())
    g = cache.generation
    assert cache.fill("d7", _principal("usr_c"), g)  # after its others went
    users = ("usr_a", "usr_b", "usr_c")
    cache.apply(
        [Event("user.deactivated", NOW, "a", u, seq=4 + n) for n, u in enumerate(users)], clock()
    )
    assert [cache.get(d) for d in ("d1", "d3", "d4", "d7")] == [None] * 4
    assert len(cache) == 0
    assert cache._by_user == {}  # no index left behind


def test_a_fill_read_before_an_applied_event_is_dropped() -> None:
    """The interleaving that would resurrect a revoked token: read, revocation applied, fill."""
    cache, clock = _cache()
    cache.apply([], clock())
    generation = cache.generation  # a verify starts its store read here
    cache.apply([_revoked("d1", 1)], clock())  # the revocation is applied meanwhile
    assert not cache.fill("d1", _principal(), generation)  # the stale read is not cached
    assert cache.get("d1") is None


def test_the_cache_is_bounded_and_drops_the_least_recently_used() -> None:
    cache, clock = _cache(capacity=2)
    cache.apply([], clock())
    g = cache.generation
    cache.fill("d1", _principal(), g)
    cache.fill("d2", _principal(), g)
    assert cache.get("d1") is not None  # d1 is now the most recently used
    cache.fill("d3", _principal(), g)
    assert len(cache) == 2
    assert cache.get("d2") is None and cache.get("d1") is not None


def test_lag_reports_seconds_since_the_last_confirmation() -> None:
    cache, clock = _cache()
    assert cache.lag() is None
    cache.apply([], clock())
    clock.value += 0.25
    assert cache.lag() == 0.25


def test_listeners_hear_of_newly_applied_events_only_until_they_stop_listening() -> None:
    cache, clock = _cache()
    heard: list[int] = []

    def listener() -> None:
        heard.append(cache.applied_seq)

    cache.listen(listener)
    cache.apply([], clock())  # a confirmation with nothing new: nothing to hear
    cache.apply([_revoked("d1", 5)], clock())
    cache.apply([_revoked("d1", 5)], clock())  # read again: not new
    cache.apply([_revoked("d2", 7)], None)
    cache.unlisten(listener)
    cache.apply([_revoked("d3", 9)], clock())
    assert heard == [5, 7]
