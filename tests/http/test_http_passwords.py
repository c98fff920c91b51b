"""Passwords over the API (issue 17, point 5): change one's own (``POST
/v1/account/password``), an admin's reset (``POST /v1/admin/users/{id}/password``), both
ending the other sessions and audited without the password; login refuses an over-long
password before hashing it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from admin_support import (
    PASSWORD,
    ProblemCheck,
    RowsOf,
    WebSession,
    admin_key,
    bearer,
    check_csrf_refused,
    check_insufficient_admin,
    events,
    except_events,
    fields_of,
    log_in,
    only_failures_audited,
    web_client,
)
from starlette.testclient import TestClient

from backends import stored_bytes
from tokenward.domain.model import UserRecord
from tokenward.runtime import Runtime
from tokenward.testing import make_token, make_user

NEW_PASSWORD = "a-brand-new-passphrase"
AppOver = Callable[..., tuple[Runtime, TestClient]]


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as client:
        yield client


def _change(client: TestClient, headers: dict[str, str], current: str, new: str) -> Any:
    body = {"current_password": current, "new_password": new}
    return client.post("/v1/account/password", json=body, headers=headers)


def _live(client: TestClient, session: WebSession) -> bool:
    return client.get("/v1/session", headers=session.cookie).status_code == 200


def _logs_in(client: TestClient, username: str, password: str) -> bool:
    body = {"username": username, "password": password}
    answer = client.post("/v1/session", json=body)
    client.cookies.clear()
    return answer.status_code == 200


def test_changing_ones_password_ends_the_other_sessions_and_is_audited(
    web: TestClient, runtime: Runtime, alice: UserRecord, database_url: str
) -> None:
    here, elsewhere = log_in(web, "alice"), log_in(web, "alice")
    token = make_token(runtime, alice)
    answer = _change(web, here.writes, PASSWORD, NEW_PASSWORD)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": alice.id, "sessions_ended": 1}
    assert _live(web, here) and not _live(web, elsewhere)
    assert web.get("/v1/self", headers=bearer(token.secret)).status_code == 200  # tokens stay
    assert not _logs_in(web, "alice", PASSWORD) and _logs_in(web, "alice", NEW_PASSWORD)
    [changed] = events(runtime, "user.password_changed")
    assert (changed.actor, changed.subject) == (here.id, alice.id)
    assert changed.details == {
        "username": "alice",
        "sessions_ended": 1,
        "session_ids": [elsewhere.id],
    }
    for secret in (PASSWORD, NEW_PASSWORD):
        assert secret.encode() not in stored_bytes(database_url)


def test_a_token_with_tokens_write_may_change_the_password_and_every_session_ends(
    web: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    session = log_in(web, "alice")
    token = make_token(runtime, alice)
    answer = _change(web, bearer(token.secret), PASSWORD, NEW_PASSWORD)
    assert answer.json() == {"id": alice.id, "sessions_ended": 1}
    assert not _live(web, session)


def test_a_wrong_current_password_is_422_changes_nothing_and_counts_as_a_failed_login(
    app_over: AppOver, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    runtime, client = app_over(failed_logins_per_minute=2)
    alice = make_user(runtime, "alice")
    token = bearer(make_token(runtime, alice).secret)
    before = db_rows()
    for _ in range(2):
        body = problem(_change(client, token, "not-the-password", NEW_PASSWORD), 422)
        assert fields_of(body) == ["current_password"]
        assert "not-the-password" not in str(body)
    problem(_change(client, token, PASSWORD, NEW_PASSWORD), 429)  # the limit holds, right or not
    after = db_rows()
    assert except_events(after) == except_events(before)
    assert len(events(runtime, "user.password_change_failed")) == 2
    assert events(runtime, "user.password_changed") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": PASSWORD, "new_password": "elevenchars"}, "new_password"),
        ({"current_password": PASSWORD, "new_password": "x" * 1025}, "new_password"),
        ({"current_password": "x" * 1025, "new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": PASSWORD}, "new_password"),
        ({"new_password": NEW_PASSWORD}, "current_password"),
        ({"current_password": PASSWORD, "new_password": 12345678901234}, "new_password"),
        ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "x": 1}, "x"),
    ],
)
def test_bad_password_changes_are_422_naming_the_field_and_change_nothing(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
    monkeypatch: pytest.MonkeyPatch,
    body: dict[str, Any],
    field: str,
) -> None:
    token = bearer(make_token(runtime, alice).secret)
    hashed: list[str] = []
    real = runtime.credentials.passwords.verify

    def counting(stored: str, password: str) -> bool:
        hashed.append(password)
        return real(stored, password)

    monkeypatch.setattr(runtime.credentials.passwords, "verify", counting)
    before = db_rows()
    answer = web.post("/v1/account/password", json=body, headers=token)
    assert fields_of(problem(answer, 422)) == [field]
    assert db_rows() == before
    assert hashed == []  # refused before any hashing
    assert _logs_in(web, "alice", PASSWORD)


def test_who_may_change_a_password(
    web: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    root = make_user(runtime, "root", is_admin=True)
    reader = bearer(make_token(runtime, alice, scopes=("tokens:read",)).secret)
    session = log_in(web, "alice")
    key = bearer(admin_key(runtime, root).secret)  # an admin key holds no tokens:write
    before = db_rows()
    problem(web.post("/v1/account/password", json={}), 401)
    problem(_change(web, reader, PASSWORD, NEW_PASSWORD), 403, error="insufficient_scope")
    problem(_change(web, key, PASSWORD, NEW_PASSWORD), 403, error="insufficient_scope")
    check_csrf_refused(_change(web, session.cookie, PASSWORD, NEW_PASSWORD), problem)
    assert db_rows() == before


# --- the admin's reset ----------------------------------------------------------------------


def test_an_admin_resets_a_password_and_every_session_of_the_user_ends(
    web: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    key = admin_key(runtime, make_user(runtime, "root", is_admin=True))
    sessions = [log_in(web, "alice"), log_in(web, "alice")]
    body = {"new_password": NEW_PASSWORD}
    answer = web.post(f"/v1/admin/users/{alice.id}/password", json=body, headers=bearer(key.secret))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"id": alice.id, "username": "alice", "sessions_ended": 2}
    assert not any(_live(web, s) for s in sessions)
    assert _logs_in(web, "alice", NEW_PASSWORD) and not _logs_in(web, "alice", PASSWORD)
    [reset] = events(runtime, "user.password_reset")
    assert (reset.actor, reset.subject, reset.details["sessions_ended"]) == (
        key.record.id,
        alice.id,
        2,
    )


def test_an_admin_resetting_their_own_password_keeps_the_session_doing_it(
    web: TestClient, runtime: Runtime
) -> None:
    root = make_user(runtime, "root", is_admin=True)
    here, other = log_in(web, "root"), log_in(web, "root")
    body = {"new_password": NEW_PASSWORD}
    answer = web.post(f"/v1/admin/users/{root.id}/password", json=body, headers=here.writes)
    assert answer.json()["sessions_ended"] == 1
    assert _live(web, here) and not _live(web, other)


@pytest.mark.parametrize(
    ("target", "body", "status"),
    [
        ("alice", {"new_password": "too-short"}, 422),
        ("alice", {"new_password": "y" * 1025}, 422),
        ("usr_00000000000000000", {"new_password": NEW_PASSWORD}, 404),
        ("not-an-id", {"new_password": NEW_PASSWORD}, 404),
    ],
)
def test_a_refused_reset_changes_nothing_and_is_audited(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
    target: str,
    body: dict[str, Any],
    status: int,
) -> None:
    key = bearer(admin_key(runtime, make_user(runtime, "root", is_admin=True)).secret)
    user_id = alice.id if target == "alice" else target
    before = db_rows()
    answer = web.post(f"/v1/admin/users/{user_id}/password", json=body, headers=key)
    problem(answer, status)
    assert only_failures_audited(db_rows(), before)
    assert _logs_in(web, "alice", PASSWORD)


def test_a_non_admin_cannot_reset_a_password(
    web: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    bob = make_user(runtime, "bob")
    writer = bearer(make_token(runtime, alice).secret)
    body = {"new_password": NEW_PASSWORD}
    check_insufficient_admin(
        web.post(f"/v1/admin/users/{bob.id}/password", json=body, headers=writer), problem
    )
    assert events(runtime, "admin.denied")
    assert _logs_in(web, "bob", PASSWORD)


# --- login ---------------------------------------------------------------------------------


def test_login_refuses_a_password_over_1024_characters_before_hashing_it(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed: list[str] = []
    real = runtime.sessions.passwords.verify

    def counting(stored: str, password: str) -> bool:
        hashed.append(password)
        return real(stored, password)

    monkeypatch.setattr(runtime.sessions.passwords, "verify", counting)
    before = db_rows()
    answer = web.post("/v1/session", json={"username": "alice", "password": "p" * 1025})
    body = problem(answer, 422)
    assert fields_of(body) == ["password"] and "1024" in body["detail"]
    assert hashed == [] and db_rows() == before
    assert _logs_in(web, "alice", PASSWORD) and len(hashed) == 1  # 1024 and fewer are hashed
