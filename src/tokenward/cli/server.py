"""``tokenward serve`` and ``tokenward migrate``."""

from __future__ import annotations

import importlib.util
import logging
import signal
from types import FrameType

import click

from tokenward.cli._common import runtime
from tokenward.cli.protocols import protocol_for
from tokenward.runtime import Runtime

__all__ = ["event_loop_and_parser", "migrate", "serve"]


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
def serve(host: str, port: int, workers: int) -> None:
    """Migrate the database, create the first admin if there is none, and serve HTTP."""
    import uvicorn

    built = runtime()
    _first_admin(built)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    loop, http = event_loop_and_parser()
    logging.getLogger("tokenward").info("serving on %s + %s", loop, http)
    settings = built.settings
    _exit_cleanly_on_sigterm()
    uvicorn.run(
        "tokenward.http.asgi:app",
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        http=protocol_for(http),
        access_log=False,  # uvicorn's would log query strings; ours (TOKENWARD_ACCESS_LOG) won't
        log_level="info",
        # X-Forwarded-* is read by tokenward itself, from TOKENWARD_TRUSTED_PROXIES only
        # (uvicorn's default would believe it from 127.0.0.1).
        proxy_headers=False,
        forwarded_allow_ips="",
        server_header=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_concurrency,
        timeout_graceful_shutdown=settings.drain_seconds,
    )


def _exit_cleanly_on_sigterm() -> None:
    """uvicorn drains on SIGTERM and then raises the signal again under the handler it found;
    this one makes that a clean exit (status 0) instead of death by signal. A SIGTERM before
    uvicorn starts ends the start the same way."""
    signal.signal(signal.SIGTERM, _exit_zero)


def _exit_zero(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _first_admin(built: Runtime) -> None:
    """Create the first admin on an empty database; say so when TOKENWARD_ADMIN_PASSWORD
    cannot apply (users exist), in one line that never holds the password."""
    configured = built.settings.admin_password
    existed = built.accounts.count() > 0
    generated = built.accounts.ensure_admin(configured)
    if generated:
        # Shown once, on the console only: never through logging.
        click.echo(f"Created the org admin 'admin' with password: {generated}", err=True)
        click.echo("Store it now; it will not be shown again.", err=True)
    elif configured and existed:
        click.echo(ADMIN_ENV_NOT_APPLIED, err=True)


ADMIN_ENV_NOT_APPLIED = (
    "warning: TOKENWARD_ADMIN_PASSWORD is set but the database already has users, so it was "
    "not applied (it only sets the first admin's password on an empty database); to change "
    "a password: tokenward user set-password NAME"
)


@click.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    runtime()
    click.echo("database is up to date", err=True)


def event_loop_and_parser() -> tuple[str, str]:
    """uvloop and httptools, which the server extra installs (about 2.4x the requests a second
    of asyncio + h11 on the verify path); the pure-Python pair where a platform has no wheels."""
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return loop, http
