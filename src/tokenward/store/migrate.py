"""Create or upgrade the schema: the only way tables come to exist."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

__all__ = ["current_revision", "head_revision", "upgrade"]

_SCRIPTS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 0x746B776D  # "tkwm"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; a database already there is left alone."""
    config = _config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Nodes started together migrate one after the other; the later ones find the
            # schema at head. (On SQLite the writer's BEGIN IMMEDIATE does the same.)
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
