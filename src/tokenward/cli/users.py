"""``tokenward user …``: create, list, deactivate, reactivate, set-password."""

from __future__ import annotations

import getpass
import os
import sys

import click

from tokenward.cli._common import CLI_ACTOR, guard, runtime, when

__all__ = ["user"]


@click.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an org admin.")
@click.option("--email", default=None, help="Where notices about the user's tokens go.")
def create(username: str, admin: bool, email: str | None) -> None:
    """Create a user. The password comes from TOKENWARD_PASSWORD or a prompt."""
    password = os.environ.get("TOKENWARD_PASSWORD") or _prompt_password()
    created = guard(
        lambda: runtime().accounts.create_user(
            username, password, is_admin=admin, by=CLI_ACTOR, email=email
        )
    )
    click.echo(created.id)


def _prompt_password() -> str:
    if not sys.stdin.isatty():
        raise click.ClickException("set TOKENWARD_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat: "):
        raise click.ClickException("the passwords differ")
    return first


@user.command("list")
def list_users() -> None:
    """Every user with status, role and number of active tokens."""
    rows = guard(lambda: runtime().accounts.list())
    click.echo("USERNAME\tSTATUS\tROLE\tACTIVE_TOKENS\tID")
    for account, active in rows:
        role = "admin" if account.is_admin else "user"
        click.echo(f"{account.username}\t{account.status.value}\t{role}\t{active}\t{account.id}")


@user.command("deactivate")
@click.argument("username")
def deactivate(username: str) -> None:
    """Stop an account now: every token and session of it is revoked. The last admin stays."""

    def run() -> str:
        built = runtime()
        done = built.accounts.deactivate(built.accounts.by_name(username).id, CLI_ACTOR)
        return (
            f"deactivated {done.user.username}: {done.tokens_revoked} tokens revoked, "
            f"{done.sessions_ended} sessions ended; refused everywhere by "
            f"{when(done.effective_by)}"
        )

    click.echo(guard(run))


@user.command("reactivate")
@click.argument("username")
def reactivate(username: str) -> None:
    """Let a deactivated user log in again; revoked tokens stay revoked."""

    def run() -> str:
        built = runtime()
        account = built.accounts.reactivate(built.accounts.by_name(username).id, CLI_ACTOR)
        return f"reactivated {account.username}; its old tokens stay revoked"

    click.echo(guard(run))


@user.command("set-password")
@click.argument("username")
def set_password(username: str) -> None:
    """Set a user's password, read from standard input (never from an argument, which other
    users could read in the process list): typed twice at a terminal, else the first line.
    Every session of the user ends; the change is audited."""
    password = _password_from_stdin()

    def run() -> str:
        built = runtime()
        account = built.accounts.by_name(username)
        done = built.credentials.reset(account.id, password, CLI_ACTOR)
        ended = done.sessions_ended
        return (
            f"password of {account.username} set; {ended} session{'' if ended == 1 else 's'} ended"
        )

    click.echo(guard(run))


def _password_from_stdin() -> str:
    if sys.stdin.isatty():
        return _prompt_password()
    line = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not line:
        raise click.ClickException("give the new password on standard input (one line)")
    return line
