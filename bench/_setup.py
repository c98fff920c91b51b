"""What every benchmark sets up alike: bounded number arguments, a fresh database (a SQLite
file, or an empty PostgreSQL schema), and the environment of the tokenward commands."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from _postgres import fresh_schema

__all__ = ["bounded", "fresh_database", "tokenward_environment"]


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]``."""

    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


@contextlib.contextmanager
def fresh_database(sqlite: bool, work: Path, postgres_url: str, prefix: str) -> Iterator[str]:
    """A SQLite file in ``work``, or a fresh schema named ``prefix_…`` dropped at the end."""
    if sqlite:
        yield f"sqlite:///{work / 'tokenward.db'}"
        return
    with fresh_schema(postgres_url, prefix=prefix) as url:
        yield url


def tokenward_environment(url: str, **settings: str) -> dict[str, str]:
    """The environment of every tokenward command: the fresh database, known passwords, the
    given ``TOKENWARD_*`` settings, and none inherited from the caller's shell (so on
    PostgreSQL the nodes follow the event log by LISTEN/NOTIFY, the default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env["TOKENWARD_DATABASE_URL"] = url
    env["TOKENWARD_PASSWORD"] = secrets.token_urlsafe(24)
    env["TOKENWARD_ADMIN_PASSWORD"] = secrets.token_urlsafe(24)
    env.update({f"TOKENWARD_{name.upper()}": value for name, value in settings.items()})
    return env
