"""``tokenward serve`` as a user starts it: migrations, the first admin, and quiet logs."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import argon2
import pytest
from server import ADMIN_PASSWORD, Server

from tokenward.domain.tokens import TokenKind, generate
from tokenward.store.migrate import head_revision

pytestmark = pytest.mark.slow

GENERATED = re.compile(r"^Created the org admin 'admin' with password: (\S+)$", re.M)


def rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        found = conn.execute(sql).fetchall()
    conn.close()
    return found


def test_first_start_prints_a_generated_admin_password_once_and_a_restart_does_not(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    first = start_server(name="first")
    first.stop()
    found = GENERATED.search(first.stderr)
    assert found, first.output
    password = found[1]
    assert first.output.count(password) == 1  # on the console, never again in a log line
    assert password not in first.stdout
    (stored,) = rows(tmp_path / "tokenward.db", "SELECT password_hash FROM users")
    assert argon2.PasswordHasher().verify(str(stored[0]), password)

    second = start_server(name="second")
    second.stop()
    assert GENERATED.search(second.output) is None
    assert password not in second.output
    assert rows(tmp_path / "tokenward.db", "SELECT username FROM users") == [("admin",)]


def test_serve_migrates_a_fresh_database_on_start(
    tmp_path: Path, start_server: Callable[..., Server]
) -> None:
    database = tmp_path / "fresh.db"
    server = start_server(
        {
            "TOKENWARD_DATABASE_URL": f"sqlite:///{database}",
            "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD,
        }
    )
    assert rows(database, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert rows(database, "SELECT username, is_admin FROM users") == [("admin", 1)]
    # A token lookup reaches the tokens table: 401 for an unknown token, not 503.
    unknown = generate(TokenKind.USER)
    reply = server.request("GET", "/v1/self", {"Authorization": f"Bearer {unknown}"})
    assert reply.status == 401
    assert server.request("GET", "/readyz").status == 200


def test_no_presented_secret_reaches_the_server_output_even_with_the_access_log(
    start_server: Callable[..., Server],
) -> None:
    server = start_server({"TOKENWARD_ACCESS_LOG": "1", "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD})
    scopes = ("--scope", "tokens:read", "--scope", "tokens:write")
    valid = server.cli("token", "create", "--user", "admin", "--label", "e2e", *scopes).strip()
    unknown = generate(TokenKind.USER)
    bad_checksum = valid[:-1] + ("A" if valid[-1] != "A" else "B")
    secrets = [valid, unknown, bad_checksum]

    def call(method: str, target: str, secret: str | None = None, body: str | None = None) -> int:
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        reply = server.request(method, target, headers, body)
        for presented in secrets:  # never echoed in an answer either
            assert presented not in reply.text
            assert all(presented not in value for value in reply.headers.values())
        return reply.status

    me = server.request("GET", "/v1/self", {"Authorization": f"Bearer {valid}"})
    assert me.status == 200
    expected = {
        ("GET", "/v1/self", unknown, None): 401,
        ("GET", "/v1/policy", bad_checksum, None): 401,
        ("GET", f"/v1/self?access_token={valid}", None, None): 400,
        ("GET", f"/v1/policy?access_token={unknown}", None, None): 400,
        ("GET", f"/v1/tokens/{valid}", valid, None): 404,
        ("GET", f"/{unknown}", None, None): 404,
        ("GET", f"/v1/tokens/x{bad_checksum}y?access_token={valid}", None, None): 400,
        ("POST", "/v1/tokens", valid, f'{{"label": "{valid * 2}"}}'): 422,
        ("POST", "/v1/tokens", valid, f'{{"label": "{valid}"'): 400,
        ("DELETE", f"/v1/tokens/{me.json()['id']}", valid, None): 200,
        ("GET", "/v1/self", valid, None): 401,
    }
    answered = {request: call(*request) for request in expected}
    assert answered == expected

    server.stop()
    output = server.output
    for presented in secrets:
        assert presented not in output
        assert presented[4:24] not in output  # nor a recognisable part of one
    access = [line for line in output.splitlines() if "tokenward.access" in line]
    assert len(access) >= len(expected) + 2  # every request above, /healthz and the first call
    assert any(f"GET /v1/self 200 {me.json()['id']}" in line for line in access)
    assert any("GET /v1/tokens/[redacted] 404" in line for line in access)
    assert any("GET /v1/tokens/x[redacted] 400" in line for line in access), access
