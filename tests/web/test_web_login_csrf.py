"""Login CSRF: the login form is refused unless its binding cookie is present, well formed and
equal to the form's ``csrf_token`` field. A cross-site form sends no cookie (it is
SameSite=Strict), so an empty field must not match an absent cookie (issue 17, point 1)."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from web_support import AGENT, csrf_of, event_types, snapshot

from tokenward.domain.model import UserRecord
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.testing import DEFAULT_PASSWORD

GOOD_BINDING = "A" * 43  # the shape token_urlsafe(32) makes


def _post_login(ui: TestClient, csrf: str | None, cookie: str | None = None) -> Any:
    data = {"username": "alice", "password": DEFAULT_PASSWORD}
    if csrf is not None:
        data["csrf_token"] = csrf
    ui.cookies.clear()
    headers = {} if cookie is None else {"Cookie": cookie}
    return ui.post("/ui/login", data=data, headers=headers, follow_redirects=False)


@pytest.mark.parametrize(
    ("csrf", "cookie"),
    [
        ("", None),  # a cross-site form: empty field, no cookie (the finding)
        (None, None),  # no field, no cookie
        ("", "tw_login="),  # an empty cookie equal to the empty field
        ("short", "tw_login=short"),  # equal, but not a binding this server could have made
        ("B" * 43, f"tw_login={GOOD_BINDING}"),  # well formed, but not the cookie's value
        (None, f"tw_login={GOOD_BINDING}"),  # the cookie without the field
        (GOOD_BINDING, None),  # the field without the cookie
    ],
    ids=[
        "empty-no-cookie",
        "missing",
        "empty-cookie",
        "malformed",
        "wrong",
        "no-field",
        "no-cookie",
    ],
)
def test_a_login_without_its_binding_is_refused_and_changes_nothing(
    ui: TestClient, runtime: Runtime, alice: UserRecord, csrf: str | None, cookie: str | None
) -> None:
    before = snapshot(runtime)
    answer = _post_login(ui, csrf, cookie)
    assert answer.status_code == 403, answer.text
    assert "Form refused" in answer.text
    assert "tw_session" not in answer.headers.get("set-cookie", "")
    assert snapshot(runtime) == before
    assert "session.created" not in event_types(runtime)


def test_the_binding_of_the_form_logs_in(ui: TestClient, alice: UserRecord) -> None:
    token = csrf_of(ui.get("/ui/login").text)
    answer = _post_login(ui, token, f"tw_login={token}")
    assert answer.status_code == 303


def test_over_https_the_binding_cookie_has_the_host_prefix_and_a_plain_one_is_refused(
    runtime: Runtime, alice: UserRecord
) -> None:
    """A sibling host can set ``tw_login`` for the parent domain, never ``__Host-tw_login``."""
    headers = {"User-Agent": AGENT}
    with TestClient(create_app(runtime), base_url="https://tokens.example", headers=headers) as ui:
        form = ui.get("/ui/login")
        cookie = form.headers["set-cookie"]
        assert cookie.startswith("__Host-tw_login=")
        attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"secure", "path=/", "httponly", "samesite=strict"} <= attributes
        assert not any(a.startswith("domain") for a in attributes)
        token = csrf_of(form.text)
        planted = _post_login(ui, token, f"tw_login={token}")
        assert planted.status_code == 403
        answer = _post_login(ui, token, f"__Host-tw_login={token}")
        assert answer.status_code == 303
        cleared = [c for c in answer.headers.get_list("set-cookie") if "tw_login" in c]
        assert cleared and cleared[0].startswith('__Host-tw_login=""')
