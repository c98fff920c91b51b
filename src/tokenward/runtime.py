"""Wiring: settings in, a store and the services on it out. Used by the CLI and the HTTP app."""

from __future__ import annotations

import dataclasses

from tokenward.domain.clock import Clock, SystemClock
from tokenward.passwords import PasswordHasher
from tokenward.service import AccountService, TokenService
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.base import Store
from tokenward.store.sql import SqlStore

__all__ = ["Runtime"]


@dataclasses.dataclass
class Runtime:
    settings: Settings
    store: Store
    accounts: AccountService
    tokens: TokenService

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        passwords: PasswordHasher | None = None,
    ) -> Runtime:
        """Services over ``store`` (by default the SQL store at ``settings.database_url``)."""
        store = store or SqlStore(settings.database_url)
        clock = clock or SystemClock()
        return cls(
            settings=settings,
            store=store,
            accounts=AccountService(store, clock, passwords or PasswordHasher()),
            tokens=TokenService(
                store, clock, settings.policy, settings.resource_scopes, settings.max_staleness
            ),
        )

    def migrate(self) -> None:
        """Create or upgrade the schema of an SQL store; nothing to do for others."""
        if isinstance(self.store, SqlStore):
            migrate.upgrade(self.store.writer)
