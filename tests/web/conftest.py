"""Fixtures of the web UI's tests: in process, a browser-like client over the shared runtime
(SQLite and PostgreSQL) and people to log in as; in a real browser, Debian's Chromium against
a real ``tokenward serve``."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from browser_support import CHROMIUM, DESKTOP
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from starlette.testclient import TestClient
from web_support import AGENT, LOOPBACK

from backends import require_service
from e2e.server import ADMIN_PASSWORD, Server, clean_env
from tokenward.domain.model import UserRecord
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.testing import make_user


@pytest.fixture
def ui(runtime: Runtime) -> Iterator[TestClient]:
    """The app as a browser would meet it: loopback over plain HTTP, a user agent."""
    app = create_app(runtime)
    headers = {"User-Agent": AGENT}
    with TestClient(
        app, base_url=LOOPBACK, headers=headers, raise_server_exceptions=False
    ) as client:
        yield client


@pytest.fixture
def alice(runtime: Runtime) -> UserRecord:
    return make_user(runtime, "alice")


@pytest.fixture
def root(runtime: Runtime) -> UserRecord:
    return make_user(runtime, "root", is_admin=True)


# -- the browser tests: Debian's Chromium (launched by path) against a real `tokenward serve` --


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("browser")
    started = Server.start(folder, clean_env({"TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD}))
    try:
        started.wait_ready()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_service(f"Debian's Chromium ({CHROMIUM}; apt-get install chromium)", CHROMIUM.exists())
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser, server: Server) -> Iterator[Callable[..., Page]]:
    """``new_page(viewport=DESKTOP)``: a page in a browser context of its own (own cookies)."""
    contexts: list[BrowserContext] = []

    def open_page(viewport: dict[str, int] = DESKTOP) -> Page:
        context = browser.new_context(
            base_url=f"http://127.0.0.1:{server.port}",
            viewport=viewport,  # type: ignore[arg-type]
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
