"""``/v1/session``: logging in and out, the cookie's attributes, the CSRF token on every
cookie-authenticated state change, and logging out everywhere."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from admin_support import (
    AGENT,
    CLIENT_IP,
    LOOPBACK,
    PASSWORD,
    ProblemCheck,
    RowsOf,
    admin_key,
    bearer,
    check_csrf_refused,
    check_invalid_token,
    check_unauthenticated,
    events,
    except_events,
    fields_of,
    log_in,
    web_client,
)
from starlette.testclient import TestClient

from backends import stored_bytes
from tokenward.domain import tokens as token_format
from tokenward.domain.model import UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import TEST_ACTOR, FakeClock, make_token, make_user

SESSION_ENDS = "2026-01-02T00:00:00.000Z"  # 12 hours later, the default lifetime
TWELVE_HOURS = 12 * 3600


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as client:
        yield client


@pytest.fixture
def root(runtime: Runtime) -> UserRecord:
    return make_user(runtime, "root", is_admin=True)


def _cookie_attributes(set_cookie: str, expected: str = "tw_session") -> tuple[str, set[str]]:
    """The value and the (lower-cased) attributes of one ``Set-Cookie`` header named
    ``expected``."""
    first, *attributes = (part.strip() for part in set_cookie.split(";"))
    name, _, value = first.partition("=")
    assert name == expected
    return value, {attribute.lower() for attribute in attributes}


# --- logging in --------------------------------------------------------------------------------


def test_login_with_the_right_password_answers_user_csrf_and_expiry_and_sets_the_cookie(
    web: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    response = web.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "user": {"id": alice.id, "username": "alice", "is_admin": False},
        "csrf_token": body["csrf_token"],
        "expires_at": SESSION_ENDS,
    }
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", body["csrf_token"])
    value, attributes = _cookie_attributes(response.headers["set-cookie"])
    assert token_format.parse(value) is TokenKind.SESSION
    assert attributes == {"httponly", "samesite=lax", "path=/", f"max-age={TWELVE_HOURS}"}
    assert value not in response.text and body["csrf_token"] != value

    # The browser sends the cookie back by itself; the session answers with the same CSRF token.
    current = web.get("/v1/session")
    assert current.status_code == 200
    assert current.json() == body
    assert current.headers["tokenward-token-expires"] == SESSION_ENDS
    [created] = events(runtime, "session.created")
    assert (created.actor, created.ip, created.user_agent) == ("anonymous", CLIENT_IP, AGENT)
    assert created.details == {"user_id": alice.id}


def test_get_session_is_not_cacheable(web: TestClient, alice: UserRecord) -> None:
    """The answer carries the CSRF token, so no cache may keep it."""
    session = log_in(web, "alice")
    response = web.get("/v1/session", headers=session.cookie)
    assert response.status_code == 200
    assert response.json()["csrf_token"] == session.csrf
    assert response.headers["cache-control"] == "no-store"


def _login_cookie(runtime: Runtime, base_url: str, name: str = "tw_session") -> set[str]:
    """The attributes of the cookie, named ``name``, that a login over ``base_url`` sets."""
    with web_client(runtime, base_url) as client:
        response = client.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    return _cookie_attributes(response.headers["set-cookie"], name)[1]


def test_plain_http_on_loopback_drops_only_the_secure_flag(
    runtime: Runtime, alice: UserRecord
) -> None:
    for base_url in (LOOPBACK, "http://localhost"):
        attributes = _login_cookie(runtime, base_url)
        assert "secure" not in attributes, base_url
        assert {"httponly", "samesite=lax", "path=/"} <= attributes


def test_the_cookie_is_secure_httponly_samesite_lax_and_host_prefixed_everywhere_else(
    runtime: Runtime, alice: UserRecord
) -> None:
    """``__Host-``: only this host, over HTTPS, may set it (no Domain, path /)."""
    everywhere = ["https://testserver", "https://127.0.0.1", "http://testserver"]
    for base_url in [*everywhere, "http://tokens.example.com", "http://10.1.2.3"]:
        assert _login_cookie(runtime, base_url, "__Host-tw_session") == {
            "secure",
            "httponly",
            "samesite=lax",
            "path=/",
            f"max-age={TWELVE_HOURS}",
        }, base_url


def test_cookie_secure_setting_overrides_the_loopback_exception(
    app_over: Callable[..., tuple[Runtime, TestClient]],
) -> None:
    rt, _ = app_over(cookie_secure=True)
    make_user(rt, "alice")
    with web_client(rt) as client:
        response = client.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert "secure" in _cookie_attributes(response.headers["set-cookie"], "__Host-tw_session")[1]


def test_wrong_password_unknown_user_deactivated_user_and_bad_name_get_one_identical_401(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    gone = make_user(runtime, "carol")
    runtime.accounts.deactivate(gone.id, TEST_ACTOR)
    before = db_rows()
    attempts = [
        ("alice", "not-the-password-at-all"),
        ("nobody", PASSWORD),
        ("carol", PASSWORD),  # right password, deactivated account
        ("ali\u0000ce", PASSWORD),  # a name that cannot exist
    ]
    answers = [
        web.post("/v1/session", json={"username": name, "password": password})
        for name, password in attempts
    ]
    first = answers[0]
    body = problem(first, 401)
    assert body["type"] == "/problems/login-failed"
    assert first.headers["www-authenticate"] == 'Bearer realm="tokenward"'
    for answer in answers:
        assert answer.status_code == 401
        assert answer.content == first.content
        assert dict(answer.headers) == dict(first.headers)
        assert "set-cookie" not in answer.headers
    assert except_events(db_rows()) == except_events(before)
    failed = events(runtime, "session.login_failed")
    assert [e.outcome for e in failed] == ["failed"] * 4
    assert [e.subject for e in failed] == [alice.id, "unknown user", gone.id, "unknown user"]
    assert all(PASSWORD not in str(e.details) for e in failed)


def test_login_with_a_malformed_body_is_422_and_logs_nobody_in(
    web: TestClient, alice: UserRecord, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    before = db_rows()
    for body in [{"username": "alice"}, {"username": "alice", "password": 12}, {"username": []}]:
        response = web.post("/v1/session", json=body)
        problem(response, 422)
        assert "set-cookie" not in response.headers
    assert db_rows() == before


def test_a_cross_site_login_form_is_refused_and_sets_no_cookie(
    web: TestClient, alice: UserRecord, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    """A page on another site can send a form or text/plain, never JSON without a preflight."""
    before = db_rows()
    payload = f'{{"username":"alice","password":"{PASSWORD}"}}'
    for content_type in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]:
        headers = {"Content-Type": content_type}
        response = web.post("/v1/session", content=payload, headers=headers)
        body = problem(response, 400)
        assert body["type"] == "/problems/bad-content-type"
        assert "set-cookie" not in response.headers
    assert db_rows() == before


def test_get_session_without_a_cookie_is_401(
    web: TestClient, alice_token: CreatedToken, problem: ProblemCheck
) -> None:
    check_unauthenticated(web.get("/v1/session"), problem)
    check_unauthenticated(web.get("/v1/session", headers=bearer(alice_token.secret)), problem)


def test_logout_is_204_clears_the_cookie_and_the_old_cookie_no_longer_works(
    web: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    session, other = log_in(web, "alice"), log_in(web, "alice")
    response = web.delete("/v1/session", headers=session.writes)
    assert response.status_code == 204
    assert response.content == b""
    value, attributes = _cookie_attributes(response.headers["set-cookie"])
    assert value in ("", '""')
    assert {"max-age=0", "httponly", "samesite=lax", "path=/"} <= attributes
    # Replaying the old cookie: anonymous now, for reads and writes alike.
    check_unauthenticated(web.get("/v1/session", headers=session.cookie), problem)
    check_unauthenticated(web.get("/v1/self", headers=session.cookie), problem)
    check_unauthenticated(
        web.post("/v1/tokens", json={"label": "after logout"}, headers=session.writes), problem
    )
    assert runtime.tokens.list(alice.id).items == []
    # Only that session ended.
    assert web.get("/v1/session", headers=other.cookie).json()["csrf_token"] == other.csrf
    [ended] = events(runtime, "session.ended")
    assert (ended.subject, ended.actor) == (session.id, session.id)


def test_a_session_ends_after_its_lifetime(
    web: TestClient, clock: FakeClock, alice: UserRecord, problem: ProblemCheck
) -> None:
    session = log_in(web, "alice")
    clock.advance(hours=12, seconds=-1)
    assert web.get("/v1/session", headers=session.cookie).status_code == 200
    clock.advance(seconds=1)
    check_unauthenticated(web.get("/v1/session", headers=session.cookie), problem)


def test_sessions_are_stored_as_digests_only(
    web: TestClient, alice: UserRecord, database_url: str, db_rows: RowsOf
) -> None:
    session = log_in(web, "alice")
    digest = token_format.digest(session.secret)
    [row] = db_rows()["sessions"]
    assert digest in row
    raw = stored_bytes(database_url)
    assert digest.encode() in raw  # the control: the scan sees what the store keeps
    for secret in (session.secret, session.secret[4:], session.csrf):
        assert secret.encode() not in raw


# --- CSRF --------------------------------------------------------------------------------------

WriteCase = tuple[str, str, dict[str, Any] | None, int]


def _write_cases(runtime: Runtime, alice: UserRecord, root: UserRecord) -> dict[str, WriteCase]:
    """Cookie-authenticated state changes, as root (an admin), with the status they earn."""
    token = make_token(runtime, root, "root's laptop")
    key = admin_key(runtime, root)
    document = {
        "user_token": {"default_days": 30, "max_days": 60, "allow_no_expiry": False},
        "admin_key": {"default_days": 7, "max_days": 365},
        "reminder_days": [7],
    }
    return {
        "create token": ("POST", "/v1/tokens", {"label": "from the browser"}, 201),
        "revoke token": ("DELETE", f"/v1/tokens/{token.record.id}", None, 200),
        "logout everywhere": ("POST", "/v1/session/logout-all", {"revoke_tokens": True}, 200),
        "logout": ("DELETE", "/v1/session", None, 204),
        "deactivate": ("POST", f"/v1/admin/users/{alice.id}/deactivate", None, 200),
        "create user": ("POST", "/v1/admin/users", {"username": "dan", "password": PASSWORD}, 201),
        "put policy": ("PUT", "/v1/admin/policy", document, 200),
        "create key": ("POST", "/v1/admin/keys", {"label": "cli"}, 201),
        "revoke key": ("DELETE", f"/v1/admin/keys/{key.record.id}", None, 200),
    }


CASES = [
    "create token",
    "revoke token",
    "logout everywhere",
    "logout",
    "deactivate",
    "create user",
    "put policy",
    "create key",
    "revoke key",
]


@pytest.mark.parametrize("case", CASES)
def test_cookie_write_without_the_right_csrf_token_is_403_and_changes_nothing(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    root: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
    case: str,
) -> None:
    method, path, body, status = _write_cases(runtime, alice, root)[case]
    session, other = log_in(web, "root"), log_in(web, "root")
    before = db_rows()
    refused: dict[str, dict[str, str]] = {
        "missing": session.cookie,
        "wrong": {**session.cookie, "X-CSRF-Token": session.csrf[::-1]},
        "empty": {**session.cookie, "X-CSRF-Token": ""},
        "another session's": {**session.cookie, "X-CSRF-Token": other.csrf},
        "the cookie itself": {**session.cookie, "X-CSRF-Token": session.secret},
    }
    for how, headers in refused.items():
        response = web.request(method, path, json=body, headers=headers)
        check_csrf_refused(response, problem)
        assert db_rows() == before, how
    # The same request with the session's own token goes through.
    response = web.request(method, path, json=body, headers=session.writes)
    assert response.status_code == status, response.text
    assert db_rows() != before


def test_a_cross_site_form_post_with_the_cookie_is_403_and_changes_nothing(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    root: UserRecord,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    """What a page on another site can make a browser send: a form, with the cookie, no header."""
    response = web.post("/v1/session", json={"username": "root", "password": PASSWORD})
    assert response.status_code == 200  # the jar now holds root's cookie, as a browser would
    before = db_rows()
    for path, form in [
        ("/v1/tokens", {"label": "planted"}),
        (f"/v1/admin/users/{alice.id}/deactivate", {}),
        ("/v1/admin/keys", {"label": "planted"}),
        ("/v1/session/logout-all", {"revoke_tokens": "true"}),
    ]:
        check_csrf_refused(web.post(path, data=form), problem)
        assert db_rows() == before, path
    assert runtime.accounts.by_id(alice.id).status.value == "active"


def test_reads_with_the_cookie_need_no_csrf_token(
    web: TestClient, alice_token: CreatedToken
) -> None:
    session = log_in(web, "alice")
    response = web.get("/v1/tokens", headers=session.cookie)
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [alice_token.record.id]


def test_bearer_requests_need_no_csrf_token(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    root: UserRecord,
) -> None:
    response = web.post("/v1/tokens", json={"label": "ci"}, headers=bearer(alice_token.secret))
    assert response.status_code == 201, response.text
    key = admin_key(runtime, root)
    response = web.post(f"/v1/admin/users/{alice.id}/deactivate", headers=bearer(key.secret))
    assert response.status_code == 200, response.text


def test_a_bearer_token_wins_over_a_cookie_and_needs_no_csrf_token(
    web: TestClient, runtime: Runtime, alice_token: CreatedToken, root: UserRecord
) -> None:
    """With both, the request acts as the token's owner: the cookie is not consulted at all."""
    session = log_in(web, "root")
    headers = {**session.cookie, **bearer(alice_token.secret)}
    response = web.post("/v1/tokens", json={"label": "whose?"}, headers=headers)
    assert response.status_code == 201
    labels = {t.label for t in runtime.tokens.list(alice_token.record.user_id).items}
    assert labels == {"alice's laptop", "whose?"}
    assert runtime.tokens.list(root.id).items == []


def test_a_non_ascii_csrf_header_is_403_and_changes_nothing(
    runtime: Runtime, alice: UserRecord, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    """Raw Latin-1 bytes in the header are a wrong token, not a server error."""
    with web_client(runtime, raise_server_exceptions=False) as client:
        session = log_in(client, "alice")
        before = db_rows()
        headers: dict[str, Any] = {**session.cookie, "X-CSRF-Token": b"\xe9t\xe9"}  # Latin-1
        response = client.post("/v1/tokens", json={"label": "x"}, headers=headers)
    assert db_rows() == before
    check_csrf_refused(response, problem)


# --- logging out everywhere --------------------------------------------------------------------


def test_logout_all_ends_every_session_of_the_caller_and_keeps_its_tokens(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    alice_token: CreatedToken,
    problem: ProblemCheck,
) -> None:
    make_user(runtime, "bob")
    first, second, bobs = log_in(web, "alice"), log_in(web, "alice"), log_in(web, "bob")
    response = web.post("/v1/session/logout-all", headers=first.writes)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "sessions_ended": 2,
        "tokens_revoked": 0,
        "effective_by": "2026-01-01T12:00:01.000Z",
    }
    for session in (first, second):
        check_unauthenticated(web.get("/v1/session", headers=session.cookie), problem)
    assert web.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200
    assert web.get("/v1/session", headers=bobs.cookie).status_code == 200
    [done] = events(runtime, "session.logout_all")
    assert (done.subject, done.actor, done.user_agent) == (alice.id, first.id, AGENT)
    assert done.details == {"sessions_ended": 2, "tokens_revoked": 0}


def test_logout_all_with_revoke_tokens_also_revokes_every_token(
    web: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    tokens = [make_token(runtime, alice, f"device {n}") for n in range(3)]
    bobs_token = make_token(runtime, make_user(runtime, "bob"))
    sessions = [log_in(web, "alice"), log_in(web, "alice")]
    response = web.post(
        "/v1/session/logout-all", json={"revoke_tokens": True}, headers=bearer(tokens[0].secret)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "sessions_ended": 2,
        "tokens_revoked": 3,
        "effective_by": "2026-01-01T12:00:01.000Z",
    }
    for token in tokens:
        check_invalid_token(web.get("/v1/self", headers=bearer(token.secret)), problem)
    for session in sessions:
        check_unauthenticated(web.get("/v1/session", headers=session.cookie), problem)
    assert web.get("/v1/self", headers=bearer(bobs_token.secret)).status_code == 200
    revoked = events(runtime, "token.revoked")
    assert sorted(e.subject for e in revoked) == sorted(t.record.id for t in tokens)
    assert {e.actor for e in revoked} == {tokens[0].record.id}


def test_logout_all_from_a_session_with_revoke_tokens_counts_both(
    web: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck
) -> None:
    tokens = [make_token(runtime, alice, f"device {n}") for n in range(2)]
    session = log_in(web, "alice")
    response = web.post(
        "/v1/session/logout-all", json={"revoke_tokens": True}, headers=session.writes
    )
    assert response.status_code == 200
    assert (response.json()["sessions_ended"], response.json()["tokens_revoked"]) == (1, 2)
    for token in tokens:
        check_invalid_token(web.get("/v1/self", headers=bearer(token.secret)), problem)


def test_logout_all_with_a_bad_body_is_422_and_changes_nothing(
    web: TestClient, alice: UserRecord, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    session = log_in(web, "alice")
    before = db_rows()
    bodies: list[dict[str, object]] = [
        {"revoke_tokens": "yes"},
        {"revoke_tokens": 1},
        {"all": True},
    ]
    for body in bodies:
        response = web.post("/v1/session/logout-all", json=body, headers=session.writes)
        assert fields_of(problem(response, 422)) == [next(iter(body))]
    assert db_rows() == before


def test_logout_all_with_a_read_only_token_is_403_and_changes_nothing(
    web: TestClient, runtime: Runtime, alice: UserRecord, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    reader = make_token(runtime, alice, "reader", scopes=("tokens:read",))
    log_in(web, "alice")
    before = db_rows()
    response = web.post(
        "/v1/session/logout-all", json={"revoke_tokens": True}, headers=bearer(reader.secret)
    )
    assert problem(response, 403, error="insufficient_scope")["scope"] == "tokens:write"
    assert db_rows() == before
