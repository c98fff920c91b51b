"""Many rows in a PostgreSQL schema, fast: tokens and events written with ``COPY``.

The rows look like a deployment's: most tokens user tokens, one in ten revoked, the oldest
ones expired, some rotated (their grace over, or not yet), a few admin tokens; an event log
where a few types dominate and one is rare.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg

__all__ = ["NOW", "RARE_TYPE", "load"]

NOW = datetime(2026, 12, 1, tzinfo=UTC)
RARE_TYPE = "token.leaked"
USERS = 200
_TYPES = ("token.created", "token.created", "token.revoked", "token.rotated", "user.created")
_TOKEN_COLUMNS = (
    "id, kind, user_id, created_by, label, scopes, created_at, expires_at, digest, hint, "
    "revoked_at, revoked_by, revoke_reason, grace_until"
)
_EVENT_COLUMNS = "at, type, actor, subject, details, outcome"


def user_id(n: int) -> str:
    return f"usr_{n:08d}"


def token_id(n: int) -> str:
    return f"tok_{n:012d}"


def _users() -> Iterator[tuple[object, ...]]:
    for n in range(USERS):
        yield user_id(n), f"user{n}", "hash", n == 0, "active", NOW - timedelta(days=400)


def _token(n: int, count: int, apart: timedelta) -> tuple[object, ...]:
    created = NOW - (count - n) * apart
    kind = "a" if n % 50 == 0 else "u"
    expires = created + timedelta(days=30) if n % 4 == 0 else None
    revoked = created + timedelta(hours=1) if n % 10 == 3 else None
    grace = created + timedelta(days=2) if n % 97 == 5 else None  # rotated, grace over or not
    digest = hashlib.sha256(f"bulk:{n}".encode()).hexdigest()
    return (
        token_id(n), kind, user_id(n % USERS), "user0", f"token {n}", "[]", created, expires,
        digest, f"tw{kind}_…{n % 10000:04d}", revoked, "user0" if revoked else None,
        "revoked" if revoked else None, grace,
    )  # fmt: skip


def _event(n: int, count: int) -> tuple[object, ...]:
    kind = RARE_TYPE if n % 5000 == 17 else _TYPES[n % len(_TYPES)]
    at = NOW - timedelta(seconds=(count - n) * 30)
    return at, kind, f"user{n % USERS}", token_id(n), json.dumps({"n": n}), "success"


def load(dsn: str, tokens: int, events: int, apart: timedelta = timedelta(minutes=1)) -> None:
    """Add ``tokens`` tokens of 200 users, made ``apart`` from each other up to :data:`NOW`,
    and ``events`` events, then ANALYZE."""
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        _copy(cur, "users (id, username, password_hash, is_admin, status, created_at)", _users())
        _copy(cur, f"tokens ({_TOKEN_COLUMNS})", (_token(n, tokens, apart) for n in range(tokens)))
        _copy(cur, f"events ({_EVENT_COLUMNS})", (_event(n, events) for n in range(events)))
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE users, tokens, events")


def _copy(cur: psycopg.Cursor[object], target: str, rows: Iterator[tuple[object, ...]]) -> None:
    with cur.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
