"""``tokenward key create`` (admin API keys) and ``tokenward audit``."""

from __future__ import annotations

import json

import click

from tokenward.cli._common import CLI_ACTOR, guard, runtime, when
from tokenward.domain.errors import InvalidInput
from tokenward.domain.model import MAX_SEQ
from tokenward.domain.scopes import ADMIN, ADMIN_KEY_SCOPES
from tokenward.domain.tokens import TokenKind
from tokenward.http.views import event_view
from tokenward.service import NewToken
from tokenward.store.base import EventQuery

__all__ = ["audit", "key"]


@click.group()
def key() -> None:
    """Manage admin API keys."""


@key.command("create")
@click.option("--label", required=True, help="What the key is for (1-100 characters).")
@click.option(
    "--user", "username", default="admin", show_default=True, help="The admin who owns the key."
)
@click.option(
    "--expires-in-days",
    type=int,
    default=None,
    help="Lifetime; default 7 days, at most 365 (the policy's numbers).",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(sorted(ADMIN_KEY_SCOPES)),
    help="admin or introspect; repeat for both. Default: admin.",
)
def create(label: str, username: str, expires_in_days: int | None, scopes: tuple[str, ...]) -> None:
    """Create an admin API key (twa_…) and print its secret alone (shown only this once)."""

    def run() -> str:
        built = runtime()
        owner = built.accounts.by_name(username)
        if not owner.is_admin:
            raise InvalidInput("user", f"{owner.username!r} is not an admin")
        request = NewToken(label=label, scopes=scopes or (ADMIN,), expires_in_days=expires_in_days)
        created = built.tokens.create(owner, request, by=CLI_ACTOR, kind=TokenKind.ADMIN)
        click.echo(
            f"created {created.record.id} expiring {when(created.record.expires_at)}", err=True
        )
        return created.secret

    click.echo(guard(run))


@click.command()
@click.option("--after", type=click.IntRange(0, MAX_SEQ), default=0, help="Only events after SEQ.")
@click.option("--type", "kind", default=None, help="Only events of this type.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
def audit(after: int, kind: str | None, limit: int, as_json: bool) -> None:
    """The audit log, oldest first: who did what, to which subject, when and from where."""
    events = guard(lambda: runtime().audit.query(EventQuery(after, limit, kind)))
    for event in events:
        if as_json:
            record = event_view(event)
            click.echo(json.dumps(record, sort_keys=True))
        else:
            click.echo(
                f"{event.seq}\t{when(event.at)}\t{event.type}\t{event.actor}\t"
                f"{event.subject}\t{event.ip or '-'}\t{event.outcome}"
            )
