"""The original report's scenario, end to end: a real tokenward server and the example
resource server (examples/projects_api) as processes."""

from __future__ import annotations

import contextlib
import http.client
import json
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server import ADMIN_PASSWORD, Server, free_port

from installed import BIN

EXAMPLE = Path(__file__).parents[2] / "examples" / "projects_api" / "app.py"
pytestmark = pytest.mark.slow


def _get(port: int, token: str | None = None) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", "/projects", headers=headers)
        response = conn.getresponse()
        found = {k.lower(): v for k, v in response.getheaders()}
        return response.status, found, json.loads(response.read() or b"null")
    finally:
        conn.close()


@pytest.fixture
def example(tmp_path: Path, start_server: Callable[..., Server]) -> Iterator[tuple[Server, int]]:
    """tokenward (SQLite, 1 s bound) and the example app wired to it, both running."""
    server = start_server({"TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD})
    key = server.cli("key", "create", "--label", "projects api", "--scope", "introspect").strip()
    port = free_port()
    env = {
        **server.env,
        "TOKENWARD_URL": f"http://127.0.0.1:{server.port}",
        "TOKENWARD_KEY": key,
        "PORT": str(port),
    }
    with (tmp_path / "example.log").open("wb") as log:
        process = subprocess.Popen(
            [str(BIN / "python"), str(EXAMPLE)],
            env=env,
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError):
                if _get(port)[0] == 200:
                    break
            assert process.poll() is None, (tmp_path / "example.log").read_text()
            assert time.monotonic() < deadline, "the example did not start"
            time.sleep(0.05)
        yield server, port
    finally:
        process.terminate()
        process.wait(10)


def _token(server: Server, *extra: str) -> str:
    return server.cli(
        "token",
        "create",
        "--user",
        "admin",
        "--label",
        "client",
        "--scope",
        "tokens:read",
        "--scope",
        "tokens:write",
        *extra,
    ).strip()


def test_anonymous_callers_get_the_public_projects(example: tuple[Server, int]) -> None:
    _, port = example
    status, headers, body = _get(port)
    assert status == 200
    assert body == {"projects": ["website", "handbook"]}
    assert "tokenward-token-expires" not in headers


def test_a_valid_token_gets_its_own_projects_and_its_expiry(example: tuple[Server, int]) -> None:
    server, port = example
    token = _token(server)
    status, headers, body = _get(port, token)
    assert status == 200
    assert body == {"user": "admin", "projects": ["website", "billing"]}
    me = server.request("GET", "/v1/self", {"Authorization": f"Bearer {token}"}).json()
    assert headers["tokenward-token-expires"] == me["expires_at"][:19] + "Z"


def test_an_expired_token_is_401_not_an_empty_list(example: tuple[Server, int]) -> None:
    """The exact complaint of the original report: a dead token must not look anonymous."""
    server, port = example
    token = server.cli("token", "create", "--user", "admin", "--label", "expiring").strip()
    with sqlite3.connect(server.cwd / "tokenward.db") as db:  # its last day passes, unused
        db.execute(
            "UPDATE tokens SET expires_at = '2000-01-01 00:00:00' WHERE label = ?", ("expiring",)
        )
    status, headers, body = _get(port, token)
    assert status == 401
    assert 'error="invalid_token"' in headers["www-authenticate"]
    assert body["error"] == "invalid_token"


def test_a_revoked_token_is_refused_by_the_resource_server_within_the_bound(
    example: tuple[Server, int],
) -> None:
    server, port = example
    token = _token(server)
    assert _get(port, token)[0] == 200  # now cached by the resource server
    me = server.request("GET", "/v1/self", {"Authorization": f"Bearer {token}"}).json()
    server.request("DELETE", f"/v1/tokens/{me['id']}", {"Authorization": f"Bearer {token}"})
    revoked_at = time.monotonic()
    while (status := _get(port, token)[0]) == 200:
        assert time.monotonic() - revoked_at < 1.0, "accepted past the bound"
        time.sleep(0.005)
    assert status == 401
    took = time.monotonic() - revoked_at
    assert took < 1.0


def test_garbage_and_other_schemes_are_refused_not_served_anonymously(
    example: tuple[Server, int],
) -> None:
    _, port = example
    assert _get(port, "twu_not_a_token")[0] == 401
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/projects", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert conn.getresponse().status == 401
    conn.close()
