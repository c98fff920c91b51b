"""The ``tokenward`` command."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from typing import Any

import click
import sqlalchemy.exc

from tokenward.domain.errors import InvalidInput, NotFound, StoreUnavailable, TokenwardError
from tokenward.domain.model import Actor, TokenStatus
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.settings import Settings, SettingsError

__all__ = ["main"]

CLI_ACTOR = Actor("cli")


def _runtime() -> Runtime:
    try:
        runtime = Runtime.build(Settings.from_env())
        runtime.migrate()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as error:
        # A bad TOKENWARD_DATABASE_URL, a missing driver or a database that is down: one line,
        # no traceback. The URL itself is not echoed, as it may hold a password.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise click.ClickException(
            f"cannot use the database of TOKENWARD_DATABASE_URL: {reason}"
        ) from None
    return runtime


@click.group()
@click.version_option(package_name="tokenward")
def cli() -> None:
    """tokenward: API tokens with short lifetimes, honest 401s and fast revocation.

    The database is TOKENWARD_DATABASE_URL (default sqlite:///./tokenward.db).
    """


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Migrate the database, create the first admin if there is none, and serve HTTP."""
    import uvicorn

    runtime = _runtime()
    generated = runtime.accounts.ensure_admin(runtime.settings.admin_password)
    if generated:
        # Shown once, on the console only: never through logging.
        click.echo(f"Created the org admin 'admin' with password: {generated}", err=True)
        click.echo("Store it now; it will not be shown again.", err=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(
        "tokenward.http.asgi:app",
        host=host,
        port=port,
        workers=workers,
        factory=False,
        access_log=False,  # uvicorn's would log query strings; ours (TOKENWARD_ACCESS_LOG) won't
        log_level="info",
    )


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    _runtime()
    click.echo("database is up to date", err=True)


@cli.group()
def user() -> None:
    """Manage users."""


@user.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an org admin.")
def user_create(username: str, admin: bool) -> None:
    """Create a user. The password comes from TOKENWARD_PASSWORD or a prompt."""
    password = os.environ.get("TOKENWARD_PASSWORD") or _prompt_password()
    created = _guard(
        lambda: _runtime().accounts.create_user(username, password, is_admin=admin, by=CLI_ACTOR)
    )
    click.echo(created.id)


def _prompt_password() -> str:
    if not sys.stdin.isatty():
        raise click.ClickException("set TOKENWARD_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat: "):
        raise click.ClickException("the passwords differ")
    return first


@cli.group()
def token() -> None:
    """Manage tokens."""


@token.command("create")
@click.option("--user", "username", required=True, help="Owner of the token.")
@click.option("--label", required=True, help="What the token is for (1-100 characters).")
@click.option("--expires-in-days", type=int, default=None, help="Lifetime; default from policy.")
@click.option("--scope", "scopes", multiple=True, help="A scope to grant; repeat for more.")
def token_create(
    username: str, label: str, expires_in_days: int | None, scopes: tuple[str, ...]
) -> None:
    """Create a token and print its secret alone on stdout (shown only this once)."""

    def create() -> str:
        runtime = _runtime()
        owner = runtime.accounts.by_name(username)
        request = NewToken(label=label, scopes=scopes, expires_in_days=expires_in_days)
        created = runtime.tokens.create(owner, request, by=CLI_ACTOR)
        click.echo(
            f"created {created.record.id} expiring {_when(created.record.expires_at)}", err=True
        )
        return created.secret

    click.echo(_guard(create))


@token.command("list")
@click.option("--user", "username", required=True, help="Whose tokens to list.")
@click.option("--status", type=click.Choice([s.value for s in TokenStatus]), default=None)
def token_list(username: str, status: str | None) -> None:
    """List a user's tokens, newest first (never their secrets)."""

    def rows() -> list[str]:
        runtime = _runtime()
        owner = runtime.accounts.by_name(username)
        now = runtime.tokens.clock.now()
        found, cursor = [], None
        while True:
            page = runtime.tokens.list(
                owner.id, status=TokenStatus(status) if status else None, cursor=cursor, limit=200
            )
            found += page.items
            if (cursor := page.next_cursor) is None:
                break
        return [
            "\t".join((t.id, t.status(now).value, _when(t.expires_at), t.hint, t.label))
            for t in found
        ]

    lines = _guard(rows)
    click.echo("ID\tSTATUS\tEXPIRES\tHINT\tLABEL")
    for line in lines:
        click.echo(line)


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke a token by its id (tok_…). Permanent; repeating it changes nothing."""

    def revoke() -> str:
        runtime = _runtime()
        try:
            done = runtime.tokens.revoke(token_id, by=CLI_ACTOR, owner_id=None, reason="operator")
        except NotFound:
            raise NotFound(f"no token with id {token_id!r}") from None
        return f"revoked {done.record.id}; refused everywhere by {_when(done.effective_by)}"

    click.echo(_guard(revoke))


def _when(moment: Any) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _guard(action: Any) -> Any:
    """Run ``action``, turning domain errors into a one-line message and exit status 1."""
    try:
        return action()
    except InvalidInput as error:
        raise click.ClickException(f"{error.field}: {error.message}") from None
    except NotFound as error:
        raise click.ClickException(str(error)) from None
    except StoreUnavailable as error:
        raise click.ClickException(f"the database cannot be reached ({error})") from None
    except TokenwardError as error:
        raise click.ClickException(str(error)) from None


def main() -> None:
    cli(prog_name="tokenward")
