"""Post/redirect/get: a refused form goes back to its page with what was typed and its errors
in a cookie signed for this session and page, shown once; a planted or foreign one is not."""

from __future__ import annotations

import base64
import json

from starlette.testclient import TestClient
from web_support import LOOPBACK, field_errors, log_in

from tokenward.domain.model import UserRecord
from tokenward.runtime import Runtime
from tokenward.web.flash import COOKIE


def refuse_label(ui: TestClient, csrf: str) -> str:
    """Post a create form with an empty label; return the flash cookie it set."""
    answer = ui.post(
        "/ui/tokens/create",
        data={"csrf_token": csrf, "label": " ", "lifetime": "30"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/tokens/create"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "Path=/ui/tokens/create" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    return cookie.split(";")[0].split("=", 1)[1]


def test_the_refused_form_is_shown_once_then_the_plain_form(
    ui: TestClient, alice: UserRecord
) -> None:
    refuse_label(ui, log_in(ui, "alice"))
    again = ui.get("/ui/tokens/create")
    assert field_errors(again.text) == {"label": "Label: must not be empty."}
    assert f"{COOKIE}=" in again.headers["set-cookie"]  # dropped…
    assert "Max-Age=0" in again.headers["set-cookie"] or "expires=" in again.headers["set-cookie"]
    assert field_errors(ui.get("/ui/tokens/create").text) == {}  # …so a reload is plain


def test_a_planted_or_altered_flash_is_not_shown(ui: TestClient, alice: UserRecord) -> None:
    csrf = log_in(ui, "alice")
    value = refuse_label(ui, csrf)
    payload, signature = value.split(".")
    forged = {"values": {}, "errors": {"label": "Call 555-0100 to unlock your account"}}
    planted = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode()
    for fake in (f"{planted}.{signature}", f"{payload}.{'0' * 64}", payload, "garbage"):
        ui.cookies.set(COOKIE, fake, domain="127.0.0.1", path="/ui/tokens/create")
        page = ui.get("/ui/tokens/create").text
        assert "555-0100" not in page
        assert field_errors(page) == {}


def test_a_flash_of_another_session_is_not_shown(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    value = refuse_label(ui, log_in(ui, "alice"))
    other = TestClient(ui.app, base_url=LOOPBACK)
    log_in(other, "alice")  # same person, another session: another signing key
    other.cookies.set(COOKIE, value, domain="127.0.0.1", path="/ui/tokens/create")
    assert field_errors(other.get("/ui/tokens/create").text) == {}


def test_a_flash_never_holds_a_password(ui: TestClient, root: UserRecord) -> None:
    csrf = log_in(ui, "root")
    answer = ui.post(
        "/ui/admin/users/create",
        data={"csrf_token": csrf, "username": "bad name!", "password": "correct horse battery"},
        follow_redirects=False,
    )
    value = answer.headers["set-cookie"].split(";")[0].split("=", 1)[1].split(".")[0]
    carried = json.loads(base64.urlsafe_b64decode(value))
    assert carried["values"]["username"] == "bad name!"
    assert "correct horse battery" not in json.dumps(carried)
