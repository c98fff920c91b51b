"""The web UI in a real browser (Debian's Chromium driven by Playwright) against a real
``tokenward serve``: a token made in the UI works on the API until revoked in the UI, labels are
text, forged cross-site posts are refused, admin pages stay closed, the keyboard reaches the
forms. (Every page's accessibility, layout and screenshots: test_web_pages.py.)"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Callable, Iterator

import pytest
from browser_support import PHONE, log_in
from playwright.sync_api import Dialog, Page

from e2e.server import ADMIN_PASSWORD, Server, free_port

pytestmark = pytest.mark.slow

BOB_PASSWORD = "bob-has-a-long-password"
CAROL_PASSWORD = "carol-has-a-long-password"
ADMIN_PAGES = ["users", "tokens", "keys", "audit", "policy"]


def create_token(page: Page, label: str, scopes: tuple[str, ...] = ("read",)) -> str:
    """Create a token through the form; return the secret read from the page."""
    page.goto("/ui/tokens/create")
    page.get_by_label("Label").fill(label)
    page.get_by_label("30 days").check()
    for scope in scopes:
        page.locator(f'input[name="scopes"][value="{scope}"]').check()
    page.get_by_role("button", name="Create token").click()
    page.get_by_text("You will not see it again").wait_for()
    return page.locator("#secret").input_value()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_token_created_in_the_browser_works_on_the_api_until_revoked_there(
    new_page: Callable[..., Page], server: Server
) -> None:
    page = new_page()
    problems: list[str] = []  # e.g. our own script or style blocked by the CSP
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(r.url) if r.status == 404 else None)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/")
    page.wait_for_url("**/ui/login")
    log_in(page)
    server.cli(
        "token",
        "create",
        "--user",
        "admin",
        "--label",
        "staging smoke tests",
        "--expires-in-days",
        "3",
        "--scope",
        "read",
    )
    secret = create_token(page, "ci deploy", ("read", "tokens:read"))
    assert secret.startswith("twu_")

    assert server.request("GET", "/v1/self", bearer(secret)).status == 200
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.reload()  # the result replaced itself in the history: the list, not the secret
    assert page.url.endswith("/ui/tokens")
    assert secret not in page.content()
    page.go_back()
    assert secret not in page.content()
    page.goto("/ui/tokens")
    assert page.locator(".expiry-soon").count() >= 1  # the 3-day token is flagged

    page.get_by_role("link", name="Revoke… ci deploy").click()
    page.get_by_role("button", name="Revoke token").click()
    page.get_by_role("heading", name="Token revoked").wait_for()
    assert "No node accepts it after" in page.content()
    assert server.request("GET", "/v1/self", bearer(secret)).status == 401
    assert problems == []


def test_a_label_holding_a_script_renders_as_text(new_page: Callable[..., Page]) -> None:
    page = new_page()
    dialogs: list[str] = []

    def dismissed(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismissed)
    log_in(page)
    label = '<script>alert("label")</script><img src=x onerror=alert("img")>'
    create_token(page, label)
    page.goto("/ui/tokens")
    cell = page.locator("th.label-cell", has_text='<script>alert("label")</script>')
    assert cell.first.inner_text() == label
    assert page.locator("table img").count() == 0
    page.goto("/ui/admin/audit?type=token.created")
    assert dialogs == []


class _Attacker(http.server.BaseHTTPRequestHandler):
    """Another origin's page that posts a form to tokenward as soon as it loads."""

    target = ""

    def do_GET(self) -> None:
        action, fields = {
            "/revoke": (f"{self.target}/revoke", ""),
            "/create": (
                f"{self.target}/create",
                '<input name="label" value="forged"><input name="lifetime" value="365">'
                '<input name="scopes" value="read"><input name="csrf_token" value="guessed">',
            ),
            # Login CSRF: log the victim's browser into the attacker's own account. A
            # cross-site form has no binding cookie to copy, so it sends an empty field.
            "/login": (
                f"{self.target}/login",
                f'<input name="username" value="admin"><input name="password" '
                f'value="{ADMIN_PASSWORD}"><input name="csrf_token" value="">',
            ),
        }[self.path.split("?")[0]]
        body = (
            f'<!doctype html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{action}">{fields}</form></body>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def attacker(server: Server) -> Iterator[Callable[[str], str]]:
    """``attacker(target)``: the URL of another origin (another port) whose pages post forms
    to ``target`` + ``/revoke`` or ``/create``."""
    port = free_port()
    handler: type[_Attacker] = type("Attacker", (_Attacker,), {})
    site = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()

    def at(target: str) -> str:
        handler.target = target
        return f"http://127.0.0.1:{port}"

    yield at
    site.shutdown()
    site.server_close()
    thread.join()


def test_a_forged_cross_site_post_is_refused_and_changes_nothing(
    new_page: Callable[..., Page], server: Server, attacker: Callable[[str], str]
) -> None:
    secret = server.cli(
        "token", "create", "--user", "admin", "--label", "victim", "--scope", "tokens:read"
    ).strip()
    token_id = server.request("GET", "/v1/self", bearer(secret)).json()["id"]
    page = new_page()
    log_in(page)  # the victim's browser holds a live session cookie
    base = f"http://127.0.0.1:{server.port}/ui/tokens"
    for path, target in (("/revoke", f"{base}/{token_id}"), ("/create", base)):
        origin = attacker(target)
        with page.expect_response(lambda r: r.request.method == "POST") as posted:
            page.goto(f"{origin}{path}")
        # 403 (not a redirect to the login page): the cookie was sent, the CSRF check refused.
        assert posted.value.status == 403, path
        page.get_by_role("heading", name="Form refused").wait_for()
    assert server.request("GET", "/v1/self", bearer(secret)).status == 200
    mine = server.request("GET", "/v1/tokens", bearer(secret)).json()["items"]
    assert "forged" not in {item["label"] for item in mine}


def test_a_cross_site_login_form_is_refused_and_logs_nobody_in(
    new_page: Callable[..., Page], server: Server, attacker: Callable[[str], str]
) -> None:
    page = new_page()  # a browser that never opened tokenward's login form
    origin = attacker(f"http://127.0.0.1:{server.port}/ui")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.goto(f"{origin}/login")
    assert posted.value.status == 403
    page.get_by_role("heading", name="Form refused").wait_for()
    assert not [c for c in page.context.cookies() if "tw_session" in c["name"]]
    page.goto("/ui/tokens")
    page.wait_for_url("**/ui/login")


def _fill_passwords(page: Page, new: str, current: str | None = None) -> None:
    if current is not None:
        page.get_by_label("Current password", exact=True).fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("New password, again", exact=True).fill(new)


def test_a_password_changed_in_the_browser_ends_the_other_sessions(
    new_page: Callable[..., Page],
) -> None:
    admin = new_page()
    log_in(admin)
    admin.goto("/ui/admin/users")
    assert admin.get_by_text("At least 12 characters (at most 1024)").is_visible()
    admin.get_by_label("Username").fill("carol")
    admin.get_by_label("Initial password").fill(CAROL_PASSWORD)
    admin.get_by_role("button", name="Add user").click()
    admin.get_by_text("Created carol.").wait_for()

    laptop, phone = new_page(), new_page(PHONE)
    log_in(laptop, "carol", CAROL_PASSWORD)
    log_in(phone, "carol", CAROL_PASSWORD)
    laptop.get_by_role("link", name="Account").click()
    laptop.get_by_role("heading", name="Change your password").wait_for()
    assert laptop.get_by_text("At least 12 characters (at most 1024)").is_visible()
    _fill_passwords(laptop, "carols-second-password", CAROL_PASSWORD)
    laptop.get_by_role("button", name="Change password").click()
    laptop.get_by_text("Password changed; 1 other session ended.").wait_for()
    phone.goto("/ui/tokens")
    phone.wait_for_url("**/ui/login")  # the other session is over

    laptop.get_by_role("button", name="Log out").click()
    laptop.get_by_label("Username").fill("carol")
    laptop.get_by_label("Password").fill(CAROL_PASSWORD)
    laptop.get_by_role("button", name="Log in").click()
    laptop.get_by_text("Wrong username or password.").wait_for()
    log_in(laptop, "carol", "carols-second-password")

    admin.goto("/ui/admin/users")
    admin.get_by_role("link", name="Set password… of carol").click()
    _fill_passwords(admin, "set-by-the-admin-for-carol")
    admin.get_by_role("button", name="Set password").click()
    admin.get_by_text("Password of carol set; 1 session ended.").wait_for()
    laptop.goto("/ui/tokens")
    laptop.wait_for_url("**/ui/login")
    log_in(laptop, "carol", "set-by-the-admin-for-carol")


def test_a_non_admin_cannot_reach_admin_pages(
    new_page: Callable[..., Page], server: Server
) -> None:
    admin = new_page()
    log_in(admin)
    admin.goto("/ui/admin/users")
    admin.get_by_label("Username").fill("bob")
    admin.get_by_label("Initial password").fill(BOB_PASSWORD)
    admin.get_by_role("button", name="Add user").click()
    admin.get_by_text("Created bob.").wait_for()

    bob = new_page()
    log_in(bob, "bob", BOB_PASSWORD)
    nav = bob.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link").all_inner_texts() == ["My tokens"]
    for name in ADMIN_PAGES:
        answer = bob.goto(f"/ui/admin/{name}")
        assert answer is not None
        assert answer.status == 403, name
        assert bob.get_by_role("heading", name="Admins only").is_visible()
        assert "bob-has" not in bob.content()


def test_the_keyboard_reaches_the_create_form_and_focus_is_visible(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    log_in(page)
    page.goto("/ui/tokens/create")
    focused = ""
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        if focused == "label":
            break
    assert focused == "label"
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth]; })()"
    )
    assert outline == ["solid", "3px"]
    page.keyboard.type("typed by keyboard")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "lifetime"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "expires_on"
    for _ in range(4):  # Chromium's date field takes a Tab for each of its parts
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == "scopes":
            break
    assert page.evaluate("document.activeElement.name") == "scopes"
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    page.get_by_text("You will not see it again").wait_for()
    assert page.locator("#secret").input_value().startswith("twu_")


def test_the_audit_log_reads_newest_first_in_words_with_people_as_actors(
    new_page: Callable[..., Page], server: Server
) -> None:
    server.cli("token", "create", "--user", "admin", "--label", "nightly export")
    page = new_page()
    log_in(page)
    page.goto("/ui/admin/tokens")
    page.get_by_role("link", name="Revoke… nightly export").click()
    page.get_by_role("button", name="Revoke token").click()
    page.get_by_role("heading", name="Token revoked").wait_for()
    page.goto("/ui/admin/audit")
    rows = page.locator("tbody tr[data-seq]")
    seqs = [int(s) for s in rows.evaluate_all("rows => rows.map(r => r.dataset.seq)")]
    assert len(seqs) > 3 and seqs == sorted(seqs, reverse=True)
    newest = rows.first
    assert newest.locator(".summary").inner_text() == "revoked token 'nightly export' of admin"
    assert newest.locator(".who").inner_text() == "admin (web session)"
    made = rows.filter(has_text="created token 'nightly export' for admin")
    assert made.locator(".who").inner_text() == "command line"
    logins = rows.filter(has_text="logged in to the web UI").locator(".who").all_inner_texts()
    assert "admin (logging in)" in logins
    assert all(re.fullmatch(r"[a-z]+ \(logging in\)", who) for who in logins)  # not "anonymous"
    actor_id = newest.locator(".who span").get_attribute("title") or ""
    assert actor_id.startswith("ses_")  # the raw id on hover…
    assert not newest.get_by_text(actor_id, exact=True).is_visible()
    newest.locator("summary").click()  # …and behind the disclosure, with the full JSON
    assert newest.get_by_text(actor_id, exact=True).is_visible()
    assert '"reason": "admin"' in newest.locator("pre.json").inner_text()
