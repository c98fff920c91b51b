"""Logins: one answer for unknown users and wrong passwords, limits, sessions like tokens."""

from __future__ import annotations

import time

import pytest

from tokenward.domain.errors import InvalidToken, LoginFailed, RateLimited
from tokenward.domain.model import Actor
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.base import EventQuery
from tokenward.store.memory import MemoryStore
from tokenward.testing import DEFAULT_PASSWORD, FakeClock, make_token, make_user, memory_runtime

WHO = Actor("anonymous", "198.51.100.1", "pytest")


def test_a_right_password_opens_a_session_stored_only_as_a_digest(runtime: Runtime) -> None:
    alice = make_user(runtime)
    login = runtime.sessions.login("Alice", DEFAULT_PASSWORD, WHO)
    assert login.secret.startswith("tws_")
    assert login.session.digest != login.secret and login.secret not in login.session.digest
    principal = runtime.sessions.verify(login.secret)
    assert principal.user.id == alice.id and principal.session == login.session
    assert principal.has_scope("tokens:write") and not principal.has_scope("admin")


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong-password!"),
        ("nobody", DEFAULT_PASSWORD),
        ("bad name\x00", DEFAULT_PASSWORD),
    ],
)
def test_failed_logins_get_one_answer_and_are_audited(
    runtime: Runtime, username: str, password: str
) -> None:
    make_user(runtime)
    with pytest.raises(LoginFailed) as caught:
        runtime.sessions.login(username, password, WHO)
    assert str(caught.value) == ""
    (event,) = runtime.audit.query(EventQuery(type="session.login_failed"))
    assert event.outcome == "failed" and event.ip == "198.51.100.1"
    assert password not in str(event.details)


def test_unknown_users_cost_about_as_much_time_as_wrong_passwords() -> None:
    rt = Runtime.build(
        Settings(failed_logins_per_minute=0), store=MemoryStore(), passwords=PasswordHasher()
    )
    rt.accounts.create_user("alice", DEFAULT_PASSWORD, is_admin=False, by=WHO)

    def cost(username: str) -> float:
        start = time.perf_counter()
        for _ in range(3):
            with pytest.raises(LoginFailed):
                rt.sessions.login(username, "not-the-password", WHO)
        return time.perf_counter() - start

    known, unknown = cost("alice"), cost("nobody")
    assert 0.5 < unknown / known < 2.0


def test_a_deactivated_account_cannot_log_in(runtime: Runtime) -> None:
    make_user(runtime, "root", is_admin=True)
    bob = make_user(runtime, "bob")
    runtime.accounts.deactivate(bob.id, WHO)
    with pytest.raises(LoginFailed):
        runtime.sessions.login("bob", DEFAULT_PASSWORD, WHO)


def test_a_login_flood_is_refused_per_name_and_address_and_slowed_per_name() -> None:
    clock = FakeClock()
    rt = memory_runtime(Settings(failed_logins_per_minute=5), clock)
    make_user(rt)
    assert rt.sessions.slowdown("alice") == 0
    for _ in range(5):
        with pytest.raises(LoginFailed):
            rt.sessions.login("alice", "wrong-password!", WHO)
    with pytest.raises(RateLimited) as caught:
        rt.sessions.login("alice", DEFAULT_PASSWORD, WHO)  # the guesser's own pair waits
    assert 0 < caught.value.retry_after <= 60
    assert rt.sessions.slowdown("ALICE") == 1.0  # everyone else trying alice: slowed
    assert rt.sessions.slowdown("bob") == 0
    elsewhere = Actor("anonymous", "203.0.113.7", "pytest")
    assert rt.sessions.login("alice", DEFAULT_PASSWORD, elsewhere).session.user_id
    clock.advance(seconds=61)
    assert rt.sessions.slowdown("alice") == 0
    assert rt.sessions.login("alice", DEFAULT_PASSWORD, WHO).session.user_id


def test_sessions_expire(runtime: Runtime, clock: FakeClock) -> None:
    make_user(runtime)
    login = runtime.sessions.login("alice", DEFAULT_PASSWORD, WHO)
    clock.advance(hours=12)
    with pytest.raises(InvalidToken):
        runtime.sessions.verify(login.secret)


def test_a_session_secret_is_not_a_bearer_token_and_vice_versa(runtime: Runtime) -> None:
    alice = make_user(runtime)
    login = runtime.sessions.login("alice", DEFAULT_PASSWORD, WHO)
    token = make_token(runtime, alice)
    with pytest.raises(InvalidToken):
        runtime.verification.verify(login.secret)
    with pytest.raises(InvalidToken):
        runtime.sessions.verify(token.secret)


def test_logout_all_ends_sessions_and_optionally_revokes_tokens(runtime: Runtime) -> None:
    alice = make_user(runtime)
    logins = [runtime.sessions.login("alice", DEFAULT_PASSWORD, WHO) for _ in range(2)]
    token = make_token(runtime, alice)
    kept = runtime.sessions.logout_all(alice.id, revoke_tokens=False, by=WHO)
    assert (kept.sessions_ended, kept.tokens_revoked) == (2, 0)
    runtime.verification.verify(token.secret)
    for login in logins:
        with pytest.raises(InvalidToken):
            runtime.sessions.verify(login.secret)
    gone = runtime.sessions.logout_all(alice.id, revoke_tokens=True, by=WHO)
    assert (gone.sessions_ended, gone.tokens_revoked) == (0, 1)
    with pytest.raises(InvalidToken):
        runtime.verification.verify(token.secret)
