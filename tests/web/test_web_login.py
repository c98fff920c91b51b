"""Logging in and out of the UI: one message for every failure, the failed-login limits, the
cookie's flags, logging out, and logging out everywhere."""

from __future__ import annotations

from starlette.testclient import TestClient
from web_support import LOOPBACK, csrf_of, event_types, log_in

from tokenward.domain.model import TokenStatus, UserRecord
from tokenward.http.app import create_app
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.store.sql import SqlStore
from tokenward.testing import DEFAULT_PASSWORD, FakeClock, make_token, make_user


def attempt(ui: TestClient, username: str, password: str) -> tuple[int, str]:
    form = ui.get("/ui/login").text
    data = {"csrf_token": csrf_of(form), "username": username, "password": password}
    answer = ui.post("/ui/login", data=data, follow_redirects=False)
    return answer.status_code, answer.text


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    unknown = attempt(ui, "nobody", DEFAULT_PASSWORD)
    wrong = attempt(ui, "alice", "not the password")
    assert unknown[0] == wrong[0] == 401
    assert "Wrong username or password." in unknown[1]
    assert "Wrong username or password." in wrong[1]
    assert "tw_session" not in ui.cookies
    assert event_types(runtime).count("session.login_failed") == 2


def test_logging_in_sets_the_session_cookie_as_the_api_does(
    ui: TestClient, alice: UserRecord
) -> None:
    form = ui.get("/ui/login").text
    data = {"csrf_token": csrf_of(form), "username": "Alice", "password": DEFAULT_PASSWORD}
    answer = ui.post("/ui/login", data=data, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/tokens"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("tw_session="))
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=lax"} <= attributes
    assert "secure" not in attributes  # plain HTTP on loopback, as for the API's login
    assert "alice" in ui.get("/ui/tokens").text


def test_the_failed_login_limits_apply(database_url: str, clock: FakeClock) -> None:
    settings = Settings(database_url=database_url, failed_logins_per_minute=2)
    store = SqlStore(database_url)
    rt = Runtime.build(
        settings, store=store, clock=clock, passwords=PasswordHasher.fast_for_tests()
    )
    make_user(rt, "alice")
    try:
        with TestClient(create_app(rt), base_url=LOOPBACK) as ui:
            assert attempt(ui, "alice", "wrong one")[0] == 401
            assert attempt(ui, "alice", "wrong two")[0] == 401
            status, page = attempt(ui, "alice", DEFAULT_PASSWORD)
            assert status == 429
            assert "Too many failed attempts" in page
            clock.advance(minutes=2)
            assert attempt(ui, "alice", DEFAULT_PASSWORD)[0] == 303
    finally:
        store.dispose()


def test_logging_out_ends_the_session(ui: TestClient, runtime: Runtime, alice: UserRecord) -> None:
    csrf = log_in(ui, "alice")
    answer = ui.post("/ui/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login"
    assert "session.ended" in event_types(runtime)
    assert ui.get("/ui/tokens", follow_redirects=False).status_code == 303


def test_logging_out_everywhere_can_revoke_every_token(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    tokens = [make_token(runtime, alice, f"t{n}") for n in range(2)]
    other = TestClient(ui.app, base_url=LOOPBACK)
    log_in(other, "alice")
    csrf = log_in(ui, "alice")
    page = ui.get("/ui/logout-all").text
    assert 'name="revoke_tokens"' in page
    answer = ui.post("/ui/logout-all", data={"csrf_token": csrf, "revoke_tokens": "yes"})
    assert answer.status_code == 200
    assert "2 sessions ended, 2 tokens revoked" in answer.text
    now = runtime.clock.now()
    assert all(
        runtime.tokens.get(alice.id, t.record.id).status(now) is TokenStatus.REVOKED for t in tokens
    )
    assert other.get("/ui/tokens", follow_redirects=False).status_code == 303


def test_logging_out_everywhere_keeps_tokens_unless_asked(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    token = make_token(runtime, alice, "kept")
    csrf = log_in(ui, "alice")
    answer = ui.post("/ui/logout-all", data={"csrf_token": csrf})
    assert "1 session ended." in answer.text
    assert runtime.verification.verify(token.secret).user.id == alice.id


def test_two_login_forms_of_one_browser_share_their_binding(ui: TestClient) -> None:
    first = csrf_of(ui.get("/ui/login").text)
    assert csrf_of(ui.get("/ui/login").text) == first
    ui.cookies.clear()
    fresh = ui.get("/ui/login", headers={"Cookie": 'tw_login="><script>x</script>'}).text
    assert "<script>x" not in fresh
    assert csrf_of(fresh) != first
