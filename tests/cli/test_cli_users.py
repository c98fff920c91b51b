"""``tokenward user create``: who may be created, and the clear refusals."""

from __future__ import annotations

import re

import pytest
from tokenward_cli import PASSWORD, Call, Tokenward

WITH_PASSWORD = {"TOKENWARD_PASSWORD": PASSWORD}

# Each refusal: the invocation, and what its one-line message must say.
REFUSALS: dict[str, tuple[Call, str]] = {
    "duplicate name": ((["user", "create", "alice"], WITH_PASSWORD), r"alice.*(taken|exists)"),
    # Full-width "Alice" folds (NFKC, case) to "alice": the same account, so a conflict.
    "full-width look-alike": (
        (["user", "create", "\uff21\uff4c\uff49\uff43\uff45"], WITH_PASSWORD),
        r"alice.*(taken|exists)",
    ),
    "space in name": ((["user", "create", "bo b"], WITH_PASSWORD), r"username"),
    "control character in name": ((["user", "create", "bo\x01b"], WITH_PASSWORD), r"username"),
    # Cyrillic a (U+0430) does not fold to Latin a: refused, so no account looks like another.
    "cyrillic look-alike": ((["user", "create", "\u0430lice"], WITH_PASSWORD), r"username"),
    "password too short": (
        (["user", "create", "bob"], {"TOKENWARD_PASSWORD": "Xq7-short"}),
        r"password.*12",
    ),
    "no password and no terminal": (
        (["user", "create", "carol"], {"TOKENWARD_PASSWORD": None}),
        r"TOKENWARD_PASSWORD",
    ),
}


def test_user_create_prints_the_new_id_and_admin_flag_is_stored(tokenward: Tokenward) -> None:
    done = tokenward("user", "create", "Bob", "--admin", env=WITH_PASSWORD)
    assert done.returncode == 0, done.stderr
    user_id = done.stdout.strip()
    assert user_id.startswith("usr_")
    users = {row[0]: row[1] for row in tokenward.rows("SELECT username, is_admin FROM users")}
    assert users == {"alice": 0, "bob": 1}  # names are stored folded; alice was made without
    assert tokenward.rows("SELECT id FROM users WHERE username = 'bob'") == [(user_id,)]


def test_each_refused_user_create_exits_non_zero_with_a_clear_message_and_creates_nothing(
    tokenward: Tokenward, subtests: pytest.Subtests
) -> None:
    """Conflicts (a look-alike that folds to an existing name is the same account), bad names,
    a short password, and no password with no terminal to prompt on."""
    results = tokenward.all({case: call for case, (call, _) in REFUSALS.items()})
    for case, (_, message) in REFUSALS.items():
        with subtests.test(case):
            done = results[case]
            assert done.returncode != 0
            assert re.search(message, done.stderr), done.stderr
            assert len(done.stderr.splitlines()) == 1, done.stderr  # one line, no traceback
            assert done.stdout == ""
            assert "Xq7-short" not in done.stderr  # a password is never echoed
    assert tokenward.rows("SELECT username FROM users") == [("alice",)]
    assert tokenward.rows("SELECT count(*) FROM events WHERE type = 'user.created'") == [(1,)]
