"""Wiring: settings in, a store and the services on it out. Used by the CLI and the HTTP app."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from tokenward.domain.clock import Clock, SystemClock
from tokenward.passwords import PasswordHasher
from tokenward.ratelimit import FailureLimiter
from tokenward.service import AccountService, TokenService
from tokenward.service.audit import AuditService
from tokenward.service.policies import PolicyService
from tokenward.service.sessions import SessionService
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.base import Store
from tokenward.store.sql import SqlStore

__all__ = ["Runtime"]

_MINUTE = timedelta(minutes=1)
_UNLIMITED = 1 << 62


@dataclasses.dataclass
class Runtime:
    settings: Settings
    store: Store
    clock: Clock
    accounts: AccountService
    tokens: TokenService
    sessions: SessionService
    policies: PolicyService
    audit: AuditService
    failed_auth: FailureLimiter  # per client address, for presented credentials that fail

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
        passwords = passwords or PasswordHasher()
        staleness = settings.max_staleness
        policies = PolicyService(store, clock, settings.policy)
        logins = FailureLimiter(clock, settings.failed_logins_per_minute or _UNLIMITED, _MINUTE)
        return cls(
            settings=settings,
            store=store,
            clock=clock,
            accounts=AccountService(store, clock, passwords, staleness),
            tokens=TokenService(store, clock, policies, settings.resource_scopes, staleness),
            sessions=SessionService(
                store, clock, passwords, settings.session_lifetime, logins, staleness
            ),
            policies=policies,
            audit=AuditService(store, clock),
            failed_auth=FailureLimiter(
                clock, settings.failed_auth_per_minute or _UNLIMITED, _MINUTE
            ),
        )

    def migrate(self) -> None:
        """Create or upgrade the schema of an SQL store; nothing to do for others."""
        if isinstance(self.store, SqlStore):
            migrate.upgrade(self.store.writer)
