"""Wiring: settings in, a store and the services on it out. Used by the CLI and the HTTP app."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import timedelta

import redis

from tokenward.domain.clock import Clock, SystemClock
from tokenward.notify.wiring import Notifications, notifications
from tokenward.passwords import PasswordHasher
from tokenward.propagation.buses import Bus, LocalBus, PostgresBus, RedisBus
from tokenward.propagation.cache import FreshCache
from tokenward.propagation.follower import LogFollower
from tokenward.propagation.receipts import Receipts
from tokenward.ratelimit import FailureLimiter, LoginLimits
from tokenward.ratelimit_redis import RedisFailureLimiter
from tokenward.service import AccountService, TokenService
from tokenward.service.alarms import TokenAlarms
from tokenward.service.audit import AuditService
from tokenward.service.authentication import Authenticator
from tokenward.service.credentials import PasswordService
from tokenward.service.flusher import Flusher
from tokenward.service.leaks import LeakService
from tokenward.service.policies import PolicyService
from tokenward.service.sessions import SessionService
from tokenward.service.usage import LastUseRecorder
from tokenward.service.verification import TokenVerifier
from tokenward.settings import Settings
from tokenward.store import migrate
from tokenward.store.base import Store
from tokenward.store.sql import SqlStore, psycopg_dsn

__all__ = ["Runtime"]

_MINUTE = timedelta(minutes=1)
_UNLIMITED = 1 << 62
_LOGIN_SLOWDOWN = 1.0  # seconds, per attempt on a name that failed too often


@dataclasses.dataclass
class Runtime:
    settings: Settings
    store: Store
    clock: Clock
    accounts: AccountService
    tokens: TokenService
    verification: TokenVerifier  # who a presented token secret belongs to
    sessions: SessionService
    authenticator: Authenticator  # who a request is: tokens, session cookies, refusals
    credentials: PasswordService  # changing and resetting passwords
    policies: PolicyService
    audit: AuditService
    failed_auth: FailureLimiter  # per client address, for presented credentials that fail
    cache: FreshCache
    follower: LogFollower
    receipts: Receipts
    usage: LastUseRecorder  # last use of each token, in memory until the flusher writes it
    alarms: TokenAlarms  # dead tokens and reused old secrets still being presented
    leaks: LeakService
    leak_reports: FailureLimiter  # per client address: every leak report counts
    flusher: Flusher
    notify: Notifications | None = None  # reminders, webhooks, email
    # Set when the node is told to stop: /readyz answers 503 while in-flight requests finish.
    draining: threading.Event = dataclasses.field(default_factory=threading.Event)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        passwords: PasswordHasher | None = None,
    ) -> Runtime:
        """Services over ``store`` (by default the SQL store at ``settings.database_url``).
        Propagation is wired but not started: :meth:`start` does that, for a serving node."""
        store = store if store is not None else SqlStore(settings.database_url)
        clock = clock or SystemClock()
        passwords = passwords or PasswordHasher()
        staleness = settings.max_staleness
        policies = PolicyService(store, clock, settings.policy)
        limiter = _limiters(settings, clock)
        logins = limiter("password-change", settings.failed_logins_per_minute)
        cache = FreshCache(staleness.total_seconds(), settings.cache_capacity)
        follower, receipts = _propagation(settings, store, clock, cache)
        usage, alarms = LastUseRecorder(store, clock), TokenAlarms(store, clock, policies)
        tokens = TokenService(store, clock, policies, settings.resource_scopes, staleness, usage)
        verification = TokenVerifier(store, clock, cache)
        sessions = SessionService(
            store,
            clock,
            passwords,
            settings.session_lifetime,
            _login_limits(limiter, settings),
            staleness,
        )
        failed_auth = limiter("auth", settings.failed_auth_per_minute)
        authenticator = Authenticator(
            verification,
            sessions,
            failed_auth,
            lookup_timeout=max(1.0, staleness.total_seconds()),  # fail closed past the bound
            on_use=usage.seen,
            on_dead=alarms.presented,
        )
        flush_every = settings.last_used_flush.total_seconds()
        return cls(
            settings=settings,
            store=store,
            clock=clock,
            accounts=AccountService(store, clock, passwords, staleness),
            tokens=tokens,
            verification=verification,
            sessions=sessions,
            authenticator=authenticator,
            credentials=PasswordService(store, clock, passwords, logins),
            policies=policies,
            audit=AuditService(store, clock),
            failed_auth=failed_auth,
            cache=cache,
            follower=follower,
            receipts=receipts,
            usage=usage,
            alarms=alarms,
            leaks=LeakService(store, clock),
            leak_reports=limiter("leaks", settings.leak_reports_per_minute),
            flusher=Flusher(usage, alarms, flush_every),
            notify=notifications(settings, store, clock, policies),
        )

    def migrate(self) -> None:
        """Create or upgrade the schema of an SQL store; nothing to do for others."""
        if isinstance(self.store, SqlStore):
            migrate.upgrade(self.store.writer)

    def start(self) -> None:
        """Follow the event log, so the verified-token cache may serve."""
        self.follower.start()
        self.flusher.start()
        if self.notify is not None and self.settings.notify_interval is not None:
            self.notify.notifier.start()

    def stop(self) -> None:
        """Stop the background work; last uses and alarms still pending are written first."""
        self.flusher.stop()
        self.follower.stop()
        if self.notify is not None:
            self.notify.notifier.stop()

    def close(self) -> None:
        """Stop following and close every connection: the runtime is done."""
        self.stop()
        self.store.dispose()


def _propagation(
    settings: Settings, store: Store, clock: Clock, cache: FreshCache
) -> tuple[LogFollower, Receipts]:
    """The follower that keeps ``cache`` fresh, and the receipts of what this node applied."""
    bus, heartbeat = _bus(settings, store)
    receipts = Receipts(store, clock, settings.max_staleness)
    follower = LogFollower(store, cache, bus, heartbeat, on_confirmed=receipts.confirmed)
    store.on_commit(bus.publish)  # the other nodes first (Redis; NOTIFY went with the commit)
    store.on_commit(follower.committed)  # then this node, before its caller answers
    return follower, receipts


def _login_limits(limiter: Limiter, settings: Settings) -> LoginLimits:
    """Failed logins: refused per (name, address), slowed per name (README "Limits")."""
    per_minute = settings.failed_logins_per_minute
    pairs, names = limiter("login-pairs", per_minute), limiter("login-names", per_minute)
    return LoginLimits(pairs, names, _LOGIN_SLOWDOWN if per_minute else 0.0)


Limiter = Callable[[str, int], FailureLimiter]


def _limiters(settings: Settings, clock: Clock) -> Limiter:
    """Makes a per-minute limit of failures (0: none) by name: shared by every node through
    Redis when ``TOKENWARD_BUS_URL`` names one, else this node's own."""
    client = None
    if settings.bus_url is not None:
        client = redis.Redis.from_url(
            settings.bus_url, socket_timeout=0.5, socket_connect_timeout=0.5
        )

    def limiter(name: str, per_minute: int) -> FailureLimiter:
        limit = per_minute or _UNLIMITED
        if client is None or not per_minute:
            return FailureLimiter(clock, limit, _MINUTE)
        return RedisFailureLimiter(client, name, clock, limit, _MINUTE)

    return limiter


def _bus(settings: Settings, store: Store) -> tuple[Bus, float]:
    """The bus for this deployment and the heartbeat (seconds) between log reads."""
    heartbeat = settings.max_staleness.total_seconds() / 4
    if settings.bus_url is not None:
        return RedisBus(settings.bus_url), heartbeat
    if isinstance(store, SqlStore) and store.writer.dialect.name == "postgresql":
        return PostgresBus(psycopg_dsn(store.url)), heartbeat
    # SQLite: other processes' changes are found by reading the log often (it is cheap).
    return LocalBus(), min(heartbeat, settings.poll_interval.total_seconds())
