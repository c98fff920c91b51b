"""``tokenward user set-password NAME``: the new password comes from standard input, never
from an argument; every session of the user ends; the change is audited (issue 17, point 5)."""

from __future__ import annotations

import json
import subprocess

import argon2
import pytest
from tokenward_cli import PASSWORD, TIMEOUT, Tokenward

from installed import TOKENWARD
from tokenward.domain.model import Actor
from tokenward.runtime import Runtime
from tokenward.settings import Settings

NEW_PASSWORD = "set-from-the-command-line"


def _set_password(tokenward: Tokenward, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TOKENWARD), "user", "set-password", *args],
        cwd=tokenward.cwd,
        env=tokenward.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _hash_of(tokenward: Tokenward, username: str) -> str:
    [(stored,)] = tokenward.rows("SELECT password_hash FROM users WHERE username = ?", username)
    return str(stored)


def _verifies(stored: str, password: str) -> bool:
    try:
        return argon2.PasswordHasher().verify(stored, password)
    except argon2.exceptions.VerificationError:
        return False


def test_the_password_is_read_from_stdin_sessions_end_and_it_is_audited(
    tokenward: Tokenward,
) -> None:
    rt = Runtime.build(Settings(database_url=f"sqlite:///{tokenward.database}"))
    try:
        rt.sessions.login("alice", PASSWORD, Actor("anonymous"))
    finally:
        rt.close()
    done = _set_password(tokenward, "Alice", stdin=NEW_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "password of alice set; 1 session ended\n"
    assert NEW_PASSWORD not in done.stdout + done.stderr
    stored = _hash_of(tokenward, "alice")
    assert _verifies(stored, NEW_PASSWORD) and not _verifies(stored, PASSWORD)
    assert tokenward.rows("SELECT count(*) FROM sessions WHERE revoked_at IS NULL") == [(0,)]
    [(actor, details)] = tokenward.rows(
        "SELECT actor, details FROM events WHERE type = 'user.password_reset'"
    )
    assert actor == "cli" and json.loads(str(details))["sessions_ended"] == 1
    assert NEW_PASSWORD.encode() not in tokenward.database.read_bytes()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("alice",), "", "standard input"),
        (("alice",), "\n", "standard input"),
        (("alice",), "too-short\n", "new_password: must be at least 12 characters"),
        (("nobody",), NEW_PASSWORD + "\n", "no user named 'nobody'"),
        (("alice", NEW_PASSWORD), "", "unexpected extra argument"),  # never an argument
        (("alice", "--password", NEW_PASSWORD), "", "no such option"),
    ],
)
def test_a_refused_set_password_exits_non_zero_clearly_and_changes_nothing(
    tokenward: Tokenward, args: tuple[str, ...], stdin: str, message: str
) -> None:
    before = _hash_of(tokenward, "alice")
    done = _set_password(tokenward, *args, stdin=stdin)
    assert done.returncode != 0
    assert message in done.stderr.lower()
    assert _hash_of(tokenward, "alice") == before
    assert tokenward.rows("SELECT count(*) FROM events WHERE type = 'user.password_reset'") == [
        (0,)
    ]
