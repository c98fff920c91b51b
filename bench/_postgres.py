"""A fresh PostgreSQL schema for one bench run, always dropped, and the URL tokenward uses.

The schema is empty: tokenward migrates it on first use (the CLI, or the first node to start),
exactly as in a new deployment.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import psycopg

__all__ = ["DEFAULT_URL", "PostgresError", "fresh_schema"]

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


class PostgresError(RuntimeError):
    """The bench database could not be reached, or the schema not made."""


@contextlib.contextmanager
def fresh_schema(base_url: str, prefix: str = "tw_bench") -> Iterator[str]:
    """Create an empty schema in the database at ``base_url``; yield the ``TOKENWARD_DATABASE_URL``
    that puts tokenward in it (``search_path``); drop the schema and all of it on the way out."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
    except psycopg.Error as error:
        raise PostgresError(f"cannot create a schema at {base_url}: {error}") from None
    separator = "&" if "?" in base_url else "?"
    try:
        yield f"{base_url}{separator}options={quote(f'-csearch_path={name}')}"
    finally:
        with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
