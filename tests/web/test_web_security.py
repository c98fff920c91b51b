"""Security of every UI response: CSRF on every form post, the headers, escaping, and no
inline script or style that the Content-Security-Policy would have to allow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Mount, Route, Router
from starlette.testclient import TestClient
from web_support import csrf_of, event_types, log_in, snapshot

from tokenward.domain.model import UserRecord
from tokenward.runtime import Runtime
from tokenward.testing import make_token
from tokenward.web.pages import SecurityHeaders
from tokenward.web.routes import HtmlErrors

TEMPLATES = Path(__file__).parents[2] / "src" / "tokenward" / "web" / "templates"
PAGES = [
    "/ui/tokens",
    "/ui/tokens/create",
    "/ui/logout-all",
    "/ui/account",
    "/ui/admin/users",
    "/ui/admin/tokens",
    "/ui/admin/keys",
    "/ui/admin/audit",
    "/ui/admin/policy",
]


def ui_routes(client: TestClient) -> list[Route]:
    """Every route under ``/ui``, as the app serves them."""
    app = client.app
    api = app.api  # type: ignore[attr-defined]
    mount = next(r for r in api.router.routes if isinstance(r, Mount) and r.path == "/ui")
    wrapper = mount.app
    assert isinstance(wrapper, SecurityHeaders)
    errors = wrapper.app
    assert isinstance(errors, HtmlErrors)
    router = errors.app
    assert isinstance(router, Router)
    return [r for r in router.routes if isinstance(r, Route)]


def concrete(path: str, token_id: str, user_id: str) -> str:
    return "/ui" + path.replace("{token_id}", token_id).replace("{user_id}", user_id)


@pytest.mark.parametrize("sent", [None, "", "wrong-token"], ids=["missing", "empty", "wrong"])
def test_every_form_post_without_the_right_csrf_token_is_refused_and_changes_nothing(
    ui: TestClient, runtime: Runtime, root: UserRecord, sent: str | None
) -> None:
    log_in(ui, "root")
    token = make_token(runtime, root, "kept")
    posts = [r for r in ui_routes(ui) if "POST" in (r.methods or ()) and r.path != "/login"]
    assert len(posts) >= 12
    before = snapshot(runtime)
    for route in posts:
        data = {"label": "forged", "lifetime": "7", "grace": "0", "username": "mallory"}
        if sent is not None:
            data["csrf_token"] = sent
        path = concrete(route.path, token.record.id, root.id)
        answer = ui.post(path, data=data, follow_redirects=False)
        assert answer.status_code == 403, path
        assert "Nothing was changed" in answer.text
    assert snapshot(runtime) == before


def test_a_form_post_with_another_sessions_token_is_refused(
    ui: TestClient, runtime: Runtime, alice: UserRecord, root: UserRecord
) -> None:
    alices = log_in(ui, "alice")
    ui.cookies.clear()
    log_in(ui, "root")
    before = snapshot(runtime)
    answer = ui.post("/ui/tokens/create", data={"csrf_token": alices, "label": "x"})
    assert answer.status_code == 403
    assert snapshot(runtime) == before


def test_the_login_form_needs_its_own_binding_cookie(
    ui: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    """Another site cannot log a browser into an account of its choosing (login CSRF)."""
    form = ui.get("/ui/login")
    token = csrf_of(form.text)
    ui.cookies.clear()
    answer = ui.post(
        "/ui/login",
        data={"csrf_token": token, "username": "alice", "password": "a-long-test-password"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "tw_session" not in answer.headers.get("set-cookie", "")
    assert "session.created" not in event_types(runtime)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ui/login", 200),
        ("GET", "/static/tokenward.css", 200),
        ("GET", "/static/tokenward.js", 200),
        *(("GET", page, 200) for page in PAGES),
        ("GET", "/ui/nowhere", 404),
        ("GET", "/static/nowhere.css", 404),
        ("GET", "/ui/logout", 405),
        ("PUT", "/ui/tokens", 405),
    ],
)
def test_every_ui_response_carries_the_security_headers(
    ui: TestClient, root: UserRecord, method: str, path: str, status: int
) -> None:
    if path != "/ui/login":
        log_in(ui, "root")
    answer = ui.request(method, path)
    assert answer.status_code == status, answer.text
    if path.startswith("/ui/"):
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
    policy = answer.headers["content-security-policy"]
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"):
        assert directive in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_pages_are_not_cached_and_a_refused_page_has_the_headers_too(
    ui: TestClient, alice: UserRecord
) -> None:
    log_in(ui, "alice")
    assert ui.get("/ui/tokens").headers["cache-control"] == "no-store"
    denied = ui.get("/ui/admin/users")
    assert denied.status_code == 403
    assert "unsafe-inline" not in denied.headers["content-security-policy"]


def test_templates_hold_no_inline_script_style_or_event_handler() -> None:
    """The CSP forbids them, so they would silently not work."""
    templates = list(TEMPLATES.rglob("*.html"))
    assert len(templates) >= 15
    for template in templates:
        text = template.read_text("utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert "<style" not in text, template
        assert not re.search(r"\sstyle=", text), template
        assert not re.search(r"\son[a-z]+=", text), template


@pytest.mark.parametrize("path", ["/ui/tokens", "/ui/admin/tokens", "/ui/admin/audit"])
def test_a_script_in_a_label_is_shown_as_text(
    ui: TestClient, runtime: Runtime, root: UserRecord, path: str
) -> None:
    label = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    make_token(runtime, root, label)
    log_in(ui, "root")
    page = ui.get(path).text
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;alert(" in page
