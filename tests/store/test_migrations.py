"""The schema exists only through migrations, and they match the table definitions."""

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from backends import PostgresSchema, require_service
from tokenward.store import migrate
from tokenward.store.sql import create_engines
from tokenward.store.tables import metadata


def test_upgrade_creates_the_tables_and_records_the_head(tmp_path: Path) -> None:
    engine, _ = create_engines(f"sqlite:///{tmp_path / 'db.sqlite'}")
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert {"users", "tokens", "events"} <= set(sa.inspect(engine).get_table_names())


def test_upgrading_twice_changes_nothing(tmp_path: Path) -> None:
    engine, _ = create_engines(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_migrated_schema_matches_the_table_definitions(tmp_path: Path) -> None:
    engine, _ = create_engines(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_migrated_postgresql_schema_matches_the_table_definitions(
    _postgres_schema: PostgresSchema | None,
) -> None:
    require_service("PostgreSQL (127.0.0.1:5432)", _postgres_schema is not None)
    assert _postgres_schema is not None
    engine, _ = create_engines(_postgres_schema.url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert differences == []
