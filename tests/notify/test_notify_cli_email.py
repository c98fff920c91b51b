"""``tokenward user create --email``: the address is stored, a bad one is refused naming it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from tokenward.cli import cli
from tokenward.testing import DEFAULT_PASSWORD


def test_user_create_takes_an_email(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    env = {"TOKENWARD_DATABASE_URL": url, "TOKENWARD_PASSWORD": DEFAULT_PASSWORD}
    runner = CliRunner()
    done = runner.invoke(cli, ["user", "create", "bob", "--email", "bob@example.org"], env=env)
    assert done.exit_code == 0, done.output
    refused = runner.invoke(cli, ["user", "create", "eve", "--email", "eve at home"], env=env)
    assert refused.exit_code == 1 and "email" in refused.output
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT username, email FROM users")).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [("bob", "bob@example.org")]
