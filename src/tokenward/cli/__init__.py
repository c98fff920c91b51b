"""The ``tokenward`` command.

Every subcommand works on the server's database, so the command needs the server install
(``pip install "tokenward[server]"``); on the light install it says so in one line instead of
a traceback.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["cli", "main"]

# Present only with the server extra; checked by name, without importing them.
_SERVER_MODULES = ("sqlalchemy", "alembic", "uvicorn", "fastapi")
SERVER_MISSING = "tokenward: this command needs the server install: pip install 'tokenward[server]'"


def main() -> None:
    if any(importlib.util.find_spec(name) is None for name in _SERVER_MODULES):
        print(SERVER_MISSING, file=sys.stderr)
        sys.exit(1)
    from tokenward.cli._commands import cli

    cli(prog_name="tokenward")


def __getattr__(name: str) -> Any:
    if name == "cli":
        from tokenward.cli._commands import cli

        return cli
    raise AttributeError(name)
