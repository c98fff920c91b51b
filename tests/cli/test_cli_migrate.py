"""``tokenward migrate`` and the errors every command shares: settings and database."""

from __future__ import annotations

from tokenward_cli import Tokenward

from tokenward.store.migrate import head_revision


def test_migrate_creates_the_schema_and_a_second_run_changes_nothing(
    fresh_tokenward: Tokenward,
) -> None:
    first = fresh_tokenward("migrate")
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""
    tables = {name for (name,) in fresh_tokenward.rows("SELECT name FROM sqlite_master")}
    assert {"users", "tokens", "events", "alembic_version"} <= tables
    assert fresh_tokenward.rows("SELECT version_num FROM alembic_version") == [(head_revision(),)]

    again = fresh_tokenward("migrate")
    assert again.returncode == 0, again.stderr
    assert fresh_tokenward.rows("SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_a_bad_setting_exits_non_zero_with_a_message_naming_the_variable(
    fresh_tokenward: Tokenward,
) -> None:
    bad = {"TOKENWARD_MAX_STALENESS_MS": "abc"}
    done = fresh_tokenward("token", "list", "--user", "alice", env=bad)
    assert done.returncode != 0
    assert "TOKENWARD_MAX_STALENESS_MS" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_an_unreachable_database_gives_one_clear_line_and_no_traceback(
    fresh_tokenward: Tokenward,
) -> None:
    done = fresh_tokenward(
        "migrate", env={"TOKENWARD_DATABASE_URL": "sqlite:////nonexistent-dir/x.db"}
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "TOKENWARD_DATABASE_URL" in done.stderr
    assert "unable to open database file" in done.stderr
