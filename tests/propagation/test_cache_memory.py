"""Memory per cached token: entries of one owner share its record and their scope sets, and
the hot path's memo keeps bodies of their own size. (bench/scale.py measures the RSS.)"""

from __future__ import annotations

import dataclasses
import tracemalloc
from datetime import UTC, datetime, timedelta

from tokenward.domain.model import Principal, TokenRecord, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind
from tokenward.http.views import Renderings
from tokenward.propagation.cache import FreshCache

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _read(n: int) -> Principal:
    """A principal as a store read makes it: every value a new object."""
    user = UserRecord(
        "usr_" + "a" * 8, "alice", "$argon2id$" + "x" * 80, False, UserStatus.ACTIVE, NOW
    )
    scopes = tuple(f"tokens:{verb}" for verb in ("read", "write"))
    token = TokenRecord(
        f"tok_{n:08d}", TokenKind.USER, "usr_" + "a" * 8, "usr_" + "b" * 8, f"label {n}", scopes,
        NOW + timedelta(seconds=n), None, f"{n:064d}", f"twu_…{n:04d}",
        last_used_from=".".join(("10", "0", "0", "1")),
    )  # fmt: skip
    return Principal(user, token=token)


def _fresh_cache() -> FreshCache:
    cache = FreshCache(60.0, capacity=100)
    cache.apply([], read_started=cache.monotonic())
    return cache


def test_entries_of_one_owner_share_its_record_and_their_scopes() -> None:
    cache = _fresh_cache()
    for n in range(3):
        assert cache.fill(f"{n:064d}", _read(n), cache.generation)
    first, *others = (cache.get(f"{n:064d}") for n in range(3))
    assert first is not None and first.token is not None
    for other in others:
        assert other is not None and other.token is not None
        assert other.user is first.user
        assert other.token.scopes is first.token.scopes
        assert other.token.user_id is first.user.id
        assert other.token.created_by is first.token.created_by
        assert other.token.last_used_from is first.token.last_used_from


def test_a_shared_entry_equals_what_was_read() -> None:
    cache = _fresh_cache()
    read = [_read(n) for n in range(2)]
    for n, principal in enumerate(read):
        cache.fill(f"{n:064d}", principal, cache.generation)
    assert [cache.get(f"{n:064d}") for n in range(2)] == read


def test_a_changed_owner_record_is_not_replaced_by_the_cached_one() -> None:
    cache = _fresh_cache()
    cache.fill(f"{0:064d}", _read(0), cache.generation)
    changed = _read(1)
    admin = Principal(dataclasses.replace(changed.user, is_admin=True), token=changed.token)
    cache.fill(f"{1:064d}", admin, cache.generation)
    found = cache.get(f"{1:064d}")
    assert found is not None and found.user.is_admin


def test_a_memoised_body_costs_its_size_not_the_serialiser_buffer() -> None:
    principals = [_read(n) for n in range(1000)]
    renderings = Renderings(capacity=2000)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for principal in principals:
        renderings.self_body(principal)
    per_entry = (tracemalloc.get_traced_memory()[0] - before) / len(principals)
    tracemalloc.stop()
    assert per_entry < 1024


def _owned_by(n: int) -> Principal:
    """Token ``n`` of its own user, as most users hold one or two."""
    read = _read(n)
    assert read.token is not None
    user = dataclasses.replace(read.user, id=f"usr_{n:08d}", username=f"user{n}")
    return Principal(user, token=dataclasses.replace(read.token, user_id=user.id))


def test_an_owner_with_one_cached_token_costs_no_set() -> None:
    """The user index keeps a lone digest as itself: a set per user (216 bytes even for one
    element) was a fifth of what a cached token cost where users hold one token each."""
    principals = [_owned_by(n) for n in range(2000)]
    cache = FreshCache(60.0, capacity=10_000)
    cache.apply([], read_started=cache.monotonic())
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n, principal in enumerate(principals):
        cache.fill(f"{n:064d}", principal, cache.generation)
    per_entry = (tracemalloc.get_traced_memory()[0] - before) / len(principals)
    tracemalloc.stop()
    assert len(cache) == 2000
    # Measured: 474 B (the entry's own record and principal, its place in the cache and in
    # the user index); with a set per user, 690 B.
    assert per_entry < 560, per_entry
