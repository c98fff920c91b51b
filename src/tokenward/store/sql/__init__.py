"""The SQL store (SQLAlchemy Core): one module per aggregate, one transaction over them all."""

from tokenward.store.sql.engines import create_engines, fail_closed, psycopg_dsn
from tokenward.store.sql.rows import token_record
from tokenward.store.sql.store import SqlStore, SqlTransaction

__all__ = [
    "SqlStore",
    "SqlTransaction",
    "create_engines",
    "fail_closed",
    "psycopg_dsn",
    "token_record",
]
