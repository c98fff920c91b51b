"""``tokenward token …``: create, list, revoke."""

from __future__ import annotations

import click

from tokenward.cli._common import CLI_ACTOR, guard, runtime, when
from tokenward.domain.errors import NotFound
from tokenward.domain.model import TokenStatus
from tokenward.service import NewToken

__all__ = ["token"]


@click.group()
def token() -> None:
    """Manage tokens."""


@token.command("create")
@click.option("--user", "username", required=True, help="Owner of the token.")
@click.option("--label", required=True, help="What the token is for (1-100 characters).")
@click.option("--expires-in-days", type=int, default=None, help="Lifetime; default from policy.")
@click.option("--scope", "scopes", multiple=True, help="A scope to grant; repeat for more.")
def create(username: str, label: str, expires_in_days: int | None, scopes: tuple[str, ...]) -> None:
    """Create a token and print its secret alone on stdout (shown only this once)."""

    def run() -> str:
        built = runtime()
        owner = built.accounts.by_name(username)
        request = NewToken(label=label, scopes=scopes, expires_in_days=expires_in_days)
        created = built.tokens.create(owner, request, by=CLI_ACTOR)
        click.echo(
            f"created {created.record.id} expiring {when(created.record.expires_at)}", err=True
        )
        return created.secret

    click.echo(guard(run))


@token.command("list")
@click.option("--user", "username", required=True, help="Whose tokens to list.")
@click.option("--status", type=click.Choice([s.value for s in TokenStatus]), default=None)
def list_tokens(username: str, status: str | None) -> None:
    """List a user's tokens, newest first (never their secrets)."""

    def rows() -> list[str]:
        built = runtime()
        owner = built.accounts.by_name(username)
        now = built.clock.now()
        found, cursor = [], None
        while True:
            page = built.tokens.list(
                owner.id, status=TokenStatus(status) if status else None, cursor=cursor, limit=200
            )
            found += page.items
            if (cursor := page.next_cursor) is None:
                break
        return [
            "\t".join((t.id, t.status(now).value, when(t.expires_at), t.hint, t.label))
            for t in found
        ]

    lines = guard(rows)
    click.echo("ID\tSTATUS\tEXPIRES\tHINT\tLABEL")
    for line in lines:
        click.echo(line)


@token.command("revoke")
@click.argument("token_id")
def revoke(token_id: str) -> None:
    """Revoke a token by its id (tok_…). Permanent; repeating it changes nothing."""

    def run() -> str:
        built = runtime()
        try:
            done = built.tokens.revoke(token_id, by=CLI_ACTOR, owner_id=None, reason="operator")
        except NotFound:
            raise NotFound(f"no token with id {token_id!r}") from None
        return f"revoked {done.record.id}; refused everywhere by {when(done.effective_by)}"

    click.echo(guard(run))
