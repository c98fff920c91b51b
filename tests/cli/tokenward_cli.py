"""The real ``tokenward`` console script, run as a subprocess against one SQLite file."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from installed import TOKENWARD

PASSWORD = "correct-horse-battery"  # a fixture value, not a secret
SECRET_SHAPE = r"twu_[0-9A-Za-z]{49}"
TIMEOUT = 30  # seconds, for one invocation

# One invocation: arguments, and environment changes (``None`` removes a variable).
Call = tuple[Sequence[str], Mapping[str, str | None]]


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any TOKENWARD_* variable, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env.update(overrides)
    return env


@dataclasses.dataclass
class Tokenward:
    """The command bound to one database file; stdin is never a terminal."""

    cwd: Path
    database: Path

    @property
    def env(self) -> dict[str, str]:
        return clean_env(TOKENWARD_DATABASE_URL=f"sqlite:///{self.database}")

    def __call__(
        self, *args: str, env: Mapping[str, str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.all({"": (args, env or {})})[""]

    def all(self, calls: Mapping[str, Call]) -> dict[str, subprocess.CompletedProcess[str]]:
        """Run several invocations at once (they are independent); results by name."""
        running: dict[str, subprocess.Popen[str]] = {}
        try:
            for name, (args, env) in calls.items():
                running[name] = subprocess.Popen(
                    [str(TOKENWARD), *args],
                    cwd=self.cwd,
                    env=self._merged(env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    encoding="utf-8",
                )
            done = {}
            for name, process in running.items():
                out, err = process.communicate(timeout=TIMEOUT)
                done[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
            return done
        finally:
            for process in running.values():
                if process.returncode is None:  # not yet collected: an error came first
                    process.kill()
                    process.communicate()  # reaps it and closes its pipes

    def _merged(self, env: Mapping[str, str | None]) -> dict[str, str]:
        merged = self.env
        for name, value in env.items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        return merged

    def ok(self, *args: str, env: Mapping[str, str | None] | None = None) -> str:
        """Run, insist on exit status 0, return stdout."""
        done = self(*args, env=env)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def rows(self, sql: str, *params: object) -> list[tuple[object, ...]]:
        """Read the database directly, to see what a command really stored."""
        with sqlite3.connect(self.database) as conn:
            found = conn.execute(sql, params).fetchall()
        conn.close()
        return found
