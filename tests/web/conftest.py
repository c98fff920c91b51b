"""Fixtures of the web UI's in-process tests: a browser-like client over the shared runtime
(SQLite and PostgreSQL), and people to log in as."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from web_support import AGENT, LOOPBACK

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
