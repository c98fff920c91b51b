"""Memory per cached token: entries are packed into tuples the cycle collector does not track,
entries of one owner share its values and their scope sets, and the hot path's memo keeps bodies
of their own size. (bench/scale.py measures the RSS.)"""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc
from datetime import UTC, datetime, timedelta, timezone

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


def _fresh_cache(capacity: int = 100, hot: int = 0) -> FreshCache:
    """A confirmed cache; with ``hot=0`` every hit is rebuilt from the packed entry."""
    cache = FreshCache(60.0, capacity=capacity, hot=hot)
    cache.apply([], read_started=cache.monotonic())
    return cache


def test_entries_of_one_owner_share_its_values_and_their_scopes() -> None:
    cache = _fresh_cache()
    for n in range(3):
        assert cache.fill(f"{n:064d}", _read(n), cache.generation)
    first, *others = (cache.get(f"{n:064d}") for n in range(3))
    assert first is not None and first.token is not None
    for other in others:
        assert other is not None and other.token is not None
        assert other.user.password_hash is first.user.password_hash
        assert other.token.scopes is first.token.scopes
        assert other.token.user_id is first.user.id
        assert other.token.created_by is first.token.created_by
        assert other.token.last_used_from is first.token.last_used_from


def _rotated(n: int) -> Principal:
    """A token rotated away, in its grace: the fields most entries leave unset."""
    read = _read(n)
    assert read.token is not None
    token = dataclasses.replace(
        read.token,
        last_used_at=NOW,
        rotated_to="tok_next",
        rotated_at=NOW,
        grace_seconds=60,
        grace_started_at=NOW,
        grace_until=NOW + timedelta(seconds=60),
    )
    return Principal(read.user, token=token)


def test_a_packed_entry_equals_what_was_read() -> None:
    cache = _fresh_cache()
    admin = _read(2)
    assert admin.token is not None
    admin = Principal(
        dataclasses.replace(admin.user, is_admin=True, email="a@example.test"),
        token=dataclasses.replace(
            admin.token,
            kind=TokenKind.ADMIN,
            label="clé ✓ 🔑",  # kept as UTF-8
            created_at=datetime(2025, 6, 1, 14, 0, 0, 1, tzinfo=timezone(timedelta(hours=2))),
            expires_at=NOW + timedelta(microseconds=999_999),  # kept as microseconds
        ),
    )
    read = [_read(0), _rotated(1), admin]
    for n, principal in enumerate(read):
        cache.fill(f"{n:064d}", principal, cache.generation)
    got = [cache.get(f"{n:064d}") for n in range(3)]
    assert got == read
    assert got[2] is not None and got[2].token is not None
    assert got[2].token.created_at.utcoffset() == timedelta(hours=2)  # its zone kept
    assert got[2].token.expires_at is not None and got[2].token.expires_at.tzinfo is UTC


def test_a_hit_on_a_hot_entry_returns_the_same_object_and_the_hot_set_is_bounded() -> None:
    """What the hot path memoises per principal object (its /v1/self body, its expiry header)
    holds while a token stays among the most recently used."""
    cache = _fresh_cache(hot=2)
    read = [_read(n) for n in range(3)]
    for n, principal in enumerate(read):
        assert cache.fill(f"{n:064d}", principal, cache.generation) is principal
    assert cache.get(f"{2:064d}") is read[2]
    assert cache.get(f"{2:064d}") is read[2]
    rebuilt = cache.get(f"{0:064d}")  # no longer hot: built again from its packed values
    assert rebuilt == read[0] and rebuilt is not read[0]
    assert cache.get(f"{0:064d}") is rebuilt  # and hot again


def test_the_cycle_collector_tracks_nothing_per_cached_token_past_the_hot_set() -> None:
    """A full collection walks every tracked object: a million cached records and principals
    held a node for most of a second (lookups then outlived the bound: 503s). Packed entries
    are plain tuples, which the collector stops tracking."""
    cache = _fresh_cache(capacity=10_000, hot=100)
    gc.collect()
    before = len(gc.get_objects())
    for n in range(3000):
        cache.fill(f"{n:064d}", _owned_by(n), cache.generation)
    # A tuple is untracked when a collection finds nothing tracked in it: one holding a
    # tuple found later in that pass (its owner's) is untracked by the next.
    gc.collect()
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert len(cache) == 3000
    # The hot set's 100 principals (principal, token and owner each) and a few of the cache's
    # own; every entry tracked, as before, was 9,000.
    assert grown < 100 * 3 + 100, grown


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
    principals = [_owned_by(n) for n in range(20_000)]  # enough to outweigh free lists
    cache = _fresh_cache(capacity=20_000)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for n, principal in enumerate(principals):
        cache.fill(f"{n:064d}", principal, cache.generation)
    per_entry = (tracemalloc.get_traced_memory()[0] - before) / len(principals)
    tracemalloc.stop()
    assert len(cache) == 20_000
    # Measured: 435 B (the packed token and owner, its place in the cache and in the user
    # index; the strings are the read's own); with a set per user, about 650 B.
    assert per_entry < 560, per_entry
