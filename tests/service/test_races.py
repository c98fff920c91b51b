"""Every state change happens once (issue 16): 20 concurrent calls over two nodes on one
database (SQLite and PostgreSQL) make one event, one answer value and one webhook delivery.

The nodes use the real clock, so racing callers would each write their own time if the
change were not one conditional write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import TypeVar

import pytest

from tokenward.domain.errors import Conflict
from tokenward.domain.model import Actor, Event
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.base import EventQuery
from tokenward.store.sql import SqlStore
from tokenward.testing import TEST_ACTOR, make_token, make_user

CALLS = 20
T = TypeVar("T")


@pytest.fixture
def nodes(database_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    """Two nodes on one database, on the real clock."""
    settings = Settings(
        database_url=database_url, failed_auth_per_minute=0, failed_logins_per_minute=0
    )
    built = [
        Runtime.build(
            settings, store=SqlStore(database_url), passwords=PasswordHasher.fast_for_tests()
        )
        for _ in range(2)
    ]
    built[0].migrate()
    yield built[0], built[1]
    for rt in built:
        rt.close()


def _race(nodes: tuple[Runtime, Runtime], call: Callable[[Runtime], T]) -> list[T | Exception]:
    """``CALLS`` calls at once, alternating between the nodes; what each answered or raised."""
    return _race_each(nodes, [call] * CALLS)


def _race_each(
    nodes: tuple[Runtime, Runtime], calls: list[Callable[[Runtime], T]]
) -> list[T | Exception]:
    """Every one of ``calls`` at once, alternating between the nodes."""
    start = threading.Barrier(len(calls))

    def one(index: int) -> T | Exception:
        start.wait()
        try:
            return calls[index](nodes[index % 2])
        except Exception as error:  # the answer under test
            return error

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, range(len(calls))))


def _events(rt: Runtime, type_: str, subject: str | None = None) -> list[Event]:
    with rt.store.transaction() as tx:
        return tx.events.query(EventQuery(type=type_, subject=subject, limit=1000))


def _deliveries(rt: Runtime, events: list[str]) -> Callable[[], int]:
    """Subscribe a webhook to ``events`` now; the returned function dispatches and answers
    how many deliveries were planned for it."""
    assert rt.notify is not None
    hook = rt.notify.webhooks.create("https://example.org/hook", events, TEST_ACTOR)

    def planned() -> int:
        assert rt.notify is not None
        rt.notify.notifier.dispatcher.run()
        with rt.store.transaction() as tx:
            return len(tx.deliveries.of_target(hook.record.id, 1000))

    return planned


def test_racing_revocations_make_one_event_one_answer_one_delivery(
    nodes: tuple[Runtime, Runtime],
) -> None:
    a, _ = nodes
    token = make_token(a, make_user(a)).record
    planned = _deliveries(a, ["token.revoked"])
    answers = _race(nodes, lambda rt: rt.tokens.revoke(token.id, by=TEST_ACTOR, owner_id=None))
    assert not [x for x in answers if isinstance(x, Exception)]
    assert len({(x.record.revoked_at, x.effective_by) for x in answers}) == 1  # type: ignore[union-attr]
    assert len(_events(a, "token.revoked", token.id)) == 1
    assert planned() == 1


def test_racing_rotations_make_one_successor(nodes: tuple[Runtime, Runtime]) -> None:
    a, _ = nodes
    token = make_token(a, make_user(a)).record
    planned = _deliveries(a, ["token.rotated"])
    grace = timedelta(hours=1)
    answers = _race(
        nodes, lambda rt: rt.tokens.rotate(token.id, owner_id=None, by=TEST_ACTOR, grace=grace)
    )
    won = [x for x in answers if not isinstance(x, Exception)]
    assert len(won) == 1
    assert all(isinstance(x, Conflict) for x in answers if x not in won)
    assert len(_events(a, "token.rotated", token.id)) == 1
    assert planned() == 1


def test_racing_deactivations_make_one_event_one_answer_one_delivery(
    nodes: tuple[Runtime, Runtime],
) -> None:
    a, _ = nodes
    make_user(a, "root", is_admin=True)
    bob = make_user(a, "bob")
    tokens = [make_token(a, bob, f"t{i}").record.id for i in range(3)]
    planned = _deliveries(a, ["user.deactivated", "token.revoked"])
    answers = _race(nodes, lambda rt: rt.accounts.deactivate(bob.id, TEST_ACTOR))
    assert not [x for x in answers if isinstance(x, Exception)]
    assert len({x.effective_by for x in answers}) == 1  # type: ignore[union-attr]
    assert sorted(x.tokens_revoked for x in answers) == [0] * (CALLS - 1) + [3]  # type: ignore[union-attr]
    assert len(_events(a, "user.deactivated", bob.id)) == 1
    assert sorted(e.subject for e in _events(a, "token.revoked")) == sorted(tokens)
    assert planned() == 4


def test_racing_leak_reports_revoke_once(nodes: tuple[Runtime, Runtime]) -> None:
    a, _ = nodes
    made = make_token(a, make_user(a))
    planned = _deliveries(a, ["token.revoked", "token.leaked"])
    answers = _race(nodes, lambda rt: rt.leaks.report([made.secret], "a paste", Actor("anon")))
    assert answers == [1] * CALLS
    assert len(_events(a, "token.revoked", made.record.id)) == 1
    assert len(_events(a, "token.leaked", made.record.id)) == 1
    assert len(_events(a, "leak.reported")) == CALLS  # each report is heard, and audited
    assert planned() == 2


def test_racing_logouts_end_a_session_once(nodes: tuple[Runtime, Runtime]) -> None:
    a, _ = nodes
    user = make_user(a)
    login = a.sessions.login(user.username, "a-long-test-password", TEST_ACTOR)
    answers = _race(nodes, lambda rt: rt.sessions.logout(login.session, TEST_ACTOR))
    assert answers == [None] * CALLS
    assert len(_events(a, "session.ended", login.session.id)) == 1


def test_racing_first_uses_of_a_successor_start_the_grace_once(
    nodes: tuple[Runtime, Runtime],
) -> None:
    a, _ = nodes
    token = make_token(a, make_user(a)).record
    rotated = a.tokens.rotate(token.id, owner_id=None, by=TEST_ACTOR, grace=timedelta(hours=1))
    answers = _race(nodes, lambda rt: rt.verification.verify(rotated.created.secret))
    assert not [x for x in answers if isinstance(x, Exception)]
    [started] = _events(a, "token.grace_started", token.id)
    with a.store.transaction() as tx:
        old = tx.tokens.by_id(token.id)
    assert old is not None and old.grace_started_at == started.at


def test_racing_webhook_creations_each_get_exactly_the_events_after_their_own(
    nodes: tuple[Runtime, Runtime],
) -> None:
    a, _ = nodes
    owner = make_user(a)

    def create_or_mint(rt: Runtime) -> int:
        if rt is a:  # one node adds endpoints while the other writes events they want
            assert rt.notify is not None
            hook = rt.notify.webhooks.create("https://example.org/h", ["token.created"], TEST_ACTOR)
            return hook.record.after_seq
        return make_token(rt, owner).record.id.__len__()

    _race(nodes, create_or_mint)
    assert a.notify is not None
    a.notify.notifier.dispatcher.run()
    created = [e.seq or 0 for e in _events(a, "token.created")]
    with a.store.transaction() as tx:
        hooks = tx.webhooks.all()
        assert len(hooks) == CALLS // 2
        for hook in hooks:
            [own] = tx.events.query(EventQuery(type="webhook.created", subject=hook.id))
            assert hook.after_seq == own.seq
            sent = sorted(d.event_seq for d in tx.deliveries.of_target(hook.id, 1000))
            assert sent == [seq for seq in created if seq > hook.after_seq]


def test_racing_changes_to_one_account_never_deadlock_and_revoke_each_token_once(
    nodes: tuple[Runtime, Runtime],
) -> None:
    """A deactivation, a logout everywhere, leak reports naming the tokens in opposite orders
    and single revocations, all at once: on PostgreSQL each takes its row locks before the
    event log's lock, in one order, so none waits on another forever (a deadlock would
    surface as StoreUnavailable)."""
    a, _ = nodes
    make_user(a, "root", is_admin=True)
    bob = make_user(a, "bob")
    made = [make_token(a, bob, f"t{i}") for i in range(4)]
    secrets = [m.secret for m in made]
    a.sessions.login("bob", "a-long-test-password", TEST_ACTOR)
    revokes = [partial(_revoke, m.record.id) for m in made]
    calls: list[Callable[[Runtime], object]] = [
        lambda rt: rt.accounts.deactivate(bob.id, TEST_ACTOR),
        lambda rt: rt.sessions.logout_all(bob.id, revoke_tokens=True, by=TEST_ACTOR),
        lambda rt: rt.leaks.report(secrets, "a paste", Actor("anon")),
        lambda rt: rt.leaks.report(secrets[::-1], "a paste", Actor("anon")),
        *revokes,
        *revokes[::-1],
    ]
    answers = _race_each(nodes, calls * 2)
    assert not [x for x in answers if isinstance(x, Exception)]
    revoked = sorted(e.subject for e in _events(a, "token.revoked"))
    assert revoked == sorted(m.record.id for m in made)


def _revoke(token_id: str, rt: Runtime) -> object:
    return rt.tokens.revoke(token_id, by=TEST_ACTOR, owner_id=None)
