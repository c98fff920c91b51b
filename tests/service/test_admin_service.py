"""Deactivation, reactivation, the stored policy and the audit log, on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tokenward.domain.errors import Conflict, InvalidInput, InvalidToken, NotFound
from tokenward.domain.model import Actor, TokenStatus, UserStatus
from tokenward.domain.policy import policy_to_document
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.store.base import EventQuery
from tokenward.testing import DEFAULT_PASSWORD, FakeClock, make_token, make_user

ADMIN = Actor("ses_admin", "192.0.2.7", "pytest-agent")
USER = Actor("test")


def test_deactivation_revokes_every_token_and_session_in_one_go(runtime: Runtime) -> None:
    make_user(runtime, "root", is_admin=True)
    bob = make_user(runtime, "bob")
    tokens = [make_token(runtime, bob, f"t{i}") for i in range(3)]
    logins = [runtime.sessions.login("bob", DEFAULT_PASSWORD, USER) for _ in range(2)]
    done = runtime.accounts.deactivate(bob.id, ADMIN)
    assert (done.tokens_revoked, done.sessions_ended) == (3, 2)
    assert done.user.status is UserStatus.DEACTIVATED
    for created in tokens:
        with pytest.raises(InvalidToken):
            runtime.verification.verify(created.secret)
    for login in logins:
        with pytest.raises(InvalidToken):
            runtime.sessions.verify(login.secret)
    events = runtime.audit.query(EventQuery(type="token.revoked"))
    assert sorted(e.subject for e in events) == sorted(t.record.id for t in tokens)
    (deactivated,) = runtime.audit.query(EventQuery(type="user.deactivated"))
    assert (deactivated.actor, deactivated.ip, deactivated.user_agent) == (
        "ses_admin",
        "192.0.2.7",
        "pytest-agent",
    )
    assert deactivated.details["tokens_revoked"] == 3


def test_reactivation_restores_login_but_not_tokens(runtime: Runtime) -> None:
    make_user(runtime, "root", is_admin=True)
    bob = make_user(runtime, "bob")
    created = make_token(runtime, bob)
    runtime.accounts.deactivate(bob.id, ADMIN)
    runtime.accounts.reactivate(bob.id, ADMIN)
    runtime.sessions.login("bob", DEFAULT_PASSWORD, USER)
    with pytest.raises(InvalidToken):
        runtime.verification.verify(created.secret)
    assert runtime.tokens.get(bob.id, created.record.id).status(runtime.clock.now()) is (
        TokenStatus.REVOKED
    )


def test_the_last_active_admin_cannot_be_deactivated(runtime: Runtime) -> None:
    root = make_user(runtime, "root", is_admin=True)
    created = make_token(runtime, root)
    with pytest.raises(Conflict, match="last active admin"):
        runtime.accounts.deactivate(root.id, Actor(created.record.id))
    assert runtime.accounts.by_id(root.id).status is UserStatus.ACTIVE
    runtime.verification.verify(created.secret)
    assert runtime.audit.query(EventQuery(type="user.deactivated")) == []


def test_a_second_admin_makes_deactivating_the_first_possible(runtime: Runtime) -> None:
    root = make_user(runtime, "root", is_admin=True)
    make_user(runtime, "deputy", is_admin=True)
    assert runtime.accounts.deactivate(root.id, ADMIN).user.status is UserStatus.DEACTIVATED


def test_unknown_users_are_not_found(runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        runtime.accounts.deactivate("usr_nobody", ADMIN)
    with pytest.raises(NotFound):
        runtime.accounts.reactivate("usr_nobody", ADMIN)


def test_an_admin_key_created_without_a_lifetime_expires_after_7_days(
    runtime: Runtime, clock: FakeClock
) -> None:
    root = make_user(runtime, "root", is_admin=True)
    key = runtime.tokens.create(
        root, NewToken(label="ci", scopes=("admin",)), by=ADMIN, kind=TokenKind.ADMIN
    )
    assert key.record.expires_at == clock.now() + timedelta(days=7)
    clock.advance(days=7, seconds=-1)
    runtime.verification.verify(key.secret)
    clock.advance(seconds=1)
    with pytest.raises(InvalidToken):
        runtime.verification.verify(key.secret)
    with pytest.raises(InvalidInput) as caught:
        runtime.tokens.create(
            root,
            NewToken(label="long", scopes=("admin",), expires_in_days=366),
            by=ADMIN,
            kind=TokenKind.ADMIN,
        )
    assert caught.value.field == "expires_in_days"


def test_a_stored_policy_governs_new_tokens_and_is_audited(runtime: Runtime) -> None:
    document = policy_to_document(runtime.policies.current())
    document["user_token"] = {"default_days": 10, "max_days": 20, "allow_no_expiry": False}
    runtime.policies.update(document, ADMIN)
    bob = make_user(runtime, "bob")
    created = make_token(runtime, bob)
    assert created.record.expires_at == runtime.clock.now() + timedelta(days=10)
    with pytest.raises(InvalidInput):
        make_token(runtime, bob, expires_in_days=21)
    (event,) = runtime.audit.query(EventQuery(type="policy.updated"))
    assert event.details["before"]["user_token"]["default_days"] == 90
    assert event.details["after"]["user_token"]["default_days"] == 10


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"user_token": {"default_days": 400, "max_days": 365}}, "user_token.default_days"),
        ({"user_token": {"default_days": 30, "max_days": 10}}, "user_token.default_days"),
        ({"admin_key": {"default_days": 7, "max_days": 366}}, "admin_key.max_days"),
        ({"admin_key": {"default_days": "7", "max_days": 365}}, "admin_key.default_days"),
        ({"reminder_days": [30, 30]}, "reminder_days"),
        ({"reminder_days": "30"}, "reminder_days"),
        ({"surprise": 1}, "surprise"),
        ({"user_token": {"default_days": 1, "max_days": 2, "extra": 1}}, "user_token.extra"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field_and_nothing_changes(
    runtime: Runtime, change: dict[str, object], field: str
) -> None:
    before = runtime.policies.current()
    document = {**policy_to_document(before), **change}
    with pytest.raises(InvalidInput) as caught:
        runtime.policies.update(document, ADMIN)
    assert caught.value.field == field
    assert runtime.policies.current() == before
    assert runtime.audit.query(EventQuery(type="policy.updated")) == []


def test_audit_queries_filter_and_page_by_seq(runtime: Runtime) -> None:
    alice = make_user(runtime)
    for i in range(5):
        make_token(runtime, alice, f"t{i}")
    created = runtime.audit.query(EventQuery(type="token.created", limit=2))
    assert len(created) == 2
    rest = runtime.audit.query(EventQuery(after=created[-1].seq or 0, type="token.created"))
    assert len(rest) == 3
    by_actor = runtime.audit.query(EventQuery(actor="test"))
    assert len(by_actor) == 6
    with pytest.raises(InvalidInput):
        runtime.audit.query(EventQuery(limit=0))


def test_deactivating_twice_changes_nothing_the_second_time(runtime: Runtime) -> None:
    make_user(runtime, "root", is_admin=True)
    bob = make_user(runtime, "bob")
    make_token(runtime, bob)
    assert runtime.accounts.deactivate(bob.id, ADMIN).tokens_revoked == 1
    again = runtime.accounts.deactivate(bob.id, ADMIN)
    assert (again.tokens_revoked, again.sessions_ended) == (0, 0)
    assert len(runtime.audit.query(EventQuery(type="user.deactivated"))) == 1


def test_an_admin_key_needs_at_least_one_scope(runtime: Runtime) -> None:
    root = make_user(runtime, "root", is_admin=True)
    with pytest.raises(InvalidInput) as caught:
        runtime.tokens.create(root, NewToken(label="none"), by=ADMIN, kind=TokenKind.ADMIN)
    assert caught.value.field == "scopes"
    assert runtime.tokens.list(None, kind=TokenKind.ADMIN).items == []
