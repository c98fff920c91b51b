"""Back after a corrected form, in Debian's Chromium: a form refused once and then sent right
never leaves a history entry that Back would have to post again ("Confirm Form
Resubmission"), because every refused form is answered with a redirect (post/redirect/get)
and a page that answers a post replaces its own entry."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from browser_support import log_in
from playwright.sync_api import Page

from e2e.server import ADMIN_PASSWORD

pytestmark = pytest.mark.slow


def back_to(page: Page, path: str, heading: str) -> None:
    """Back lands on ``path`` fetched afresh with GET: a page of ours, not Chromium's
    resubmission error."""
    page.go_back()
    page.wait_for_load_state()
    assert page.url.endswith(path), page.url
    assert "ERR_CACHE_MISS" not in page.content()
    assert page.get_by_role("heading", name=heading, exact=True).is_visible()
    assert page.evaluate("performance.getEntriesByType('navigation')[0].type") == "back_forward"


def test_back_after_a_corrected_create_form_shows_the_form(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    log_in(page)
    page.goto("/ui/tokens/create")
    page.get_by_role("button", name="Create token").click()  # no label: refused
    page.get_by_text("Label: must not be empty.").first.wait_for()
    assert page.url.endswith("/ui/tokens/create")
    page.get_by_label("Label").fill("corrected")
    page.get_by_role("button", name="Create token").click()
    page.get_by_text("You will not see it again").wait_for()
    secret = page.locator("#secret").input_value()
    back_to(page, "/ui/tokens/create", "Create a token")
    assert secret not in page.content()
    assert page.locator(".field-error").count() == 0  # the refusal was shown once


def test_back_after_a_corrected_user_form_shows_the_users_page(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    log_in(page)
    page.goto("/ui/admin/users")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Initial password").fill("short")
    page.get_by_role("button", name="Add user").click()
    page.get_by_text("Password: must be at least 12 characters.").first.wait_for()
    assert page.get_by_label("Username").input_value() == "erin"  # kept as typed
    page.get_by_label("Initial password").fill("erin-has-a-long-password")
    page.get_by_role("button", name="Add user").click()
    page.get_by_text("Created erin.").wait_for()
    back_to(page, "/ui/admin/users", "Users")


def test_back_after_a_corrected_policy_shows_the_policy(new_page: Callable[..., Page]) -> None:
    page = new_page()
    log_in(page)
    page.goto("/ui/admin/policy")
    page.get_by_label("Expiry reminders (days before)").fill("7, soon")
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text("Expiry reminders: must be a whole number of days.").first.wait_for()
    page.get_by_label("Expiry reminders (days before)").fill("7, 1")
    page.get_by_role("button", name="Save policy").click()
    page.get_by_text("Policy saved.").wait_for()
    back_to(page, "/ui/admin/policy", "Lifetime policy")


def test_back_after_a_corrected_login_shows_a_page_not_a_resubmission(
    new_page: Callable[..., Page],
) -> None:
    page = new_page()
    page.goto("/ui/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not " + ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Wrong username or password.").wait_for()
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/tokens")
    back_to(page, "/ui/tokens", "My tokens")  # the login page sends a person logged in on
