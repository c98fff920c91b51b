"""The ``tokenward`` command group and its subcommands (all of them need the server install)."""

from __future__ import annotations

import click

from tokenward.cli import admin, server, tokens, users

__all__ = ["cli"]


@click.group()
@click.version_option(package_name="tokenward")
def cli() -> None:
    """tokenward: API tokens with short lifetimes, honest 401s and fast revocation.

    The database is TOKENWARD_DATABASE_URL (default sqlite:///./tokenward.db).
    """


for command in (
    server.serve,
    server.migrate,
    users.user,
    tokens.token,
    admin.key,
    admin.audit,
):
    cli.add_command(command)
