"""Helpers for the web UI's in-process tests: reading pages, logging in through the form."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from httpx2 import Response
from starlette.testclient import TestClient

from tokenward.runtime import Runtime
from tokenward.store.base import EventQuery
from tokenward.store.sql import SqlStore
from tokenward.testing import DEFAULT_PASSWORD

LOOPBACK = "http://127.0.0.1"  # plain HTTP on loopback: the session cookie is not Secure here
AGENT = "web-tests/1.0"
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')
_FIELD_ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">([^<]*)</p>')

Rows = dict[str, list[tuple[Any, ...]]]
RowsOf = Callable[[], Rows]


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on ``page``."""
    found = _CSRF.search(page)
    assert found, page
    return found[1]


def field_errors(page: str) -> dict[str, str]:
    """The error shown next to each field of ``page``, by field name (unescaped)."""
    return {name: html.unescape(text) for name, text in _FIELD_ERROR.findall(page)}


def sent_back(answer: Response, to: str) -> str:
    """The page a refused (or done) form post was redirected to (post/redirect/get): the post
    answered 303 to ``to``, whose GET shows the outcome. Returns that page."""
    assert [r.status_code for r in answer.history] == [303], answer.text
    assert answer.history[0].headers["location"] == to
    assert answer.status_code == 200, answer.text
    assert answer.request.method == "GET"
    return answer.text


def log_in(client: TestClient, username: str, password: str = DEFAULT_PASSWORD) -> str:
    """Log in through the login form; return the session's CSRF token."""
    form = client.get("/ui/login")
    assert form.status_code == 200, form.text
    answer = client.post(
        "/ui/login",
        data={"csrf_token": csrf_of(form.text), "username": username, "password": password},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/ui/tokens").text)


def snapshot(runtime: Runtime) -> Rows:
    """Every row of every table but ``nodes`` (which running nodes update on their own)."""
    store = runtime.store
    assert isinstance(store, SqlStore)
    with store.reader.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        return {
            name: sorted(
                (tuple(row) for row in conn.execute(sa.select("*").select_from(sa.table(name)))),
                key=repr,
            )
            for name in names
            if name != "nodes"
        }


def event_types(runtime: Runtime, after: int = 0) -> list[str]:
    return [event.type for event in runtime.audit.query(EventQuery(after, 1000))]
