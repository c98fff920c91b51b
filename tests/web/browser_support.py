"""What the browser tests share: logging in through the form, and the checks every page must
pass at both widths — axe-core's accessibility rules, and a layout that fits the window.

Screenshots are written to docs/screenshots only when asked (``make screenshots`` sets
``TOKENWARD_SCREENSHOTS=1``), so that running the tests leaves the tree as it was."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Page

from e2e.server import ADMIN_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
SERIOUS = ("serious", "critical")

# Every element's visible box (its box cut by each ancestor that clips what overflows it),
# against the window's width, and for the page's content against the grid (main's content
# box): a page that fits has none past them.
_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width) {
    found.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
  }
  const visible = (element) => {
    let {left, right} = element.getBoundingClientRect();
    for (let up = element.parentElement; up && up !== document.body; up = up.parentElement) {
      const style = getComputedStyle(up);
      if (style.overflowX !== "visible" || style.clip !== "auto") {
        const box = up.getBoundingClientRect();
        left = Math.max(left, box.left);
        right = Math.min(right, box.right);
      }
    }
    return {left, right};
  };
  const main = document.querySelector("main");
  const pad = parseFloat(getComputedStyle(main).paddingRight);
  const grid = main.getBoundingClientRect().right - pad;  // the content's right edge
  for (const element of document.body.querySelectorAll("*")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const {left, right} = visible(element);
    const inside = element !== main && main.contains(element);
    const edge = inside ? Math.min(width, grid) : width;
    if (right - left > 0 && (right > edge + 0.5 || left < -0.5)) {
      const name = `${element.tagName.toLowerCase()}.${element.className}`;
      found.push(`${name} shows ${Math.round(left)}..${Math.round(right)} of ${edge}`);
    }
  }
  return found;
}"""


# Inline pieces that must stay on one line (a token's hint, a scope, a time, an expiry): an
# inline box broken across lines has more than one client rectangle.
_BROKEN = """() => Array.from(document.querySelectorAll(
    ".records .hint-code, .records .scope, .records time, .records .expiry, .status, .outcome"
  )).filter(e => e.getClientRects().length > 1).map(e => e.textContent)"""


def log_in(page: Page, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    page.goto("/ui/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/ui/tokens")


def shoot(page: Page, name: str) -> None:
    """A full-page screenshot as docs/screenshots/NAME.png, when screenshots are asked for."""
    if os.environ.get("TOKENWARD_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line each."""
    results: dict[str, Any] = Axe().run(page).response
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}"
        for v in results["violations"]
        if v["impact"] in SERIOUS
    ]


def broken_words(page: Page) -> list[str]:
    """Hints, scopes, times and badges that the page breaks across lines (none, when fine)."""
    found: list[str] = page.evaluate(_BROKEN)
    return found


def overflowing(page: Page) -> list[str]:
    """Whatever makes the page wider than its window (nothing, on a page that fits)."""
    found: list[str] = page.evaluate(_OVERFLOW)
    return found
