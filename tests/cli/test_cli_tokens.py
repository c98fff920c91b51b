"""``tokenward token create|list|revoke``: secrets on stdout only once, refusals change nothing."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from tokenward_cli import SECRET_SHAPE, Tokenward

from installed import TOKENWARD


def test_token_create_prints_the_secret_alone_for_command_substitution_and_never_stores_it(
    tokenward: Tokenward,
) -> None:
    script = (
        f'T=$("{TOKENWARD}" token create --user alice --label "my laptop" --scope read)\n'
        'printf "<%s>" "$T"\n'
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tokenward.cwd,
        env=tokenward.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    secret = done.stdout.removeprefix("<").removesuffix(">")
    assert re.fullmatch(SECRET_SHAPE, secret), done.stdout
    assert secret not in done.stderr
    (token_id,) = (str(row[0]) for row in tokenward.rows("SELECT id FROM tokens"))
    assert token_id in done.stderr  # the other information goes to stderr
    stored = b"".join(p.read_bytes() for p in tokenward.cwd.glob("tw.db*"))
    assert secret.encode() not in stored
    assert secret[4:24].encode() not in stored


# Each refused create: its arguments, and the field its message must name.
BAD_CREATES: dict[str, tuple[list[str], str]] = {
    "unknown user": (["--user", "nobody", "--label", "x"], "user"),
    "empty label": (["--user", "alice", "--label", ""], "label"),
    "101-char label": (["--user", "alice", "--label", "x" * 101], "label"),
    "0 days": (["--user", "alice", "--label", "x", "--expires-in-days", "0"], "expires"),
    "366 days": (["--user", "alice", "--label", "x", "--expires-in-days", "366"], "expires"),
    "non-integer days": (
        ["--user", "alice", "--label", "x", "--expires-in-days", "ten"],
        "expires",
    ),
    "unknown scope": (
        ["--user", "alice", "--label", "x", "--scope", "read", "--scope", "bogus"],
        "scope",
    ),
}


def test_each_bad_token_create_names_the_field_on_stderr_and_creates_nothing(
    tokenward: Tokenward, subtests: pytest.Subtests
) -> None:
    results = tokenward.all(
        {case: (["token", "create", *args], {}) for case, (args, _) in BAD_CREATES.items()}
    )
    for case, (_, field) in BAD_CREATES.items():
        with subtests.test(case):
            done = results[case]
            assert done.returncode != 0
            assert done.stdout == ""
            assert re.search(rf"\b{field}", done.stderr, re.IGNORECASE), done.stderr
            assert "Traceback" not in done.stderr
    listed = tokenward.ok("token", "list", "--user", "alice")
    assert listed.splitlines()[1:] == []
    assert tokenward.rows("SELECT count(*) FROM tokens") == [(0,)]
    assert tokenward.rows("SELECT count(*) FROM events WHERE type = 'token.created'") == [(0,)]


def test_token_list_shows_id_status_expiry_hint_and_label_never_the_secret(
    tokenward: Tokenward, create_token: Callable[..., str]
) -> None:
    secret = create_token("build server", "--expires-in-days", "30")
    out = tokenward.ok("token", "list", "--user", "alice")
    assert secret not in out
    header, row, *rest = out.splitlines()
    assert header.split("\t") == ["ID", "STATUS", "EXPIRES", "HINT", "LABEL"]
    assert rest == []
    token_id, status, expires, hint, label = row.split("\t")
    assert tokenward.rows("SELECT id FROM tokens") == [(token_id,)]
    assert status == "active"
    in_30_days = datetime.now(UTC) + timedelta(days=30)
    assert abs(datetime.fromisoformat(expires) - in_30_days) < timedelta(minutes=5)
    assert hint == secret[:8] + "…"
    assert label == "build server"


def test_revoked_tokens_show_as_revoked_filter_by_status_and_revoking_again_is_fine(
    tokenward: Tokenward,
) -> None:
    created = tokenward.all(
        {label: (["token", "create", "--user", "alice", "--label", label], {}) for label in "ab"}
    )
    assert all(done.returncode == 0 for done in created.values()), created
    ids = {str(row[0]): str(row[1]) for row in tokenward.rows("SELECT label, id FROM tokens")}
    keep, drop = ids["a"], ids["b"]

    first = tokenward("token", "revoke", drop)
    assert first.returncode == 0, first.stderr
    assert drop in first.stdout
    again = tokenward("token", "revoke", drop)
    assert again.returncode == 0, again.stderr
    assert again.stdout == first.stdout  # idempotent: same answer, nothing new
    revocations = "SELECT count(*) FROM events WHERE type = 'token.revoked'"
    assert tokenward.rows(revocations) == [(1,)]

    revoked = tokenward.ok("token", "list", "--user", "alice", "--status", "revoked")
    assert [line.split("\t")[:2] for line in revoked.splitlines()[1:]] == [[drop, "revoked"]]
    assert keep not in revoked  # the filter leaves the active one out


def test_revoking_an_unknown_token_id_fails_with_a_clear_message(tokenward: Tokenward) -> None:
    done = tokenward("token", "revoke", "tok_doesnotexist")
    assert done.returncode != 0
    assert re.search(r"\bno (such )?token\b", done.stderr), done.stderr
    assert "Traceback" not in done.stderr
