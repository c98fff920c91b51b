"""Administration at the command line: users, deactivation, admin keys, the audit log."""

from __future__ import annotations

import json
import re

from tokenward_cli import PASSWORD, Tokenward

ADMIN_KEY = r"twa_[0-9A-Za-z]{49}"


def _admin(tokenward: Tokenward, name: str = "root") -> None:
    tokenward.ok("user", "create", name, "--admin", env={"TOKENWARD_PASSWORD": PASSWORD})


def test_user_list_shows_status_role_and_active_tokens(tokenward: Tokenward) -> None:
    _admin(tokenward)
    tokenward.ok("token", "create", "--user", "alice", "--label", "a")
    lines = tokenward.ok("user", "list").splitlines()
    assert lines[0].split("\t") == ["USERNAME", "STATUS", "ROLE", "ACTIVE_TOKENS", "ID"]
    rows = {line.split("\t")[0]: line.split("\t")[1:4] for line in lines[1:]}
    assert rows == {"alice": ["active", "user", "1"], "root": ["active", "admin", "0"]}


def test_deactivate_revokes_every_token_and_reactivate_keeps_them_revoked(
    tokenward: Tokenward,
) -> None:
    _admin(tokenward)
    for label in ("a", "b", "c"):
        tokenward.ok("token", "create", "--user", "alice", "--label", label)
    said = tokenward.ok("user", "deactivate", "alice")
    assert re.search(r"deactivated alice: 3 tokens revoked, 0 sessions ended", said)
    listed = tokenward.ok("token", "list", "--user", "alice").splitlines()[1:]
    assert [line.split("\t")[1] for line in listed] == ["revoked"] * 3
    assert "stay revoked" in tokenward.ok("user", "reactivate", "alice")
    active = tokenward.ok("token", "list", "--user", "alice", "--status", "active")
    assert active.splitlines()[1:] == []
    assert "alice\tactive" in tokenward.ok("user", "list")


def test_the_last_admin_cannot_be_deactivated(fresh_tokenward: Tokenward) -> None:
    _admin(fresh_tokenward)
    done = fresh_tokenward("user", "deactivate", "root")
    assert done.returncode == 1
    assert "last active admin" in done.stderr
    assert "root\tactive\tadmin" in fresh_tokenward.ok("user", "list")


def test_unknown_users_are_named_in_the_error(tokenward: Tokenward) -> None:
    for command in ("deactivate", "reactivate"):
        done = tokenward("user", command, "nobody")
        assert done.returncode == 1
        assert "nobody" in done.stderr


def test_key_create_prints_an_admin_key_alone_expiring_in_7_days(tokenward: Tokenward) -> None:
    _admin(tokenward)
    done = tokenward("key", "create", "--user", "root", "--label", "ci")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(ADMIN_KEY + "\n", done.stdout)
    assert re.search(r"created tok_\w+ expiring \d{4}-\d\d-\d\dT", done.stderr)


def test_key_create_refuses_bad_input_and_creates_nothing(tokenward: Tokenward) -> None:
    _admin(tokenward)
    results = tokenward.all(
        {
            "too long": (
                ["key", "create", "--user", "root", "--label", "x", "--expires-in-days", "366"],
                {},
            ),
            "not an admin": (["key", "create", "--user", "alice", "--label", "x"], {}),
            "bad scope": (
                ["key", "create", "--user", "root", "--label", "x", "--scope", "read"],
                {},
            ),
        }
    )
    assert "expires_in_days" in results["too long"].stderr
    assert "not an admin" in results["not an admin"].stderr
    assert "read" in results["bad scope"].stderr
    for done in results.values():
        assert done.returncode != 0 and done.stdout == ""
    created = [line for line in tokenward.ok("audit", "--type", "token.created").splitlines()]
    assert created == []


def test_audit_shows_who_did_what_and_filters(tokenward: Tokenward) -> None:
    _admin(tokenward)
    tokenward.ok("token", "create", "--user", "alice", "--label", "a")
    tokenward.ok("user", "deactivate", "alice")
    lines = tokenward.ok("audit").splitlines()
    types = [line.split("\t")[2] for line in lines]
    assert types == [
        "user.created",
        "user.created",
        "token.created",
        "token.revoked",
        "user.deactivated",
    ]
    assert all(line.split("\t")[3] == "cli" for line in lines)
    records = [
        json.loads(line)
        for line in tokenward.ok("audit", "--type", "user.deactivated", "--json").splitlines()
    ]
    assert [r["details"]["tokens_revoked"] for r in records] == [1]
    first_seq = int(lines[0].split("\t")[0])
    assert len(tokenward.ok("audit", "--after", str(first_seq)).splitlines()) == 4


def test_audit_refuses_a_seq_past_what_the_store_holds_naming_the_option(
    tokenward: Tokenward,
) -> None:
    for after in ("9223372036854775808", "-1"):
        done = tokenward("audit", "--after", after)
        assert done.returncode == 2, done.stderr
        assert "--after" in done.stderr and "Traceback" not in done.stderr
    assert tokenward.ok("audit", "--after", "9223372036854775807").strip() == ""


def test_token_lifetimes_out_of_range_are_refused_and_make_nothing(tokenward: Tokenward) -> None:
    _admin(tokenward)
    for days in ("100000000000000000000000000000", "-1", "0"):
        made = tokenward(
            "token", "create", "--user", "alice", "--label", "x", "--expires-in-days", days
        )
        assert made.returncode != 0 and "Traceback" not in made.stderr, made.stderr
        key = tokenward(
            "key", "create", "--user", "root", "--label", "x", "--expires-in-days", days
        )
        assert key.returncode != 0 and "Traceback" not in key.stderr, key.stderr
    assert tokenward.ok("token", "list", "--user", "alice").splitlines()[1:] == []
