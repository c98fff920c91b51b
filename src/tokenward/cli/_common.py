"""What every command shares: the runtime, the audited actor, error and time formatting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click
import sqlalchemy.exc

from tokenward.domain.errors import InvalidInput, StoreUnavailable, TokenwardError
from tokenward.domain.model import Actor
from tokenward.runtime import Runtime
from tokenward.settings import Settings, SettingsError

__all__ = ["CLI_ACTOR", "guard", "runtime", "when"]

CLI_ACTOR = Actor("cli")  # what the audit log records for changes made at the command line
T = TypeVar("T")


def runtime() -> Runtime:
    """Services on TOKENWARD_DATABASE_URL, migrated; any problem is one line, no traceback."""
    try:
        built = Runtime.build(Settings.from_env())
        built.migrate()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as error:
        # A bad TOKENWARD_DATABASE_URL, a missing driver or a database that is down: one line,
        # no traceback. The URL itself is not echoed, as it may hold a password.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise click.ClickException(
            f"cannot use the database of TOKENWARD_DATABASE_URL: {reason}"
        ) from None
    return built


def when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def guard(action: Callable[[], T]) -> T:
    """Run ``action``, turning domain errors into a one-line message and exit status 1."""
    try:
        return action()
    except InvalidInput as error:
        raise click.ClickException(f"{error.field}: {error.message}") from None
    except StoreUnavailable as error:
        raise click.ClickException(f"the database cannot be reached ({error})") from None
    except TokenwardError as error:
        raise click.ClickException(str(error)) from None
