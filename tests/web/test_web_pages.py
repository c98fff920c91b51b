"""Every page of the web UI, at 1280 px and at 375 px, in Debian's Chromium against a real
``tokenward serve`` holding realistic data: no serious or critical axe-core violation, nothing
wider than the window. ``make screenshots`` writes each page's screenshot to docs/screenshots
(``NAME.png`` on a desktop, ``NAME-phone.png`` on a phone); a plain test run writes none."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from browser_support import (
    DESKTOP,
    PHONE,
    broken_words,
    log_in,
    overflowing,
    serious_violations,
    shoot,
)
from playwright.sync_api import Page

from e2e.server import ADMIN_PASSWORD, Server

pytestmark = pytest.mark.slow

BOB_PASSWORD = "bob-has-a-long-password"
LONG_LABEL = "nightly backup of the billing database to the offsite bucket"


@pytest.fixture(scope="module")
def seeded(server: Server) -> dict[str, str]:
    """Users, tokens of every state, an admin key, a rotation, a deactivation, a changed
    policy and a failed login: what an organisation's pages hold after a few weeks."""
    key = server.cli("key", "create", "--label", "ops script").strip()
    admin = _Caller(server, {"Authorization": f"Bearer {key}"})
    bob = admin.call("POST", "/v1/admin/users", {"username": "bob", "password": BOB_PASSWORD})
    carol = {"username": "carol", "password": BOB_PASSWORD, "is_admin": True}
    admin.call("POST", "/v1/admin/users", carol)
    dave = admin.call("POST", "/v1/admin/users", {"username": "dave", "password": BOB_PASSWORD})
    _Caller.logged_in(server, "bob", BOB_PASSWORD).token("bob's laptop", "read")
    _Caller.logged_in(server, "dave", BOB_PASSWORD).token("dave's scripts", "read", "write")
    admin.call("POST", f"/v1/admin/users/{dave['id']}/deactivate")
    me = _Caller.logged_in(server, "admin", ADMIN_PASSWORD)
    me.token(LONG_LABEL, "read", "write", days=90)
    used = me.token("ci deploy", "read", "tokens:read", "tokens:write")
    _Caller(server, {"Authorization": f"Bearer {used['token']}"}).call("GET", "/v1/self")
    me.token("staging smoke tests", "read", days=3)
    bot = me.token("deploy bot", "read", "tokens:write", days=90)
    me.call("POST", f"/v1/tokens/{bot['id']}/rotate", {"grace_seconds": 3600})
    admin.call("DELETE", f"/v1/admin/tokens/{me.token('old laptop', 'read')['id']}")
    admin.call("PUT", "/v1/admin/policy", _POLICY)
    wrong = json.dumps({"username": "admin", "password": "not the password"})
    server.request("POST", "/v1/session", {"Content-Type": "application/json"}, wrong)
    return {"bob": bob["id"], "ci deploy": used["id"]}


class _Caller:
    """The API as one caller: a bearer token, or a web session (cookie and CSRF token)."""

    def __init__(self, server: Server, headers: dict[str, str]) -> None:
        self.server, self.headers = server, headers

    @classmethod
    def logged_in(cls, server: Server, username: str, password: str) -> _Caller:
        body = json.dumps({"username": username, "password": password})
        answer = server.request("POST", "/v1/session", {"Content-Type": "application/json"}, body)
        cookie = answer.headers["set-cookie"].split(";")[0]
        return cls(server, {"Cookie": cookie, "X-CSRF-Token": answer.json()["csrf_token"]})

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = self.headers | {"Content-Type": "application/json"}
        text = None if body is None else json.dumps(body)
        answer = self.server.request(method, path, headers, text)
        assert answer.status < 300, answer.text
        return answer.json()

    def token(self, label: str, *scopes: str, days: int = 30) -> Any:
        body = {"label": label, "scopes": list(scopes), "expires_in_days": days}
        return self.call("POST", "/v1/tokens", body)


_POLICY = {
    "user_token": {"default_days": 30, "max_days": 365, "allow_no_expiry": False},
    "admin_key": {"default_days": 7, "max_days": 365},
    "reminder_days": [14, 7, 1],
}


def _create_form_refused(page: Page, ids: dict[str, str]) -> None:
    page.goto("/ui/tokens/create")
    page.get_by_label("Label").fill("")
    page.get_by_role("button", name="Create token").click()
    page.get_by_role("heading", name="The form needs a change").wait_for()


def _token_created(page: Page, ids: dict[str, str]) -> None:
    page.goto("/ui/tokens/create")
    page.get_by_label("Label").fill("release pipeline")
    page.locator('input[name="scopes"][value="read"]').check()
    page.get_by_role("button", name="Create token").click()
    page.get_by_text("You will not see it again").wait_for()


def _audit_opened(page: Page, ids: dict[str, str]) -> None:
    page.goto("/ui/admin/audit")
    page.locator("tbody tr", has_text="changed the policy").locator("summary").click()


def _revoked(page: Page, ids: dict[str, str]) -> None:
    page.goto("/ui/tokens/create")
    page.get_by_label("Label").fill("to be revoked")
    page.get_by_role("button", name="Create token").click()
    page.goto("/ui/tokens")
    page.get_by_role("link", name="Revoke… to be revoked").click()
    page.get_by_role("button", name="Revoke token").click()
    page.get_by_role("heading", name="Token revoked").wait_for()


def _go(path: str) -> Callable[[Page, dict[str, str]], None]:
    def visit(page: Page, ids: dict[str, str]) -> None:
        page.goto(path.format(**{k.replace(" ", "_"): v for k, v in ids.items()}))

    return visit


# Every page, by the screenshot's name: how to reach it as the admin.
PAGES: dict[str, Callable[[Page, dict[str, str]], None]] = {
    "audit": _go("/ui/admin/audit"),  # first, before the other pages' logins fill it
    "audit-details": _audit_opened,
    "tokens": _go("/ui/tokens"),
    "token-create": _go("/ui/tokens/create"),
    "token-create-refused": _create_form_refused,
    "token-created": _token_created,
    "token-rotate": _go("/ui/tokens/{ci_deploy}/rotate"),
    "token-revoke": _go("/ui/tokens/{ci_deploy}/revoke"),
    "token-revoked": _revoked,
    "logout-all": _go("/ui/logout-all"),
    "admin-users": _go("/ui/admin/users"),
    "admin-user-deactivate": _go("/ui/admin/users/{bob}/deactivate"),
    "admin-tokens": _go("/ui/admin/tokens"),
    "admin-keys": _go("/ui/admin/keys"),
    "policy": _go("/ui/admin/policy"),
    "not-found": _go("/ui/tokens/tok_000000000000000000/revoke"),
}
WIDTHS = {"": DESKTOP, "-phone": PHONE}


@pytest.fixture
def admin_at(
    new_page: Callable[..., Page], seeded: dict[str, str]
) -> Iterator[Callable[[dict[str, int]], Page]]:
    def open_as_admin(viewport: dict[str, int]) -> Page:
        page = new_page(viewport)
        log_in(page)
        return page

    yield open_as_admin


def check(page: Page, name: str) -> None:
    """The page as it stands is accessible and fits its window; its screenshot if asked."""
    page.wait_for_load_state()
    assert serious_violations(page) == [], name
    assert overflowing(page) == [], name
    assert broken_words(page) == [], name
    shoot(page, name)


@pytest.mark.parametrize("suffix", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_every_page_is_accessible_and_fits_the_window(
    admin_at: Callable[[dict[str, int]], Page], seeded: dict[str, str], name: str, suffix: str
) -> None:
    page = admin_at(WIDTHS[suffix])
    PAGES[name](page, seeded)
    check(page, name + suffix)


@pytest.mark.parametrize("suffix", WIDTHS)
def test_the_login_page_is_accessible_and_fits_the_window(
    new_page: Callable[..., Page], seeded: dict[str, str], suffix: str
) -> None:
    page = new_page(WIDTHS[suffix])
    page.goto("/ui/login")
    check(page, "login" + suffix)
    card = page.locator(".login-card").bounding_box()
    assert card is not None
    middle = card["x"] + card["width"] / 2
    assert abs(middle - WIDTHS[suffix]["width"] / 2) <= 1  # centred, not pinned left
    assert page.get_by_text("API tokens that expire, and stop at once when revoked.").count()
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not " + ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").wait_for()
    check(page, "login-failed" + suffix)


@pytest.mark.parametrize("suffix", WIDTHS)
def test_a_non_admins_pages_and_the_admins_only_page_fit(
    new_page: Callable[..., Page], seeded: dict[str, str], suffix: str
) -> None:
    page = new_page(WIDTHS[suffix])
    log_in(page, "bob", BOB_PASSWORD)
    check(page, "bob-tokens" + suffix)
    page.goto("/ui/admin/users")
    check(page, "admins-only" + suffix)


def _look(page: Page, selector: str) -> list[str]:
    style = "el => { const s = getComputedStyle(el); return [s.fontSize, s.fontWeight,"
    style += " s.borderTopWidth, s.paddingLeft, s.height, s.width]; }"
    found: list[str] = page.locator(selector).evaluate(style)
    return found


def test_fields_look_alike_and_legends_read_as_labels(
    admin_at: Callable[[dict[str, int]], Page],
) -> None:
    page = admin_at(DESKTOP)
    page.goto("/ui/admin/users")
    looks = {name: _look(page, f"#{name}") for name in ("username", "password", "email")}
    assert looks["email"] == looks["username"] == looks["password"]
    page.goto("/ui/tokens/create")
    label = _look(page, "label[for=label]")[:2]
    assert _look(page, "#lifetime > legend")[:2] == label == _look(page, "#scopes > legend")[:2]
    gap = page.evaluate(
        "(() => document.querySelector('#lifetime').getBoundingClientRect().top -"
        " document.querySelector('#label').getBoundingClientRect().bottom)()"
    )
    assert gap >= 20  # fields are spaced, not stacked tight
