"""The notifier's storage contract, on every implementation: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notify_support import node, notifier_of, token, user_with_email

from backends import PostgresSchema, require_service, sqlite_copy
from tokenward.domain.errors import Conflict
from tokenward.domain.model import Event
from tokenward.domain.tokens import new_id
from tokenward.runtime import Runtime
from tokenward.store.base import (
    DeliveryRecord,
    DeliveryUpdate,
    EventQuery,
    Store,
    WebhookRecord,
)
from tokenward.testing import TEST_ACTOR, FakeClock, memory_runtime

TTL = timedelta(seconds=15)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def rt(
    request: pytest.FixtureRequest,
    clock: FakeClock,
    tmp_path: Path,
    _sqlite_template: Path,
    _postgres_schema: PostgresSchema | None,
) -> Iterator[Runtime]:
    if request.param == "memory":
        built = memory_runtime(clock=clock)
    elif request.param == "sqlite":
        built = node(sqlite_copy(_sqlite_template, tmp_path), clock)
    else:
        require_service("PostgreSQL (127.0.0.1:5432)", _postgres_schema is not None)
        assert _postgres_schema is not None
        _postgres_schema.empty()
        built = node(_postgres_schema.url, clock)
    yield built
    built.close()


@pytest.fixture
def store(rt: Runtime) -> Store:
    return rt.store


def _take(store: Store, name: str, holder: str, now: datetime, until: datetime) -> bool:
    with store.transaction() as tx:
        return tx.leases.take(name, holder, now, until)


def _release(store: Store, name: str, holder: str) -> None:
    with store.transaction() as tx:
        tx.leases.release(name, holder)


def _candidates(store: Store, mark: str, after: datetime, by: datetime) -> list[str]:
    with store.transaction() as tx:
        return [t.id for t in tx.reminders.candidates(mark, after, by, 10)]


def _cursor(store: Store) -> int:
    with store.transaction() as tx:
        return tx.deliveries.cursor()


def _advance(store: Store, old: int, new: int, planned: list[DeliveryRecord]) -> bool:
    try:
        with store.transaction() as tx:
            if not tx.deliveries.advance(old, new):
                raise Conflict("moved")
            tx.deliveries.plan(planned)
    except Conflict:
        return False
    return True


def _of_target(store: Store, target: str) -> list[DeliveryRecord]:
    with store.transaction() as tx:
        return tx.deliveries.of_target(target, 10)


def _due(store: Store, now: datetime) -> list[DeliveryRecord]:
    with store.transaction() as tx:
        return tx.deliveries.due(now, 10)


def _update(store: Store, delivery: DeliveryRecord, update: DeliveryUpdate) -> bool:
    with store.transaction() as tx:
        return tx.deliveries.update(delivery, update)


def _webhooks(store: Store) -> list[WebhookRecord]:
    with store.transaction() as tx:
        return tx.webhooks.all()


def _delivery(clock: FakeClock, seq: int, target: str = "whk_x", **fields: Any) -> DeliveryRecord:
    values: dict[str, Any] = {
        "id": new_id("dlv"),
        "channel": "webhook",
        "target": target,
        "event_seq": seq,
        "event_type": "token.created",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": clock.now(),
        "created_at": clock.now(),
    }
    return DeliveryRecord(**(values | fields))


def test_a_lease_has_one_holder_until_it_runs_out_or_is_released(
    store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    assert _take(store, "job", "a", now, now + TTL)
    assert not _take(store, "job", "b", now + TTL - timedelta(seconds=1), now + 2 * TTL)
    assert _take(store, "job", "a", now + TTL, now + 2 * TTL)  # renewed before running out
    assert _take(store, "job", "b", now + 2 * TTL, now + 3 * TTL)  # ran out: taken over
    assert not _take(store, "job", "a", now + 2 * TTL, now + 3 * TTL)
    _release(store, "job", "a")  # not the holder: nothing happens
    assert not _take(store, "job", "a", now + 2 * TTL, now + 3 * TTL)
    _release(store, "job", "b")
    assert _take(store, "job", "a", now + 2 * TTL, now + 3 * TTL)
    assert _take(store, "other", "b", now, now + TTL)  # leases are by name


def test_a_reminder_is_recorded_once_with_its_event(
    rt: Runtime, store: Store, clock: FakeClock
) -> None:
    made = token(rt, user_with_email(rt, "alice"), "laptop", 20).record
    after, by = clock.now(), clock.now() + timedelta(days=30)
    assert _candidates(store, "30d", after, by) == [made.id]
    assert _candidates(store, "30d", after, clock.now() + timedelta(days=19)) == []
    event = TEST_ACTOR.event("token.expiring", clock.now(), made.id, {"user_id": made.user_id})
    before = rt.store.max_seq()
    assert notifier_of(rt).reminders.send(made.id, "30d", clock.now(), event)
    assert not notifier_of(rt).reminders.send(made.id, "30d", clock.now(), event)
    assert rt.store.max_seq() == before + 1  # the refused one left no event
    assert _candidates(store, "30d", after, by) == []
    assert _candidates(store, "7d", after, by) == [made.id]
    assert notifier_of(rt).reminders.send(
        made.id, "7d", clock.now(), None
    )  # skipped: recorded, no event
    assert _candidates(store, "7d", after, by) == []
    assert rt.store.max_seq() == before + 1


def test_revoked_tokens_are_no_reminder_candidates(rt: Runtime, store: Store) -> None:
    made = token(rt, user_with_email(rt, "alice"), "laptop", 20).record
    rt.tokens.revoke(made.id, by=TEST_ACTOR, owner_id=None)
    now = rt.clock.now()
    assert _candidates(store, "30d", now, now + timedelta(days=30)) == []


def test_the_dispatch_cursor_moves_only_from_where_it_was_read(
    store: Store, clock: FakeClock
) -> None:
    start = _cursor(store)
    first = _delivery(clock, start + 1)
    assert _advance(store, start, start + 5, [first])
    assert _cursor(store) == start + 5
    assert not _advance(store, start, start + 6, [_delivery(clock, start + 6)])
    duplicate = _delivery(clock, start + 1)  # the same target and event again
    assert not _advance(store, start + 5, start + 6, [duplicate])
    assert _cursor(store) == start + 5
    assert [d.id for d in _of_target(store, "whk_x")] == [first.id]


def test_a_delivery_is_updated_only_as_it_was_read(store: Store, clock: FakeClock) -> None:
    start = _cursor(store)
    later = _delivery(clock, start + 2, next_attempt_at=clock.now() + timedelta(minutes=1))
    due = _delivery(clock, start + 1)
    assert _advance(store, start, start + 2, [later, due])
    assert [d.id for d in _due(store, clock.now())] == [due.id]
    claim = DeliveryUpdate("pending", 0, clock.now() + timedelta(minutes=2), None, None, None)
    assert _update(store, due, claim)
    assert not _update(store, due, claim)  # stale: someone else claimed it
    assert _due(store, clock.now()) == []
    claimed = _of_target(store, "whk_x")[1]
    done = DeliveryUpdate("delivered", 1, None, 200, None, clock.now())
    assert _update(store, claimed, done)
    [_, stored] = _of_target(store, "whk_x")
    assert (stored.status, stored.attempts, stored.last_code) == ("delivered", 1, 200)


def _add_webhook(store: Store, hook: WebhookRecord, event: Event) -> None:
    with store.transaction() as tx:
        tx.webhooks.add(hook)
        tx.events.append(event)


def _delete_webhook(store: Store, webhook_id: str, event: Event) -> bool:
    with store.transaction() as tx:
        if not tx.webhooks.delete(webhook_id):
            return False
        tx.events.append(event)
    return True


def test_webhooks_are_added_listed_and_deleted_with_their_log_and_events(
    rt: Runtime, store: Store, clock: FakeClock
) -> None:
    hook = WebhookRecord(
        new_id("whk"), "https://example.org/h", ("token.expired",), "whsec_x", clock.now(), "t", 0
    )
    before = rt.store.max_seq()
    _add_webhook(store, hook, TEST_ACTOR.event("webhook.created", clock.now(), hook.id))
    with store.transaction() as tx:
        assert tx.webhooks.all() == [hook] and tx.webhooks.by_id(hook.id) == hook
    start = _cursor(store)
    assert _advance(store, start, start + 1, [_delivery(clock, 1, hook.id)])
    gone: Event = TEST_ACTOR.event("webhook.deleted", clock.now(), hook.id)
    assert _delete_webhook(store, hook.id, gone)
    assert not _delete_webhook(store, hook.id, gone)
    assert _webhooks(store) == [] and _of_target(store, hook.id) == []
    assert rt.store.max_seq() == before + 2


def test_emails_of_users_that_have_one(rt: Runtime, store: Store) -> None:
    alice = user_with_email(rt, "alice")
    bob = rt.accounts.create_user("bob", "a-long-test-password", is_admin=False, by=TEST_ACTOR)
    with store.transaction() as tx:
        found = tx.users.emails_of({alice.id, bob.id, "usr_nobody"})
        assert tx.users.emails_of(set()) == {}
    assert found == {alice.id: "alice@example.org"}


def test_a_refused_webhook_leaves_its_secret_out_of_the_error_and_its_traceback(
    rt: Runtime, store: Store, clock: FakeClock
) -> None:
    assert rt.notify is not None
    created = rt.notify.webhooks.create("https://example.org/h", ["token.expired"], TEST_ACTOR)
    hook = created.record
    before = rt.store.max_seq()
    with pytest.raises(Conflict) as refused:  # the same id again: the primary key refuses it
        _add_webhook(store, hook, TEST_ACTOR.event("webhook.created", clock.now(), hook.id))
    assert hook.secret not in "".join(traceback.format_exception(refused.value))
    assert _webhooks(store) == [hook] and rt.store.max_seq() == before  # no second event


def test_a_webhook_keeps_its_own_created_event_as_where_its_deliveries_start(
    rt: Runtime, store: Store
) -> None:
    assert rt.notify is not None
    hook = rt.notify.webhooks.create("https://example.org/h", ["token.expired"], TEST_ACTOR)
    with store.transaction() as tx:
        [created] = tx.events.query(EventQuery(type="webhook.created", subject=hook.record.id))
    assert hook.record.after_seq == created.seq == rt.store.max_seq()
