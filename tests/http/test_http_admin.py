"""``/v1/admin``: who may call it (and the audit of who tried), deactivation and reactivation,
users, every token, admin API keys, the policy and the audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from admin_support import (
    AGENT,
    CLIENT_IP,
    PASSWORD,
    ProblemCheck,
    RowsOf,
    WebSession,
    admin_key,
    bearer,
    check_insufficient_admin,
    check_invalid_token,
    check_unauthenticated,
    events,
    except_events,
    fields_of,
    last_seq,
    log_in,
    only_failures_audited,
    web_client,
)
from starlette.testclient import TestClient

from tokenward.domain.model import UserRecord
from tokenward.http import admin
from tokenward.http.views import rfc3339
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import TEST_ACTOR, FakeClock, make_token, make_user

START = "2026-01-01T12:00:00.000Z"  # the FakeClock's start
POLICY = {
    "user_token": {"default_days": 90, "max_days": 365, "allow_no_expiry": False},
    "admin_key": {"default_days": 7, "max_days": 365},
    "reminder_days": [30, 7, 1],
    "revoke_family_on_reuse": False,
}


@pytest.fixture
def web(runtime: Runtime) -> Iterator[TestClient]:
    with web_client(runtime) as client:
        yield client


@pytest.fixture
def root(runtime: Runtime) -> UserRecord:
    """The organisation's only admin."""
    return make_user(runtime, "root", is_admin=True)


@pytest.fixture
def root_key(runtime: Runtime, root: UserRecord) -> CreatedToken:
    """An admin API key of root's with scope ``admin``."""
    return admin_key(runtime, root)


@pytest.fixture
def admin_caller(
    request: pytest.FixtureRequest, web: TestClient, root_key: CreatedToken
) -> tuple[dict[str, str], str]:
    """Headers and audited actor id of root, calling with its admin key or its web session
    (parametrise indirectly with ``"key"`` or ``"session"``)."""
    if request.param == "key":
        return bearer(root_key.secret), root_key.record.id
    session = log_in(web, "root")
    return session.writes, session.id


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# --- who may call ------------------------------------------------------------------------------


def _admin_requests(runtime: Runtime, root_key: CreatedToken) -> list[tuple[str, str, Any]]:
    """One request to every admin endpoint, each of which would change or reveal something."""
    bob = make_user(runtime, "bob")
    bobs_token = make_token(runtime, bob)
    carol = make_user(runtime, "carol")
    runtime.accounts.deactivate(carol.id, TEST_ACTOR)
    new_user = {"username": "mallory", "password": PASSWORD, "is_admin": True}
    return [
        ("POST", "/v1/admin/users", new_user),
        ("GET", "/v1/admin/users", None),
        ("POST", f"/v1/admin/users/{bob.id}/deactivate", None),
        ("POST", f"/v1/admin/users/{carol.id}/reactivate", None),
        ("GET", "/v1/admin/tokens", None),
        ("DELETE", f"/v1/admin/tokens/{bobs_token.record.id}", None),
        ("POST", "/v1/admin/keys", {"label": "escalation", "scopes": ["admin"]}),
        ("GET", "/v1/admin/keys", None),
        ("DELETE", f"/v1/admin/keys/{root_key.record.id}", None),
        ("GET", "/v1/admin/policy", None),
        ("PUT", "/v1/admin/policy", {**POLICY, "reminder_days": [1]}),
        ("GET", "/v1/admin/audit", None),
    ]


def _shape(path: str) -> str:
    """A path with its ids (or, for a route, its parameters) as ``{}``."""
    ids = ("usr_", "tok_", "{")
    return "/".join("{}" if part.startswith(ids) else part for part in path.split("/"))


def test_the_refusal_tests_cover_every_admin_endpoint(
    runtime: Runtime, root_key: CreatedToken
) -> None:
    asked = {(method, _shape(path)) for method, path, _ in _admin_requests(runtime, root_key)}
    served = {
        (method, _shape(getattr(route, "path", "")))
        for route in admin.router.routes
        for method in getattr(route, "methods", set()) - {"HEAD"}
    }
    assert asked == served


def _non_admin(name: str, web: TestClient, runtime: Runtime, root: UserRecord) -> tuple[Any, str]:
    """Headers and actor id of a caller that is not an admin with scope ``admin``."""
    alice = make_user(runtime, "alice")
    if name == "non-admin session":
        session = log_in(web, "alice")
        return session.writes, session.id  # the right CSRF token: only the role is missing
    if name == "non-admin token":
        token = make_token(runtime, alice)
    elif name == "admin key without the admin scope":
        token = admin_key(runtime, root, "introspect")
    else:  # an admin's own user token: tokens:read and tokens:write only
        token = make_token(runtime, root)
    return bearer(token.secret), token.record.id


@pytest.mark.parametrize(
    "caller",
    [
        "non-admin session",
        "non-admin token",
        "admin key without the admin scope",
        "admin's user token",
    ],
)
def test_every_admin_endpoint_refuses_a_caller_without_the_admin_role_and_audits_it(
    web: TestClient,
    runtime: Runtime,
    root: UserRecord,
    root_key: CreatedToken,
    problem: ProblemCheck,
    db_rows: RowsOf,
    caller: str,
) -> None:
    headers, actor = _non_admin(caller, web, runtime, root)
    for method, path, body in _admin_requests(runtime, root_key):
        before, seq = db_rows(), last_seq(runtime)
        response = web.request(method, path, json=body, headers=headers)
        check_insufficient_admin(response, problem)
        assert except_events(db_rows()) == except_events(before), path
        [denied] = events(runtime, after=seq)
        assert (denied.type, denied.outcome, denied.actor) == ("admin.denied", "denied", actor)
        assert (denied.ip, denied.user_agent, denied.at) == (CLIENT_IP, AGENT, runtime.clock.now())
        assert _shape(denied.subject) == _shape(path)  # the endpoint tried, as its template
        assert denied.details["action"] == f"{method} {path}"
    assert web.get("/v1/self", headers=bearer(root_key.secret)).status_code == 200


def test_every_admin_endpoint_without_a_credential_is_401_and_changes_nothing(
    web: TestClient,
    runtime: Runtime,
    root_key: CreatedToken,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    for method, path, body in _admin_requests(runtime, root_key):
        before = db_rows()
        check_unauthenticated(web.request(method, path, json=body), problem)
        stale = {"Cookie": "tw_session=tws_not-a-session"}
        check_unauthenticated(web.request(method, path, json=body, headers=stale), problem)
        assert db_rows() == before, path


def test_a_denied_request_with_a_secret_in_its_path_is_403_and_the_audit_holds_no_secret(
    web: TestClient, runtime: Runtime, alice_token: CreatedToken, problem: ProblemCheck
) -> None:
    """A caller pastes a token where an id belongs: refused, audited, and the secret kept out."""
    headers = bearer(alice_token.secret)
    for path in [
        f"/v1/admin/tokens/{alice_token.secret}",
        f"/v1/admin/keys/{alice_token.secret}",
        f"/v1/admin/tokens/{'x' * 300}",
    ]:
        check_insufficient_admin(web.delete(path, headers=headers), problem)
    denied = events(runtime, "admin.denied")
    assert len(denied) == 3
    for event in denied:
        assert alice_token.secret[8:] not in json.dumps([event.subject, event.details])
        assert len(event.subject) <= 64


# --- deactivation: the "done when" scenario ----------------------------------------------------


@pytest.mark.parametrize("admin_caller", ["key", "session"], indirect=True)
def test_deactivation_refuses_all_3_tokens_and_2_sessions_and_the_audit_says_who_when_where(
    web: TestClient,
    runtime: Runtime,
    clock: FakeClock,
    alice: UserRecord,
    admin_caller: tuple[dict[str, str], str],
    problem: ProblemCheck,
) -> None:
    headers, actor = admin_caller
    tokens = [make_token(runtime, alice, f"device {n}") for n in range(3)]
    sessions = [log_in(web, "alice"), log_in(web, "alice")]
    for token in tokens:
        assert web.get("/v1/self", headers=bearer(token.secret)).status_code == 200
    for session in sessions:
        assert web.get("/v1/session", headers=session.cookie).status_code == 200
    clock.advance(minutes=5)
    when = clock.now()

    response = web.post(f"/v1/admin/users/{alice.id}/deactivate", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": alice.id,
        "status": "deactivated",
        "tokens_revoked": 3,
        "sessions_ended": 2,
        "effective_by": rfc3339(when + timedelta(seconds=1)),
    }

    for token in tokens:
        check_invalid_token(web.get("/v1/self", headers=bearer(token.secret)), problem)
        check_invalid_token(web.get("/v1/tokens", headers=bearer(token.secret)), problem)
    for session in sessions:
        check_unauthenticated(web.get("/v1/session", headers=session.cookie), problem)
        check_unauthenticated(
            web.post("/v1/tokens", json={"label": "x"}, headers=session.writes), problem
        )
    failed = web.post("/v1/session", json={"username": "alice", "password": PASSWORD})
    assert problem(failed, 401)["type"] == "/problems/login-failed"

    audit = web.get("/v1/admin/audit", params={"type": "user.deactivated"}, headers=headers)
    assert audit.status_code == 200
    [event] = audit.json()["items"]
    assert event == {
        "seq": event["seq"],
        "at": rfc3339(when),
        "type": "user.deactivated",
        "actor": actor,
        "subject": alice.id,
        "ip": CLIENT_IP,
        "user_agent": AGENT,
        "outcome": "success",
        "details": {
            "username": "alice",
            "tokens_revoked": 3,
            "sessions_ended": 2,
            "token_ids": event["details"]["token_ids"],
            "session_ids": event["details"]["session_ids"],
        },
    }
    ids = sorted(t.record.id for t in tokens)
    assert sorted(event["details"]["token_ids"]) == ids
    assert sorted(event["details"]["session_ids"]) == sorted(s.id for s in sessions)
    revoked = web.get("/v1/admin/audit", params={"type": "token.revoked"}, headers=headers)
    items = revoked.json()["items"]
    assert sorted(item["subject"] for item in items) == ids
    for item in items:
        assert (item["actor"], item["ip"], item["user_agent"]) == (actor, CLIENT_IP, AGENT)
        assert item["at"] == rfc3339(when)
        assert item["details"]["reason"] == "owner deactivated"
    users = web.get("/v1/admin/users", headers=headers).json()["items"]
    [listed] = [user for user in users if user["id"] == alice.id]
    assert (listed["status"], listed["active_tokens"]) == ("deactivated", 0)


def test_reactivation_restores_login_but_revoked_tokens_stay_revoked(
    web: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    root_key: CreatedToken,
    problem: ProblemCheck,
) -> None:
    token = make_token(runtime, alice)
    old = log_in(web, "alice")
    key = bearer(root_key.secret)
    assert web.post(f"/v1/admin/users/{alice.id}/deactivate", headers=key).status_code == 200

    response = web.post(f"/v1/admin/users/{alice.id}/reactivate", headers=key)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": alice.id,
        "username": "alice",
        "is_admin": False,
        "status": "active",
        "created_at": START,
        "email": None,
    }
    check_invalid_token(web.get("/v1/self", headers=bearer(token.secret)), problem)
    check_unauthenticated(web.get("/v1/session", headers=old.cookie), problem)
    fresh = log_in(web, "alice")
    assert web.get("/v1/session", headers=fresh.cookie).status_code == 200
    assert web.get("/v1/tokens", headers=fresh.cookie).json()["items"][0]["status"] == "revoked"
    # Again: the same answer, and no second event.
    again = web.post(f"/v1/admin/users/{alice.id}/reactivate", headers=key)
    assert again.json() == response.json()
    [event] = events(runtime, "user.reactivated")
    assert (event.subject, event.actor) == (alice.id, root_key.record.id)


@pytest.mark.parametrize("admin_caller", ["key", "session"], indirect=True)
def test_deactivating_yourself_as_the_last_admin_is_409_and_changes_nothing(
    web: TestClient,
    runtime: Runtime,
    root: UserRecord,
    root_key: CreatedToken,
    admin_caller: tuple[dict[str, str], str],
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    headers, _ = admin_caller
    before = db_rows()
    response = web.post(f"/v1/admin/users/{root.id}/deactivate", headers=headers)
    assert problem(response, 409)["type"] == "/problems/conflict"
    assert only_failures_audited(db_rows(), before)
    assert runtime.accounts.by_id(root.id).status.value == "active"
    assert web.get("/v1/self", headers=bearer(root_key.secret)).status_code == 200
    assert web.get("/v1/admin/users", headers=headers).status_code == 200
    assert events(runtime, "user.deactivated") == []


def test_an_admin_may_deactivate_another_admin_but_not_the_last_one(
    web: TestClient,
    runtime: Runtime,
    root: UserRecord,
    root_key: CreatedToken,
    problem: ProblemCheck,
) -> None:
    deputy = make_user(runtime, "deputy", is_admin=True)
    deputys_key = admin_key(runtime, deputy)
    response = web.post(f"/v1/admin/users/{root.id}/deactivate", headers=bearer(deputys_key.secret))
    assert response.status_code == 200
    assert response.json()["tokens_revoked"] == 1  # root's admin key
    check_invalid_token(web.get("/v1/admin/users", headers=bearer(root_key.secret)), problem)
    response = web.post(
        f"/v1/admin/users/{deputy.id}/deactivate", headers=bearer(deputys_key.secret)
    )
    problem(response, 409)


def test_deactivating_or_reactivating_an_unknown_user_is_404(
    web: TestClient, root_key: CreatedToken, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    before = db_rows()
    for action in ("deactivate", "reactivate"):
        for user_id in ["usr_00000000000000000", "nobody", "tok_00000000000000000"]:
            path = f"/v1/admin/users/{user_id}/{action}"
            problem(web.post(path, headers=bearer(root_key.secret)), 404)
    assert only_failures_audited(db_rows(), before)


# --- admin API keys ----------------------------------------------------------------------------


def test_an_admin_key_without_a_lifetime_expires_exactly_7_days_later_and_is_shown_once(
    web: TestClient,
    runtime: Runtime,
    clock: FakeClock,
    root: UserRecord,
    problem: ProblemCheck,
) -> None:
    session = log_in(web, "root")
    response = web.post("/v1/admin/keys", json={"label": "deploy bot"}, headers=session.writes)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    secret = created["token"]
    assert created == {
        "id": created["id"],
        "token": secret,
        "label": "deploy bot",
        "scopes": ["admin"],
        "created_at": START,
        "expires_at": "2026-01-08T12:00:00.000Z",
        "hint": secret[:8] + "…",
    }
    assert secret.startswith("twa_") and len(secret) == 53
    listed = web.get("/v1/admin/keys", headers=bearer(secret))
    assert _ids(listed) == [created["id"]]
    assert listed.json()["items"][0]["kind"] == "admin_key"
    assert secret[8:] not in listed.text
    assert secret[8:] not in web.get(f"/v1/tokens/{created['id']}", headers=session.cookie).text

    clock.advance(days=7, seconds=-1)
    assert web.get("/v1/admin/users", headers=bearer(secret)).status_code == 200
    clock.advance(seconds=1)
    response = web.get("/v1/admin/users", headers=bearer(secret))
    check_invalid_token(response, problem)
    assert "expired" in response.headers["www-authenticate"]
    [made] = events(runtime, "token.created")[-1:]
    assert made.details["kind"] == "a" and made.actor == session.id


def test_an_admin_key_may_live_365_days_and_366_is_422_naming_expires_in_days(
    web: TestClient, root_key: CreatedToken, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    key = bearer(root_key.secret)
    before = db_rows()
    for days in (366, 0, -1, 100_000):
        body = {"label": "long", "expires_in_days": days}
        refused = problem(web.post("/v1/admin/keys", json=body, headers=key), 422)
        assert fields_of(refused) == ["expires_in_days"]
    assert "365" in refused["detail"]
    assert only_failures_audited(db_rows(), before)
    body = {"label": "long", "expires_in_days": 365}
    response = web.post("/v1/admin/keys", json=body, headers=key)
    assert response.status_code == 201
    assert response.json()["expires_at"] == "2027-01-01T12:00:00.000Z"  # 2026 has 365 days


def test_admin_key_scopes_other_than_admin_and_introspect_are_422_naming_scopes(
    web: TestClient, root: UserRecord, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    session = log_in(web, "root")
    before = db_rows()
    for scopes in [["tokens:read"], ["read"], ["superuser"], ["admin", "tokens:write"], ["ADMIN"]]:
        body = {"label": "odd", "scopes": scopes}
        response = web.post("/v1/admin/keys", json=body, headers=session.writes)
        assert fields_of(problem(response, 422)) == ["scopes"], scopes
    assert only_failures_audited(db_rows(), before)


def test_an_admin_session_may_create_an_introspect_only_key(
    web: TestClient, root: UserRecord
) -> None:
    session = log_in(web, "root")
    body = {"label": "resource server", "scopes": ["introspect"], "expires_in_days": 30}
    response = web.post("/v1/admin/keys", json=body, headers=session.writes)
    assert response.status_code == 201
    assert (response.json()["scopes"], response.json()["expires_at"]) == (
        ["introspect"],
        "2026-01-31T12:00:00.000Z",
    )


def test_admin_keys_are_listed_and_revoked_and_a_revoked_key_is_refused(
    web: TestClient,
    runtime: Runtime,
    root: UserRecord,
    root_key: CreatedToken,
    alice_token: CreatedToken,
    problem: ProblemCheck,
) -> None:
    other = admin_key(runtime, root, "introspect", label="gateway")
    key = bearer(root_key.secret)
    assert sorted(_ids(web.get("/v1/admin/keys", headers=key))) == sorted(
        [root_key.record.id, other.record.id]
    )
    response = web.delete(f"/v1/admin/keys/{other.record.id}", headers=key)
    assert response.status_code == 200
    assert response.json() == {
        "id": other.record.id,
        "status": "revoked",
        "revoked_at": START,
        "effective_by": "2026-01-01T12:00:01.000Z",
    }
    assert web.delete(f"/v1/admin/keys/{other.record.id}", headers=key).json() == response.json()
    check_invalid_token(web.get("/v1/self", headers=bearer(other.record.id)), problem)
    check_invalid_token(web.get("/v1/self", headers=bearer(other.secret)), problem)
    revoked = web.get("/v1/admin/keys", params={"status": "revoked"}, headers=key)
    assert _ids(revoked) == [other.record.id]
    [event] = events(runtime, "token.revoked")
    assert (event.subject, event.actor, event.details["reason"]) == (
        other.record.id,
        root_key.record.id,
        "admin",
    )


def test_revoking_a_user_token_through_the_admin_keys_endpoint_is_404_and_it_keeps_working(
    web: TestClient,
    root_key: CreatedToken,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    before = db_rows()
    response = web.delete(
        f"/v1/admin/keys/{alice_token.record.id}", headers=bearer(root_key.secret)
    )
    problem(response, 404)
    assert only_failures_audited(db_rows(), before)
    assert web.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200


# --- users -------------------------------------------------------------------------------------


def test_create_user_is_201_with_its_shape_and_the_user_can_log_in(
    web: TestClient, runtime: Runtime, root_key: CreatedToken
) -> None:
    body = {"username": "Dana", "password": "dana's long password", "is_admin": True}
    response = web.post("/v1/admin/users", json=body, headers=bearer(root_key.secret))
    assert response.status_code == 201, response.text
    created = response.json()
    assert created == {
        "id": created["id"],
        "username": "dana",
        "is_admin": True,
        "status": "active",
        "created_at": START,
        "email": None,
    }
    assert created["id"].startswith("usr_")
    assert log_in(web, "dana", "dana's long password").user_id == created["id"]
    [event] = events(runtime, "user.created")[-1:]
    assert (event.subject, event.actor) == (created["id"], root_key.record.id)
    assert event.details == {"username": "dana", "is_admin": True}


def test_a_taken_username_is_409_also_in_another_case_or_full_width(
    web: TestClient,
    alice: UserRecord,
    root_key: CreatedToken,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    before = db_rows()
    for username in ["alice", "Alice", "ＡＬＩＣＥ", "ａｌｉｃｅ"]:
        body = {"username": username, "password": PASSWORD}
        response = web.post("/v1/admin/users", json=body, headers=bearer(root_key.secret))
        problem(response, 409)
    assert only_failures_audited(db_rows(), before)


LOOK_ALIKES = [
    "\u0430lice",  # Cyrillic a
    "\u03b1lice",  # Greek alpha
    "ali\u0000ce",
    "ali\nce",
    "alice\u202e",  # right-to-left override
    "ali\u200bce",  # zero-width space
    "ali ce",
    "",
    "-alice",
    "a" * 65,
]


def test_look_alike_and_control_character_usernames_are_422_naming_username(
    web: TestClient, root_key: CreatedToken, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    before = db_rows()
    for username in LOOK_ALIKES:
        body = {"username": username, "password": PASSWORD}
        response = web.post("/v1/admin/users", json=body, headers=bearer(root_key.secret))
        assert fields_of(problem(response, 422)) == ["username"], repr(username)
    assert only_failures_audited(db_rows(), before)


def test_create_user_with_a_bad_field_is_422_naming_it(
    web: TestClient, root_key: CreatedToken, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    before = db_rows()
    for body, field in [
        ({"username": "dana", "password": "short"}, "password"),
        ({"username": "dana"}, "password"),
        ({"username": "dana", "password": PASSWORD, "is_admin": "yes"}, "is_admin"),
        ({"username": "dana", "password": PASSWORD, "role": "admin"}, "role"),
    ]:
        response = web.post("/v1/admin/users", json=body, headers=bearer(root_key.secret))
        assert fields_of(problem(response, 422)) == [field], body
    assert only_failures_audited(db_rows(), before)


def test_the_user_list_shows_status_and_active_token_counts(
    web: TestClient,
    runtime: Runtime,
    clock: FakeClock,
    root: UserRecord,
    root_key: CreatedToken,
    alice: UserRecord,
) -> None:
    make_token(runtime, alice, "short", expires_in_days=1)
    revoked = make_token(runtime, alice, "revoked")
    runtime.tokens.revoke(revoked.record.id, by=TEST_ACTOR, owner_id=None)
    make_token(runtime, alice, "one")
    make_token(runtime, alice, "two")
    carol = make_user(runtime, "carol")
    make_token(runtime, carol)
    runtime.accounts.deactivate(carol.id, TEST_ACTOR)
    clock.advance(days=2)  # "short" has expired
    response = web.get("/v1/admin/users", headers=bearer(root_key.secret))
    assert response.status_code == 200
    assert [
        (u["username"], u["status"], u["active_tokens"], u["is_admin"])
        for u in response.json()["items"]
    ] == [
        ("alice", "active", 2, False),
        ("carol", "deactivated", 0, False),
        ("root", "active", 1, True),
    ]


# --- every token -------------------------------------------------------------------------------


def test_the_token_list_filters_by_user_name_or_id_status_and_kind(
    web: TestClient,
    runtime: Runtime,
    root: UserRecord,
    root_key: CreatedToken,
    alice: UserRecord,
    clock: FakeClock,
) -> None:
    clock.advance(seconds=1)  # after root's key
    first = make_token(runtime, alice, "first")
    clock.advance(seconds=1)
    second = make_token(runtime, alice, "second")
    runtime.tokens.revoke(first.record.id, by=TEST_ACTOR, owner_id=None)
    clock.advance(seconds=1)
    bobs = make_token(runtime, make_user(runtime, "bob"))
    key = bearer(root_key.secret)

    def listed(**query: str) -> list[str]:
        return _ids(web.get("/v1/admin/tokens", params=query, headers=key))

    every = listed()
    assert every == [bobs.record.id, second.record.id, first.record.id, root_key.record.id]
    assert listed(user="alice") == [second.record.id, first.record.id]
    assert listed(user="ALICE") == listed(user="alice")
    assert listed(user=alice.id) == [second.record.id, first.record.id]
    assert listed(user="alice", status="active") == [second.record.id]
    assert listed(status="revoked") == [first.record.id]
    assert listed(kind="admin_key") == [root_key.record.id]
    assert listed(kind="user_token") == every[:3]
    assert listed(user="root", kind="user_token") == []
    items = web.get("/v1/admin/tokens", params={"user": "bob"}, headers=key).json()["items"]
    assert items[0]["user_id"] == bobs.record.user_id
    assert bobs.secret[8:] not in json.dumps(items)


def test_the_token_list_finds_a_user_whose_name_starts_like_an_id(
    web: TestClient, runtime: Runtime, root_key: CreatedToken
) -> None:
    """``usr_bob`` is a valid username: filtering by it must find bob's tokens."""
    odd = make_user(runtime, "usr_bob")
    token = make_token(runtime, odd)
    query = {"user": "usr_bob"}
    response = web.get("/v1/admin/tokens", params=query, headers=bearer(root_key.secret))
    assert _ids(response) == [token.record.id]


def test_the_token_list_with_a_bad_filter_is_422_naming_it(
    web: TestClient, alice: UserRecord, root_key: CreatedToken, problem: ProblemCheck
) -> None:
    for query, field in [
        ({"kind": "session"}, "kind"),
        ({"kind": "USER_TOKEN"}, "kind"),
        ({"status": "gone"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"user": "\u0430lice"}, "user"),  # Cyrillic a: no such name can exist
        ({"cursor": "not-a-cursor"}, "cursor"),
    ]:
        response = web.get("/v1/admin/tokens", params=query, headers=bearer(root_key.secret))
        assert fields_of(problem(response, 422)) == [field], query


def test_the_token_list_for_an_unknown_user_name_or_id_is_404(
    web: TestClient, root_key: CreatedToken, problem: ProblemCheck
) -> None:
    for user in ["nobody", "usr_00000000000000000"]:
        query = {"user": user}
        problem(web.get("/v1/admin/tokens", params=query, headers=bearer(root_key.secret)), 404)


def test_an_admin_revokes_anyones_token(
    web: TestClient,
    runtime: Runtime,
    root_key: CreatedToken,
    alice_token: CreatedToken,
    problem: ProblemCheck,
) -> None:
    key = bearer(root_key.secret)
    response = web.delete(f"/v1/admin/tokens/{alice_token.record.id}", headers=key)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": alice_token.record.id,
        "status": "revoked",
        "revoked_at": START,
        "effective_by": "2026-01-01T12:00:01.000Z",
    }
    check_invalid_token(web.get("/v1/self", headers=bearer(alice_token.secret)), problem)
    again = web.delete(f"/v1/admin/tokens/{alice_token.record.id}", headers=key)
    assert again.json() == response.json()
    [event] = events(runtime, "token.revoked")
    assert (event.subject, event.actor, event.ip, event.user_agent) == (
        alice_token.record.id,
        root_key.record.id,
        CLIENT_IP,
        AGENT,
    )
    problem(web.delete("/v1/admin/tokens/tok_00000000000000000", headers=key), 404)


def test_the_user_endpoints_still_answer_404_for_another_users_token(
    web: TestClient,
    runtime: Runtime,
    root: UserRecord,
    root_key: CreatedToken,
    alice_token: CreatedToken,
    problem: ProblemCheck,
    db_rows: RowsOf,
) -> None:
    """Admin or not, ``/v1/tokens/{id}`` is about the caller's own tokens only."""
    roots_session, roots_token = log_in(web, "root"), make_token(runtime, root)
    before = db_rows()
    path = f"/v1/tokens/{alice_token.record.id}"
    for method in ("GET", "DELETE"):
        for headers in (roots_session.writes, bearer(roots_token.secret)):
            problem(web.request(method, path, headers=headers), 404)
    assert db_rows() == before
    assert web.get("/v1/self", headers=bearer(alice_token.secret)).status_code == 200


# --- policy ------------------------------------------------------------------------------------


def test_get_admin_policy_shows_the_policy_in_force(
    web: TestClient, root_key: CreatedToken
) -> None:
    response = web.get("/v1/admin/policy", headers=bearer(root_key.secret))
    assert response.status_code == 200
    assert response.json() == POLICY


BAD_POLICIES: list[tuple[dict[str, Any], str]] = [
    ({"user_token": {"default_days": 31, "max_days": 30}}, "user_token.default_days"),
    ({"admin_key": {"default_days": 8, "max_days": 7}}, "admin_key.default_days"),
    ({"admin_key": {"default_days": 7, "max_days": 366}}, "admin_key.max_days"),
    ({"user_token": {"default_days": 0, "max_days": 30}}, "user_token.default_days"),
    ({"user_token": {"default_days": "7", "max_days": 30}}, "user_token.default_days"),
    ({"admin_key": {"default_days": 7, "max_days": 7, "allow_no_expiry": True}}, "admin_key"),
    ({"reminder_days": [7, 7]}, "reminder_days"),
    ({"reminder_days": None}, "reminder_days"),
    ({"webhooks": []}, "webhooks"),
]


def test_a_bad_policy_is_422_naming_the_field_and_changes_nothing(
    web: TestClient, root_key: CreatedToken, problem: ProblemCheck, db_rows: RowsOf
) -> None:
    before = db_rows()
    for change, field in BAD_POLICIES:
        document = {**POLICY, **change}
        response = web.put("/v1/admin/policy", json=document, headers=bearer(root_key.secret))
        [named] = fields_of(problem(response, 422))
        assert named.startswith(field), (change, named)
    assert only_failures_audited(db_rows(), before)
    assert web.get("/v1/policy").json()["user_token"] == POLICY["user_token"]


def test_a_valid_policy_changes_what_the_public_policy_says_and_what_token_creation_accepts(
    web: TestClient,
    runtime: Runtime,
    root: UserRecord,
    root_key: CreatedToken,
    alice_token: CreatedToken,
    problem: ProblemCheck,
) -> None:
    document = {
        "user_token": {"default_days": 10, "max_days": 30, "allow_no_expiry": True},
        "admin_key": {"default_days": 2, "max_days": 14},
        "reminder_days": [1, 3],
    }
    session = log_in(web, "root")
    response = web.put("/v1/admin/policy", json=document, headers=session.writes)
    assert response.status_code == 200, response.text
    stored = {**document, "reminder_days": [3, 1], "revoke_family_on_reuse": False}
    assert response.json() == stored
    assert web.get("/v1/admin/policy", headers=session.cookie).json() == stored
    public = web.get("/v1/policy").json()
    assert (public["user_token"], public["admin_key"]) == (
        document["user_token"],
        document["admin_key"],
    )

    user = bearer(alice_token.secret)
    too_long = web.post("/v1/tokens", json={"label": "x", "expires_in_days": 31}, headers=user)
    assert fields_of(problem(too_long, 422)) == ["expires_in_days"]
    made = web.post("/v1/tokens", json={"label": "x"}, headers=user)
    assert made.json()["expires_at"] == "2026-01-11T12:00:00.000Z"
    forever = web.post("/v1/tokens", json={"label": "x", "never_expires": True}, headers=user)
    assert (forever.status_code, forever.json()["expires_at"]) == (201, None)
    key = web.post("/v1/admin/keys", json={"label": "k"}, headers=bearer(root_key.secret))
    assert key.json()["expires_at"] == "2026-01-03T12:00:00.000Z"
    refused = web.post(
        "/v1/admin/keys", json={"label": "k", "expires_in_days": 15}, headers=session.writes
    )
    assert fields_of(problem(refused, 422)) == ["expires_in_days"]
    [event] = events(runtime, "policy.updated")
    assert (event.actor, event.details) == (session.id, {"before": POLICY, "after": stored})


# --- the audit log -----------------------------------------------------------------------------


def _filler(runtime: Runtime, count: int) -> None:
    """``count`` events in one transaction, straight into the real store."""
    with runtime.store.transaction() as tx:
        for n in range(count):
            subject = f"thing-{n % 3}"
            actor = TEST_ACTOR if n % 2 else type(TEST_ACTOR)("other")
            tx.events.append(actor.event(f"test.kind{n % 2}", runtime.clock.now(), subject))


def test_the_audit_log_pages_by_after_and_next_after_oldest_first(
    web: TestClient, runtime: Runtime, root_key: CreatedToken
) -> None:
    _filler(runtime, 7)
    every = [event.seq for event in events(runtime)]
    key = bearer(root_key.secret)
    seen: list[int] = []
    after: int | None = 0
    while after is not None:
        response = web.get("/v1/admin/audit", params={"after": after, "limit": 3}, headers=key)
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) <= 3
        seen += [item["seq"] for item in page["items"]]
        after = page["next_after"]
    assert seen == every
    middle = every[4]
    response = web.get("/v1/admin/audit", params={"after": middle}, headers=key)
    assert [item["seq"] for item in response.json()["items"]] == every[5:]
    assert response.json()["next_after"] is None


def test_the_audit_log_filters_by_type_subject_and_actor(
    web: TestClient, runtime: Runtime, root_key: CreatedToken
) -> None:
    _filler(runtime, 12)
    key = bearer(root_key.secret)

    def found(**query: str) -> list[tuple[str, str, str]]:
        response = web.get("/v1/admin/audit", params=query, headers=key)
        assert response.status_code == 200
        return [(i["type"], i["subject"], i["actor"]) for i in response.json()["items"]]

    assert {t for t, _, _ in found(type="test.kind1")} == {"test.kind1"}
    assert len(found(type="test.kind1")) == 6
    assert {s for _, s, _ in found(subject="thing-2")} == {"thing-2"}
    assert len(found(subject="thing-2")) == 4
    assert {a for _, _, a in found(actor="other")} == {"other"}
    assert (
        found(type="test.kind0", subject="thing-1", actor="other")
        == [("test.kind0", "thing-1", "other")] * 2
    )
    assert found(type="no.such.type") == []


def test_the_audit_log_with_a_bad_cursor_or_limit_is_422_naming_it(
    web: TestClient, root_key: CreatedToken, problem: ProblemCheck
) -> None:
    for query, field in [
        ({"after": "-1"}, "after"),
        ({"after": "first"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
    ]:
        response = web.get("/v1/admin/audit", params=query, headers=bearer(root_key.secret))
        assert fields_of(problem(response, 422)) == [field], query


def test_the_ndjson_export_streams_every_event_one_json_object_per_line(
    web: TestClient, runtime: Runtime, root_key: CreatedToken
) -> None:
    _filler(runtime, 600)  # more than one of the export's internal pages (500)
    every = events(runtime)
    key = {**bearer(root_key.secret), "Accept": "application/x-ndjson"}
    response = web.get("/v1/admin/audit", headers=key)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    assert response.text.endswith("\n")
    lines = response.text.splitlines()
    rows = [json.loads(line) for line in lines]
    assert all(isinstance(row, dict) for row in rows)
    assert [row["seq"] for row in rows] == [event.seq for event in every]
    assert len(rows) == last_seq(runtime)
    paged = web.get("/v1/admin/audit", params={"limit": 5}, headers=bearer(root_key.secret))
    assert rows[:5] == paged.json()["items"]
    filtered = web.get("/v1/admin/audit", params={"type": "test.kind1", "after": 300}, headers=key)
    kinds = [json.loads(line) for line in filtered.text.splitlines()]
    assert {row["type"] for row in kinds} == {"test.kind1"}
    wanted = [e.seq for e in every if e.type == "test.kind1" and (e.seq or 0) > 300]
    assert [row["seq"] for row in kinds] == wanted


def test_no_secret_ever_reaches_the_audit_log(
    web: TestClient, runtime: Runtime, root: UserRecord, problem: ProblemCheck
) -> None:
    """Every secret issued or typed in a busy session of admin work is looked for in every
    event."""
    secrets: list[str] = [PASSWORD]
    admin = log_in(web, "root")
    secrets += [admin.secret, admin.csrf]
    made = web.post("/v1/admin/keys", json={"label": "ops"}, headers=admin.writes).json()
    secrets.append(made["token"])
    key = bearer(made["token"])
    dana_password = "dana's very own passphrase"
    secrets.append(dana_password)
    dana = web.post(
        "/v1/admin/users", json={"username": "dana", "password": dana_password}, headers=key
    ).json()
    session = log_in(web, "dana", dana_password)
    secrets += [session.secret, session.csrf]
    asked = {"label": "laptop", "scopes": ["tokens:read", "tokens:write"]}
    tokens = [
        web.post("/v1/tokens", json=asked, headers=session.writes).json()["token"] for _ in range(2)
    ]
    secrets += tokens
    typed = "a wrong but real-looking passphrase"
    secrets.append(typed)
    assert web.post("/v1/session", json={"username": "dana", "password": typed}).status_code == 401
    pasted = web.post("/v1/session", json={"username": tokens[0], "password": PASSWORD})
    assert pasted.status_code == 401  # a token pasted into the name field
    denied = web.delete(f"/v1/admin/tokens/{tokens[0]}", headers=bearer(tokens[1]))
    check_insufficient_admin(denied, problem)
    everywhere = {"revoke_tokens": True}
    logout = web.post("/v1/session/logout-all", json=everywhere, headers=bearer(tokens[1]))
    assert logout.status_code == 200
    dana_id = dana["id"]
    assert web.post(f"/v1/admin/users/{dana_id}/reactivate", headers=key).status_code == 200
    assert web.post(f"/v1/admin/users/{dana_id}/deactivate", headers=key).status_code == 200
    assert web.put("/v1/admin/policy", json=POLICY, headers=key).status_code == 200
    assert web.delete("/v1/session", headers=admin.writes).status_code == 204

    export = web.get("/v1/admin/audit", headers={**key, "Accept": "application/x-ndjson"})
    assert export.status_code == 200
    exported = [json.loads(line) for line in export.text.splitlines()]
    types = {row["type"] for row in exported}
    assert {"session.login_failed", "admin.denied", "session.logout_all"} <= types
    assert {"user.deactivated", "token.revoked", "policy.updated", "session.ended"} <= types
    for row in exported:
        text = json.dumps(row)
        for secret in secrets:
            assert secret not in text, row["type"]
            if secret.startswith("tw"):
                assert secret[8:] not in text, row["type"]
                assert secret[8:].lower() not in text, row["type"]


def test_the_admin_api_works_from_an_admin_session_read_without_csrf(
    web: TestClient, root: UserRecord
) -> None:
    """Reads need the cookie only; the answers are those of an admin."""
    admin_session: WebSession = log_in(web, "root")
    for path in ["/v1/admin/users", "/v1/admin/tokens", "/v1/admin/keys", "/v1/admin/audit"]:
        assert web.get(path, headers=admin_session.cookie).status_code == 200, path
