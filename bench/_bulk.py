"""Synthetic tokens and their events, written straight into PostgreSQL with ``COPY``.

Token ``n`` belongs to user ``n % USERS`` and was made ``n`` minutes after a start two years
ago, so a later batch holds newer tokens. One in ten is revoked, one in twenty had a 90-day
lifetime (the old ones among them are expired), one in a hundred is an admin key. Each token
has its ``token.created`` event, a revoked one its ``token.revoked``; one in 50,000 has a
``token.leaked`` (the rare type). Secrets are computed from ``n`` (a run's own salt, then
``n`` in digits: base62 all the same), so the bench can present any token without keeping a
million secrets; only their SHA-256 digests are stored, as tokenward does.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg

__all__ = ["ADMIN_KEY", "RARE_TYPE", "USERS", "Bulk", "is_live", "token_id", "user_id"]

USERS = 1_000
RARE_TYPE = "token.leaked"
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=730)
_LIFETIME = timedelta(days=90)
_COLUMNS = (
    "id, kind, user_id, created_by, label, scopes, created_at, expires_at, digest, hint, "
    "revoked_at, revoked_by, revoke_reason"
)
ADMIN_KEY = "tok_admin00000000000"


def user_id(k: int) -> str:
    return f"usr_{k:017d}"


def token_id(n: int) -> str:
    return f"tok_{n:017d}"


def is_live(n: int) -> bool:
    """Neither revoked nor ever given an expiry: valid whenever it is asked."""
    return n % 10 != 3 and n % 20 != 0 and n % 100 != 0


def _checksum(text: str) -> str:
    number, digits = zlib.crc32(text.encode("ascii")), []
    for _ in range(6):
        number, rest = divmod(number, 62)
        digits.append(_ALPHABET[rest])
    return "".join(reversed(digits))


class Bulk:
    """One run's tokens: their secrets (from a salt of the run's own) and the rows to load."""

    def __init__(self) -> None:
        self.salt = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        self.loaded = 0

    def secret(self, n: int, kind: str = "u") -> str:
        head = f"tw{kind}_{self.salt}{n:033d}"
        return head + _checksum(head)

    def admin_secret(self) -> str:
        return self.secret(1, "a")  # the admin key is made as number 1, of kind "a"

    def start(self, dsn: str) -> None:
        """The owners: ``USERS`` users, and an admin with an admin key for the admin lists."""
        admin = ("usr_admin000000000000", "scale-admin", "x", True, "active", _START)
        users = [(user_id(k), f"scale{k}", "x", False, "active", _START) for k in range(USERS)]
        key = self._row(1, kind="a", owner=admin[0], token=ADMIN_KEY, scopes=["admin"])
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            _copy(cur, "users (id, username, password_hash, is_admin, status, created_at)",
                  iter([admin, *users]))  # fmt: skip
            _copy(cur, f"tokens ({_COLUMNS})", iter([key]))

    def load_to(self, dsn: str, total: int) -> None:
        """Add tokens up to ``total`` and their events, then VACUUM ANALYZE, then CHECKPOINT:
        the measures that follow must not share the disk with the checkpointer writing the
        load out (hundreds of MB at 1M tokens)."""
        numbers = range(self.loaded, total)
        with psycopg.connect(dsn) as conn, conn.cursor() as cur:
            _copy(cur, f"tokens ({_COLUMNS})", (self._row(n) for n in numbers))
            _copy(cur, "events (at, type, actor, subject, details, outcome)",
                  (e for n in numbers for e in _events(n)))  # fmt: skip
            conn.commit()
            conn.autocommit = True
            cur.execute("VACUUM ANALYZE tokens")
            cur.execute("VACUUM ANALYZE events")
            cur.execute("CHECKPOINT")
        self.loaded = total

    def _row(self, n: int, **given: object) -> tuple[object, ...]:
        kind = str(given.get("kind", "a" if n % 100 == 0 else "u"))
        created = _created(n)
        expires = created + _LIFETIME if n % 20 == 0 else None
        revoked = created + timedelta(hours=1) if n % 10 == 3 else None
        secret = self.secret(n, kind)
        return (
            given.get("token", token_id(n)), kind, given.get("owner", user_id(n % USERS)),
            "scale-admin", f"scale {n}", json.dumps(given.get("scopes", ["tokens:read"])),
            created, expires, hashlib.sha256(secret.encode()).hexdigest(),
            f"{secret[:4]}…{secret[-4:]}", revoked, "scale-admin" if revoked else None,
            "revoked" if revoked else None,
        )  # fmt: skip


def _created(n: int) -> datetime:
    return _START + timedelta(minutes=n)


def _events(n: int) -> Iterator[tuple[object, ...]]:
    subject, actor, at = token_id(n), user_id(n % USERS), _created(n)
    yield at, "token.created", actor, subject, '{"scopes": ["tokens:read"]}', "success"
    if n % 10 == 3:
        yield at + timedelta(hours=1), "token.revoked", actor, subject, "{}", "success"
    if n % 50_000 == 7:
        yield at + timedelta(hours=2), RARE_TYPE, actor, subject, "{}", "success"


def _copy(cur: psycopg.Cursor[object], target: str, rows: Iterator[tuple[object, ...]]) -> None:
    with cur.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
