"""The notifier's storage contract, on every implementation: memory, SQLite, PostgreSQL."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from notify_support import node, token, user_with_email

from backends import PostgresSchema, require_service, sqlite_copy
from tokenward.domain.errors import Conflict
from tokenward.domain.model import Event
from tokenward.domain.tokens import new_id
from tokenward.runtime import Runtime
from tokenward.store.notify_base import DeliveryRecord, DeliveryUpdate, NotifyStore, WebhookRecord
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
def store(rt: Runtime) -> NotifyStore:
    assert rt.notify is not None
    notify: NotifyStore = rt.notify.notifier.notify
    return notify


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
    store: NotifyStore, clock: FakeClock
) -> None:
    now = clock.now()
    assert store.take_lease("job", "a", now, now + TTL)
    assert not store.take_lease("job", "b", now + TTL - timedelta(seconds=1), now + 2 * TTL)
    assert store.take_lease("job", "a", now + TTL, now + 2 * TTL)  # renewed before running out
    assert store.take_lease("job", "b", now + 2 * TTL, now + 3 * TTL)  # ran out: taken over
    assert not store.take_lease("job", "a", now + 2 * TTL, now + 3 * TTL)
    store.release_lease("job", "a")  # not the holder: nothing happens
    assert not store.take_lease("job", "a", now + 2 * TTL, now + 3 * TTL)
    store.release_lease("job", "b")
    assert store.take_lease("job", "a", now + 2 * TTL, now + 3 * TTL)
    assert store.take_lease("other", "b", now, now + TTL)  # leases are by name


def test_a_reminder_is_recorded_once_with_its_event(
    rt: Runtime, store: NotifyStore, clock: FakeClock
) -> None:
    made = token(rt, user_with_email(rt, "alice"), "laptop", 20).record
    after, by = clock.now(), clock.now() + timedelta(days=30)
    assert [t.id for t in store.reminder_candidates("30d", after, by, 10)] == [made.id]
    assert store.reminder_candidates("30d", after, clock.now() + timedelta(days=19), 10) == []
    event = TEST_ACTOR.event("token.expiring", clock.now(), made.id, {"user_id": made.user_id})
    before = rt.store.max_seq()
    assert store.send_reminder(made.id, "30d", clock.now(), event)
    assert not store.send_reminder(made.id, "30d", clock.now(), event)
    assert rt.store.max_seq() == before + 1  # the refused one left no event
    assert store.reminder_candidates("30d", after, by, 10) == []
    assert [t.id for t in store.reminder_candidates("7d", after, by, 10)] == [made.id]
    assert store.send_reminder(made.id, "7d", clock.now(), None)  # skipped: recorded, no event
    assert store.reminder_candidates("7d", after, by, 10) == []
    assert rt.store.max_seq() == before + 1


def test_revoked_tokens_are_no_reminder_candidates(rt: Runtime, store: NotifyStore) -> None:
    made = token(rt, user_with_email(rt, "alice"), "laptop", 20).record
    rt.tokens.revoke(made.id, by=TEST_ACTOR, owner_id=None)
    now = rt.clock.now()
    assert store.reminder_candidates("30d", now, now + timedelta(days=30), 10) == []


def test_the_dispatch_cursor_moves_only_from_where_it_was_read(
    store: NotifyStore, clock: FakeClock
) -> None:
    start = store.dispatch_cursor()
    first = _delivery(clock, start + 1)
    assert store.advance_dispatch(start, start + 5, [first])
    assert store.dispatch_cursor() == start + 5
    assert not store.advance_dispatch(start, start + 6, [_delivery(clock, start + 6)])
    duplicate = _delivery(clock, start + 1)  # the same target and event again
    assert not store.advance_dispatch(start + 5, start + 6, [duplicate])
    assert store.dispatch_cursor() == start + 5
    assert [d.id for d in store.deliveries_of("whk_x", 10)] == [first.id]


def test_a_delivery_is_updated_only_as_it_was_read(store: NotifyStore, clock: FakeClock) -> None:
    start = store.dispatch_cursor()
    later = _delivery(clock, start + 2, next_attempt_at=clock.now() + timedelta(minutes=1))
    due = _delivery(clock, start + 1)
    assert store.advance_dispatch(start, start + 2, [later, due])
    assert [d.id for d in store.due_deliveries(clock.now(), 10)] == [due.id]
    claim = DeliveryUpdate("pending", 0, clock.now() + timedelta(minutes=2), None, None, None)
    assert store.update_delivery(due, claim)
    assert not store.update_delivery(due, claim)  # stale: someone else claimed it
    assert store.due_deliveries(clock.now(), 10) == []
    claimed = store.deliveries_of("whk_x", 10)[1]
    done = DeliveryUpdate("delivered", 1, None, 200, None, clock.now())
    assert store.update_delivery(claimed, done)
    [_, stored] = store.deliveries_of("whk_x", 10)
    assert (stored.status, stored.attempts, stored.last_code) == ("delivered", 1, 200)


def test_webhooks_are_added_listed_and_deleted_with_their_log_and_events(
    rt: Runtime, store: NotifyStore, clock: FakeClock
) -> None:
    hook = WebhookRecord(
        new_id("whk"), "https://example.org/h", ("token.expired",), "whsec_x", clock.now(), "t", 0
    )
    before = rt.store.max_seq()
    store.add_webhook(hook, TEST_ACTOR.event("webhook.created", clock.now(), hook.id))
    assert store.webhooks() == [hook] and store.webhook_by_id(hook.id) == hook
    start = store.dispatch_cursor()
    assert store.advance_dispatch(start, start + 1, [_delivery(clock, 1, hook.id)])
    gone: Event = TEST_ACTOR.event("webhook.deleted", clock.now(), hook.id)
    assert store.delete_webhook(hook.id, gone)
    assert not store.delete_webhook(hook.id, gone)
    assert store.webhooks() == [] and store.deliveries_of(hook.id, 10) == []
    assert rt.store.max_seq() == before + 2


def test_emails_of_users_that_have_one(rt: Runtime, store: NotifyStore) -> None:
    alice = user_with_email(rt, "alice")
    bob = rt.accounts.create_user("bob", "a-long-test-password", is_admin=False, by=TEST_ACTOR)
    assert store.emails_of({alice.id, bob.id, "usr_nobody"}) == {alice.id: "alice@example.org"}
    assert store.emails_of(set()) == {}


def test_a_refused_webhook_leaves_its_secret_out_of_the_error_and_its_traceback(
    rt: Runtime, store: NotifyStore, clock: FakeClock
) -> None:
    hook = WebhookRecord(
        new_id("whk"), "https://example.org/h", ("token.expired",), "whsec_y", clock.now(), "t", 0
    )
    before = rt.store.max_seq()
    store.add_webhook(hook, TEST_ACTOR.event("webhook.created", clock.now(), hook.id))
    with pytest.raises(Conflict) as refused:  # the same id again: the primary key refuses it
        store.add_webhook(hook, TEST_ACTOR.event("webhook.created", clock.now(), hook.id))
    assert hook.secret not in "".join(traceback.format_exception(refused.value))
    assert store.webhooks() == [hook] and rt.store.max_seq() == before + 1  # no second event
