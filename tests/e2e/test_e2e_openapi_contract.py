"""The OpenAPI document is the server's contract (issue 13): schemathesis, with every check on,
against a live ``tokenward serve``, with a user token holding every user scope and with an
admin key (scopes admin and introspect), bounded in time so the suite stays fast. Each run must
report no failure; ``schemathesis.toml`` beside this file names the few answers no JSON Schema
can promise, one reason each.

The operations by which a caller revokes its own credential run apart, last for their kind of
caller and with a credential of their own: once it is revoked, every later request of the run
presents a dead credential and gets 401 before anything else (P2), also where an undeclared
method would otherwise get 405, so that one check is off there."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from oauth_support import service
from server import ADMIN_PASSWORD, Server, clean_env

from tokenward.domain.scopes import ADMIN, INTROSPECT
from tokenward.domain.tokens import TokenKind
from tokenward.service import NewToken
from tokenward.testing import TEST_ACTOR, make_token, make_user

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")
SELF_REVOKING = {
    "user token": ["POST /v1/session/logout-all", "DELETE /v1/tokens/{token_id}"],
    "admin key": ["DELETE /v1/admin/keys/{key_id}"],
}
# name: (caller, seconds of generation at most, schemathesis arguments)
RUNS = {
    "user token": (
        "alice",
        30,
        [arg for name in SELF_REVOKING["user token"] for arg in ("--exclude-name", name)],
    ),
    "user token revoking itself": (
        "bob",
        8,
        [arg for name in SELF_REVOKING["user token"] for arg in ("--include-name", name)]
        + ["--exclude-checks", "unsupported_method"],
    ),
    "admin key": (
        "admin key",
        45,
        [arg for name in SELF_REVOKING["admin key"] for arg in ("--exclude-name", name)],
    ),
    "admin key revoking itself": (
        "second admin key",
        8,
        [arg for name in SELF_REVOKING["admin key"] for arg in ("--include-name", name)]
        + ["--exclude-checks", "unsupported_method"],
    ),
}


@pytest.fixture(scope="module")
def callers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """The server, and the secret of each caller the runs present."""
    cwd = Path(tmp_path_factory.mktemp("contract"))
    database_url = f"sqlite:///{cwd / 'tokenward.db'}"
    limits_off = ("FAILED_AUTH", "FAILED_LOGINS", "LEAK_REPORTS")
    env = {f"TOKENWARD_{name}_PER_MINUTE": "0" for name in limits_off}
    env |= {"TOKENWARD_DATABASE_URL": database_url, "TOKENWARD_ADMIN_PASSWORD": ADMIN_PASSWORD}
    env["TOKENWARD_MAX_STALENESS_MS"] = "500"  # the event stream's heartbeats come quicker
    server = Server.start(cwd, clean_env(env), "contract")
    try:
        server.wait_ready()
        with service(database_url) as rt:
            admin = rt.accounts.by_name("admin")
            key = NewToken("schemathesis", (ADMIN, INTROSPECT))
            secrets = {
                name: rt.tokens.create(admin, key, by=TEST_ACTOR, kind=TokenKind.ADMIN).secret
                for name in ("admin key", "second admin key")
            }
            scopes = tuple(sorted(rt.tokens.scopes_for(TokenKind.USER)))
            for name in ("alice", "bob"):
                secrets[name] = make_token(rt, make_user(rt, name), "st", scopes).secret
        yield server, secrets
    finally:
        server.stop()


@pytest.mark.parametrize("run", RUNS)
def test_schemathesis_finds_no_failure(
    callers: tuple[Server, dict[str, str]], run: str, tmp_path: Path
) -> None:
    server, secrets = callers
    caller, seconds, arguments = RUNS[run]
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"http://127.0.0.1:{server.port}/openapi.json",
        *("--header", f"Authorization: Bearer {secrets[caller]}"),
        *("--checks", "all", "--max-time", str(seconds), "--workers", "1"),
        *("--generation-database", "none", "--no-color", "--output-truncate", "false"),
        *arguments,
    ]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    summary = done.stdout[done.stdout.rfind("SUMMARY") :]
    print(f"[contract] {run}:", summary)
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
