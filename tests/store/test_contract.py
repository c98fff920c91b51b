"""One contract for every Store implementation: memory, SQLite and PostgreSQL (the ``store``
fixture of this folder)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokenward.domain.errors import Conflict
from tokenward.domain.model import (
    Event,
    TokenRecord,
    TokenStatus,
    UserRecord,
    UserStatus,
)
from tokenward.domain.tokens import TokenKind, digest, generate, new_id
from tokenward.store import Store, TokenQuery

NOW = datetime(2026, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _user(name: str = "alice") -> UserRecord:
    return UserRecord(new_id("usr"), name, "hash", False, UserStatus.ACTIVE, NOW)


def _token(owner: UserRecord, created_at: datetime = NOW, **kw: object) -> TokenRecord:
    secret = generate(TokenKind.USER)
    values: dict[str, object] = {
        "id": new_id("tok"),
        "kind": TokenKind.USER,
        "user_id": owner.id,
        "created_by": "test",
        "label": "label",
        "scopes": ("read", "tokens:read"),
        "created_at": created_at,
        "expires_at": created_at + timedelta(days=30),
        "digest": digest(secret),
        "hint": secret[:8] + "…",
    }
    values.update(kw)
    return TokenRecord(**values)  # type: ignore[arg-type]


def _add(store: Store, *records: UserRecord | TokenRecord) -> None:
    with store.transaction() as tx:
        for record in records:
            if isinstance(record, UserRecord):
                tx.users.add(record)
            else:
                tx.tokens.add(record)


def test_users_round_trip_by_id_and_name(store: Store) -> None:
    alice = _user()
    _add(store, alice)
    with store.transaction() as tx:
        assert tx.users.by_id(alice.id) == alice
        assert tx.users.by_name("alice") == alice
        assert tx.users.by_name("bob") is None
        assert tx.users.count() == 1


def test_a_taken_username_is_a_conflict_and_changes_nothing(store: Store) -> None:
    _add(store, _user())
    with pytest.raises(Conflict), store.transaction() as tx:
        tx.users.add(_user())
    with store.transaction() as tx:
        assert tx.users.count() == 1


def test_a_failed_transaction_leaves_no_partial_write(store: Store) -> None:
    alice = _user()
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.users.add(alice)
        tx.events.append(Event("user.created", NOW, "test", alice.id))
        raise RuntimeError("boom")
    with store.transaction() as tx:
        assert tx.users.by_id(alice.id) is None
    assert store.events_after(0) == []


def test_tokens_round_trip_with_aware_times_to_the_microsecond(store: Store) -> None:
    alice = _user()
    token = _token(alice)
    _add(store, alice, token)
    with store.transaction() as tx:
        assert tx.tokens.by_id(token.id) == token
    found = store.principal_by_digest(token.digest)
    assert found == (token, alice)
    assert found[0].created_at.tzinfo is not None
    assert store.principal_by_digest("f" * 64) is None


def test_a_duplicate_digest_is_refused(store: Store) -> None:
    alice = _user()
    first = _token(alice)
    _add(store, alice, first)
    with pytest.raises(Conflict) as refused:
        _add(store, _token(alice, digest=first.digest))
    # Nor does the refusal, or the database error it came from, quote the values written.
    error: BaseException | None = refused.value
    while error is not None:
        assert first.digest not in str(error)
        # As a traceback prints it: the cause, else the context unless it was suppressed.
        error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)


def test_listing_is_newest_first_and_pages_by_cursor(store: Store) -> None:
    alice, bob = _user(), _user("bob")
    mine = [_token(alice, NOW + timedelta(minutes=i)) for i in range(5)]
    _add(store, alice, bob, *mine, _token(bob))
    with store.transaction() as tx:
        first = tx.tokens.list(TokenQuery(alice.id, NOW, limit=2))
        last = first[-1]
        rest = tx.tokens.list(TokenQuery(alice.id, NOW, before=(last.created_at, last.id)))
    assert [t.id for t in first + rest] == [t.id for t in reversed(mine)]


def test_listing_filters_by_derived_status(store: Store) -> None:
    alice = _user()
    active = _token(alice)
    expired = _token(alice, NOW - timedelta(days=1), expires_at=NOW - timedelta(seconds=1))
    revoked = _token(alice, revoked_at=NOW, revoked_by="test", revoke_reason="owner")
    forever = _token(alice, expires_at=None)
    _add(store, alice, active, expired, revoked, forever)
    with store.transaction() as tx:
        by_status = {
            status: {t.id for t in tx.tokens.list(TokenQuery(alice.id, NOW, status))}
            for status in TokenStatus
        }
    assert by_status[TokenStatus.ACTIVE] == {active.id, forever.id}
    assert by_status[TokenStatus.EXPIRED] == {expired.id}
    assert by_status[TokenStatus.REVOKED] == {revoked.id}


def test_expired_pages_hold_every_expired_token_newest_first_whatever_the_lifetimes(
    store: Store,
) -> None:
    """Lifetimes from an hour to a year, so that the order of expiry is not the order of
    creation: paged three at a time, the expired list is exactly the expired tokens, newest
    first (the SQL stores read only the tokens that expired since a bound; see
    ``store/sql/token_lists.py``)."""
    alice = _user()
    lifetimes = [timedelta(hours=1), timedelta(days=400), timedelta(days=3), timedelta(days=90)]
    made = []
    for n in range(40):
        created = NOW - timedelta(days=7 * n)
        made.append(_token(alice, created, expires_at=created + lifetimes[n % len(lifetimes)]))
    _add(store, alice, *made)
    newest_first = sorted(made, key=lambda t: t.created_at, reverse=True)
    expected = [t.id for t in newest_first if t.status(NOW) is TokenStatus.EXPIRED]
    assert 20 < len(expected) < 40
    seen: list[str] = []
    before = None
    while True:
        query = TokenQuery(None, NOW, TokenStatus.EXPIRED, before, limit=3)
        with store.transaction() as tx:
            page = tx.tokens.list(query)
        seen += [t.id for t in page]
        if len(page) < query.limit:
            break
        before = (page[-1].created_at, page[-1].id)
    assert seen == expected


def test_a_token_that_would_expire_before_it_was_made_is_refused(store: Store) -> None:
    alice = _user()
    _add(store, alice)
    backwards = _token(alice, expires_at=NOW - timedelta(seconds=1))
    with pytest.raises(ValueError, match="expire before it was made"):
        _add(store, backwards)
    with store.transaction() as tx:
        assert tx.tokens.by_id(backwards.id) is None  # nothing stored


def test_revocation_keeps_the_first_time_and_actor(store: Store) -> None:
    alice = _user()
    token = _token(alice)
    _add(store, alice, token)
    with store.transaction() as tx:
        tx.tokens.revoke(token.id, NOW, "first", "owner")
        tx.tokens.revoke(token.id, NOW + timedelta(hours=1), "second", "admin")
    with store.transaction() as tx:
        stored = tx.tokens.by_id(token.id)
    assert stored is not None
    assert (stored.revoked_at, stored.revoked_by, stored.revoke_reason) == (NOW, "first", "owner")


def test_events_get_increasing_seq_and_read_back_in_order(store: Store) -> None:
    with store.transaction() as tx:
        seqs = [
            tx.events.append(Event(f"t.{i}", NOW, "actor", "subj", "127.0.0.1", {"i": i}))
            for i in range(5)
        ]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    after = store.events_after(seqs[1], limit=2)
    assert [e.seq for e in after] == seqs[2:4]
    assert [e.details for e in after] == [{"i": 2}, {"i": 3}]
    assert after[0].at == NOW and after[0].ip == "127.0.0.1"


def test_ping_succeeds_on_a_reachable_store(store: Store) -> None:
    store.ping()


def test_sessions_round_trip_and_end(store: Store) -> None:
    from tokenward.domain.model import SessionRecord

    alice = _user()
    live = SessionRecord(new_id("ses"), alice.id, "a" * 64, NOW, NOW + timedelta(hours=1))
    old = SessionRecord(new_id("ses"), alice.id, "b" * 64, NOW, NOW - timedelta(seconds=1))
    _add(store, alice)
    with store.transaction() as tx:
        tx.sessions.add(live)
        tx.sessions.add(old)
    assert store.session_by_digest("a" * 64) == (live, alice)
    with store.transaction() as tx:
        assert tx.sessions.live_of(alice.id, NOW) == [live]
        tx.sessions.end(live.id, NOW)
        tx.sessions.end(live.id, NOW + timedelta(minutes=1))  # the first end is kept
        assert tx.sessions.live_of(alice.id, NOW) == []
    ended = store.session_by_digest("a" * 64)
    assert ended is not None and ended[0].revoked_at == NOW


def test_users_list_by_name_with_active_token_counts(store: Store) -> None:
    bob, alice = _user("bob"), _user("alice")
    expired = _token(alice, NOW - timedelta(days=2), expires_at=NOW - timedelta(days=1))
    _add(store, bob, alice, _token(alice), _token(alice), expired)
    with store.transaction() as tx:
        listed = [(u.username, n) for u, n in tx.users.list(NOW)]
        tx.users.set_status(bob.id, UserStatus.DEACTIVATED)
        assert tx.users.by_id(bob.id).status is UserStatus.DEACTIVATED  # type: ignore[union-attr]
    assert listed == [("alice", 2), ("bob", 0)]


def test_active_admins_are_counted(store: Store) -> None:
    admin = UserRecord(new_id("usr"), "root", "h", True, UserStatus.ACTIVE, NOW)
    gone = UserRecord(new_id("usr"), "old", "h", True, UserStatus.DEACTIVATED, NOW)
    _add(store, admin, gone, _user())
    with store.transaction() as tx:
        assert tx.users.count_active_admins() == 1


def test_the_policy_document_is_stored_and_replaced(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.policy.load() is None
        tx.policy.save({"a": 1}, NOW)
        tx.policy.save({"a": 2}, NOW)
    with store.transaction() as tx:
        assert tx.policy.load() == {"a": 2}


def test_events_filter_by_type_subject_and_actor(store: Store) -> None:
    from tokenward.store.base import EventQuery

    with store.transaction() as tx:
        for kind, subject, actor in [("a", "s1", "x"), ("b", "s1", "y"), ("a", "s2", "y")]:
            tx.events.append(
                Event(kind, NOW, actor, subject, None, {}, user_agent="ua", outcome="denied")
            )
        assert [e.subject for e in tx.events.query(EventQuery(type="a"))] == ["s1", "s2"]
        assert [e.type for e in tx.events.query(EventQuery(subject="s1"))] == ["a", "b"]
        (only,) = tx.events.query(EventQuery(actor="y", type="a"))
        assert (only.user_agent, only.outcome) == ("ua", "denied")
        assert len(tx.events.query(EventQuery(after=1))) == 2
