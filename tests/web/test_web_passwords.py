"""Passwords in the UI (issue 17, point 5): the account page changes one's own, the admin's
users page sets anyone's; every form states the length rule; other sessions end; refusals
change nothing; the login form refuses an over-long password before hashing it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.testclient import TestClient
from web_support import LOOPBACK, csrf_of, event_types, field_errors, log_in, snapshot

from tokenward.domain.model import UserRecord
from tokenward.runtime import Runtime
from tokenward.testing import DEFAULT_PASSWORD

NEW = "a-new-and-long-passphrase"
LENGTH_RULE = re.compile(r"At least 12 characters \(at most 1024\)")


def _second_browser(ui: TestClient) -> TestClient:
    return TestClient(ui.app, base_url=LOOPBACK)


def _change(ui: TestClient, csrf: str, current: str, new: str, repeat: str | None = None) -> Any:
    data = {
        "csrf_token": csrf,
        "current_password": current,
        "new_password": new,
        "repeat_password": new if repeat is None else repeat,
    }
    return ui.post("/ui/account/password", data=data)


def _can_log_in(ui: TestClient, username: str, password: str) -> bool:
    browser = _second_browser(ui)
    form = browser.get("/ui/login").text
    data = {"csrf_token": csrf_of(form), "username": username, "password": password}
    return browser.post("/ui/login", data=data, follow_redirects=False).status_code == 303


def test_every_password_form_states_the_length_rule(
    ui: TestClient, root: UserRecord, alice: UserRecord
) -> None:
    log_in(ui, "root")
    for path in ("/ui/account", f"/ui/admin/users/{alice.id}/password"):
        page = ui.get(path)
        assert page.status_code == 200, path
        assert LENGTH_RULE.search(page.text), path
        assert 'minlength="12"' in page.text
    users = ui.get("/ui/admin/users").text  # the new-user form sets a password too
    assert "At least 12 characters (at most 1024)" in users
    assert f"/ui/admin/users/{alice.id}/password" in users


def test_changing_ones_password_in_the_ui_ends_the_other_sessions(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    other = _second_browser(ui)
    log_in(other, "alice")
    csrf = log_in(ui, "alice")
    assert 'href="/ui/account"' in ui.get("/ui/tokens").text  # reachable from every page
    answer = _change(ui, csrf, DEFAULT_PASSWORD, NEW)
    assert answer.status_code == 200
    assert "Password changed; 1 other session ended." in answer.text
    assert ui.get("/ui/tokens", follow_redirects=False).status_code == 200  # this one stays
    assert other.get("/ui/tokens", follow_redirects=False).status_code == 303  # to the login
    assert _can_log_in(ui, "alice", NEW) and not _can_log_in(ui, "alice", DEFAULT_PASSWORD)
    assert "user.password_changed" in event_types(runtime)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "field", "message"),
    [
        ("wrong-password-here", NEW, None, "current_password", "not the current password"),
        (DEFAULT_PASSWORD, "short-one", None, "new_password", "at least 12 characters"),
        (DEFAULT_PASSWORD, NEW, NEW + "x", "repeat_password", "does not match"),
        (DEFAULT_PASSWORD, "n" * 1025, None, "new_password", "at most 1024 characters"),
    ],
)
def test_a_refused_change_shows_the_error_at_its_field_and_changes_nothing(
    ui: TestClient,
    runtime: Runtime,
    alice: UserRecord,
    current: str,
    new: str,
    repeat: str | None,
    field: str,
    message: str,
) -> None:
    csrf = log_in(ui, "alice")
    before = snapshot(runtime)
    answer = _change(ui, csrf, current, new, repeat)
    assert answer.status_code == 422
    assert message in field_errors(answer.text)[field]
    assert new not in answer.text and current not in answer.text  # no password echoed
    after = snapshot(runtime)
    assert {k: v for k, v in after.items() if k != "events"} == {
        k: v for k, v in before.items() if k != "events"
    }
    assert _can_log_in(ui, "alice", DEFAULT_PASSWORD)


def test_an_admin_sets_a_users_password_and_their_sessions_end(
    ui: TestClient, runtime: Runtime, root: UserRecord, alice: UserRecord
) -> None:
    alices = _second_browser(ui)
    log_in(alices, "alice")
    csrf = log_in(ui, "root")
    data = {"csrf_token": csrf, "new_password": NEW, "repeat_password": NEW}
    answer = ui.post(f"/ui/admin/users/{alice.id}/password", data=data)
    assert answer.status_code == 200
    assert "Password of alice set; 1 session ended." in answer.text
    assert alices.get("/ui/tokens", follow_redirects=False).status_code == 303
    assert _can_log_in(ui, "alice", NEW)
    assert "user.password_reset" in event_types(runtime)


def test_a_refused_reset_is_audited_and_changes_nothing(
    ui: TestClient, runtime: Runtime, root: UserRecord, alice: UserRecord
) -> None:
    csrf = log_in(ui, "root")
    before = snapshot(runtime)
    data = {"csrf_token": csrf, "new_password": "short", "repeat_password": "short"}
    answer = ui.post(f"/ui/admin/users/{alice.id}/password", data=data)
    assert answer.status_code == 422
    assert "at least 12 characters" in field_errors(answer.text)["new_password"]
    missing = ui.post("/ui/admin/users/usr_00000000000000000/password", data=data)
    assert missing.status_code == 404
    assert {k: v for k, v in snapshot(runtime).items() if k != "events"} == {
        k: v for k, v in before.items() if k != "events"
    }
    assert event_types(runtime).count("admin.failed") == 2


def test_a_non_admin_cannot_set_another_users_password(
    ui: TestClient, runtime: Runtime, root: UserRecord, alice: UserRecord
) -> None:
    csrf = log_in(ui, "alice")
    assert ui.get(f"/ui/admin/users/{root.id}/password").status_code == 403
    data = {"csrf_token": csrf, "new_password": NEW, "repeat_password": NEW}
    assert ui.post(f"/ui/admin/users/{root.id}/password", data=data).status_code == 403
    assert _can_log_in(ui, "root", DEFAULT_PASSWORD)


def test_the_login_form_refuses_an_over_long_password_before_hashing_it(
    ui: TestClient, runtime: Runtime, alice: UserRecord, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed: list[str] = []
    real = runtime.sessions.passwords.verify

    def counting(stored: str, password: str) -> bool:
        hashed.append(password)
        return real(stored, password)

    monkeypatch.setattr(runtime.sessions.passwords, "verify", counting)
    before = snapshot(runtime)
    form = ui.get("/ui/login").text
    data = {"csrf_token": csrf_of(form), "username": "alice", "password": "p" * 1025}
    answer = ui.post("/ui/login", data=data, follow_redirects=False)
    assert answer.status_code == 422
    assert "Passwords are at most 1024 characters." in answer.text
    assert hashed == [] and snapshot(runtime) == before
