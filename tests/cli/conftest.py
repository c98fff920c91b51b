"""Fixtures: the real ``tokenward`` command, each test on its own SQLite file."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from tokenward_cli import PASSWORD, SECRET_SHAPE, Tokenward


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database holding the user ``alice``, made once and copied by each test."""
    folder = tmp_path_factory.mktemp("seed")
    tw = Tokenward(folder, folder / "tw.db")
    tw.ok("user", "create", "alice", env={"TOKENWARD_PASSWORD": PASSWORD})
    return tw.database


@pytest.fixture
def fresh_tokenward(tmp_path: Path) -> Tokenward:
    """The command on a database file that does not exist yet."""
    return Tokenward(tmp_path, tmp_path / "tw.db")


@pytest.fixture
def tokenward(tmp_path: Path, seeded_database: Path) -> Tokenward:
    """The command on this test's own copy of a database with the user ``alice``."""
    for suffix in ("", "-wal"):
        source = Path(f"{seeded_database}{suffix}")
        if source.exists():
            shutil.copyfile(source, tmp_path / f"tw.db{suffix}")
    return Tokenward(tmp_path, tmp_path / "tw.db")


@pytest.fixture
def create_token(tokenward: Tokenward) -> Callable[..., str]:
    """Make a token for alice through the command; checks stdout is the secret alone."""

    def create(label: str = "laptop", *extra: str) -> str:
        out = tokenward.ok("token", "create", "--user", "alice", "--label", label, *extra)
        assert re.fullmatch(SECRET_SHAPE + "\n", out), "stdout must be the secret, one line"
        return out.strip()

    return create
