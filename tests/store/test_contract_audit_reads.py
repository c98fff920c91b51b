"""The store contract for reading the audit log as a person does: newest first, paged by
``seq`` both ways, by date, and the tokens, sessions and users it names read in batches —
memory, SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokenward.domain.model import Event, SessionRecord, TokenRecord, UserRecord, UserStatus
from tokenward.domain.tokens import TokenKind, digest, generate, new_id
from tokenward.store import Store
from tokenward.store.base import EventQuery

DAY1 = datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)
DAY2 = datetime(2026, 6, 2, tzinfo=UTC)


def _log(store: Store) -> list[int]:
    """Six events: types a/b alternating, actors x/y, the first three on day 1, then day 2."""
    with store.transaction() as tx:
        return [
            tx.events.append(
                Event("a" if n % 2 == 0 else "b", DAY1 if n < 3 else DAY2, "xy"[n % 2], f"s{n}")
            )
            for n in range(6)
        ]


def _seqs(store: Store, query: EventQuery) -> list[int]:
    with store.transaction() as tx:
        return [event.seq or 0 for event in tx.events.query(query)]


def test_events_read_newest_first_and_page_back_with_before(store: Store) -> None:
    seqs = _log(store)
    assert _seqs(store, EventQuery(newest_first=True, limit=4)) == seqs[::-1][:4]
    assert _seqs(store, EventQuery(newest_first=True, before=seqs[2])) == seqs[1::-1]
    assert _seqs(store, EventQuery(newest_first=True, before=seqs[0])) == []


def test_before_and_after_bound_a_slice_in_either_order(store: Store) -> None:
    seqs = _log(store)
    window = EventQuery(after=seqs[0], before=seqs[4])
    assert _seqs(store, window) == seqs[1:4]
    newest = EventQuery(after=seqs[0], before=seqs[4], newest_first=True, limit=2)
    assert _seqs(store, newest) == [seqs[3], seqs[2]]


def test_newest_first_keeps_the_filters(store: Store) -> None:
    seqs = _log(store)
    only_a = EventQuery(type="a", newest_first=True)
    assert _seqs(store, only_a) == [seqs[4], seqs[2], seqs[0]]
    by_y = EventQuery(actor="y", newest_first=True, before=seqs[5])
    assert _seqs(store, by_y) == [seqs[3], seqs[1]]


def test_a_date_range_is_since_inclusive_and_until_exclusive(store: Store) -> None:
    seqs = _log(store)
    assert _seqs(store, EventQuery(since=DAY2)) == seqs[3:]
    assert _seqs(store, EventQuery(until=DAY2)) == seqs[:3]
    assert _seqs(store, EventQuery(since=DAY1, until=DAY2, type="b")) == [seqs[1]]
    assert _seqs(store, EventQuery(since=DAY2 + timedelta(days=1))) == []


def test_the_default_order_is_still_oldest_first(store: Store) -> None:
    seqs = _log(store)
    assert _seqs(store, EventQuery()) == seqs
    assert _seqs(store, EventQuery(after=seqs[3])) == seqs[4:]


def _named(store: Store) -> tuple[UserRecord, TokenRecord, SessionRecord]:
    alice = UserRecord(new_id("usr"), "alice", "hash", False, UserStatus.ACTIVE, DAY1)
    secret = generate(TokenKind.USER)
    token = TokenRecord(
        id=new_id("tok"),
        kind=TokenKind.USER,
        user_id=alice.id,
        created_by="test",
        label="ci deploy",
        scopes=("read",),
        created_at=DAY1,
        expires_at=DAY2,
        digest=digest(secret),
        hint=secret[:8] + "…",
    )
    session = SessionRecord(new_id("ses"), alice.id, "c" * 64, DAY1, DAY2)
    with store.transaction() as tx:
        tx.users.add(alice)
        tx.tokens.add(token)
        tx.sessions.add(session)
    return alice, token, session


def test_tokens_sessions_and_users_are_read_by_ids_leaving_out_unknown_ones(
    store: Store,
) -> None:
    alice, token, session = _named(store)
    unknown = [new_id("tok"), new_id("ses"), new_id("usr")]
    with store.transaction() as tx:
        assert tx.tokens.by_ids([token.id, token.id, unknown[0]]) == [token]
        assert tx.sessions.by_ids({session.id, unknown[1]}) == [session]
        assert tx.users.by_ids([alice.id, unknown[2]]) == [alice]
        assert tx.tokens.by_ids([]) == []
        assert tx.sessions.by_ids([]) == []
        assert tx.users.by_ids(set()) == []
