"""Configuration from ``TOKENWARD_*`` environment variables, checked once at start-up."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import ssl
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tokenward.domain.addresses import Network, parse_networks
from tokenward.domain.discovery import base_url
from tokenward.domain.errors import InvalidInput
from tokenward.domain.policy import LifetimeRule, Policy
from tokenward.domain.scopes import DEFAULT_RESOURCE_SCOPES, parse_scope_list

__all__ = ["Settings", "SettingsError"]

DEFAULT_DATABASE_URL = "sqlite:///./tokenward.db"
_METRICS_TOKEN_MIN = 32  # e.g. 24 random bytes in base64: beyond guessing


class SettingsError(ValueError):
    """A ``TOKENWARD_*`` variable has a value we cannot use; the message names it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    max_staleness: timedelta = timedelta(seconds=1)
    policy: Policy = dataclasses.field(default_factory=Policy)
    resource_scopes: frozenset[str] = frozenset({"read", "write"})
    # One line each, shown where people pick scopes (TOKENWARD_SCOPES="name=description; …").
    scope_descriptions: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: parse_scope_list(DEFAULT_RESOURCE_SCOPES)
    )
    admin_password: str | None = dataclasses.field(default=None, repr=False)
    access_log: bool = False
    session_lifetime: timedelta = timedelta(hours=12)
    failed_auth_per_minute: int = 20  # per client address; 0 turns the limit off
    failed_logins_per_minute: int = 20  # per username; 0 turns the limit off
    cookie_secure: bool | None = None  # None: Secure unless plain HTTP on a loopback address
    bus_url: str | None = None  # redis://… for the Redis bus; default: NOTIFY or polling
    poll_interval: timedelta = timedelta(milliseconds=20)  # SQLite: how often the log is read
    cache_capacity: int = 100_000  # verified tokens kept per node
    leak_reports_per_minute: int = 10  # POST /v1/leaks per client address; 0 turns it off
    last_used_flush: timedelta = timedelta(minutes=1)  # last-use batches: one write a token
    # Notifications. In code the notifier thread is off unless an interval is given (tests
    # tick it by hand); from the environment it runs every 5 s (TOKENWARD_NOTIFY_INTERVAL_MS).
    notify_interval: timedelta | None = None
    smtp_host: str | None = None  # no host: no email
    smtp_port: int = 587
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = dataclasses.field(default=None, repr=False)
    email_from: str = "tokenward@localhost"
    smtp_ca_file: str | None = None  # PEM CAs to trust for STARTTLS; None: the system's
    # Ranges webhooks may reach although they are not public (loopback, private, …).
    webhook_allowed_networks: tuple[Network, ...] = ()
    # GET /metrics: the bearer secret a scraper sends; None: loopback clients only.
    metrics_token: str | None = dataclasses.field(default=None, repr=False)
    events_per_key: int = 100  # GET /v1/events streams one credential may hold per node
    # Behind a reverse proxy (README "Behind a reverse proxy"): whose X-Forwarded-* to believe,
    # the largest request body, and the server's timeouts, concurrency and drain on SIGTERM.
    trusted_proxies: tuple[Network, ...] = ()
    max_body_bytes: int = 64 * 1024
    keep_alive_seconds: int = 5
    header_timeout_seconds: int = 10
    max_concurrency: int = 2048
    drain_seconds: int = 10
    # The server's public base URL: the issuer of its OAuth metadata. None: from each request.
    public_url: str | None = None

    def __post_init__(self) -> None:
        _refuse_cleartext_login(self)  # settings built in code too, not only from_env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        policy = reader.policy()
        scopes = reader.scopes("TOKENWARD_SCOPES", DEFAULT_RESOURCE_SCOPES)
        return cls(
            database_url=env.get("TOKENWARD_DATABASE_URL", DEFAULT_DATABASE_URL),
            max_staleness=timedelta(
                milliseconds=reader.integer("TOKENWARD_MAX_STALENESS_MS", 1000, 1, 60_000)
            ),
            policy=policy,
            resource_scopes=frozenset(scopes),
            scope_descriptions=scopes,
            admin_password=env.get("TOKENWARD_ADMIN_PASSWORD") or None,
            access_log=reader.boolean("TOKENWARD_ACCESS_LOG", False),
            session_lifetime=timedelta(
                hours=reader.integer("TOKENWARD_SESSION_HOURS", 12, 1, 24 * 30)
            ),
            failed_auth_per_minute=reader.integer(
                "TOKENWARD_FAILED_AUTH_PER_MINUTE", 20, 0, 100_000
            ),
            failed_logins_per_minute=reader.integer(
                "TOKENWARD_FAILED_LOGINS_PER_MINUTE", 20, 0, 100_000
            ),
            cookie_secure=reader.tristate("TOKENWARD_COOKIE_SECURE"),
            bus_url=reader.bus_url("TOKENWARD_BUS_URL"),
            poll_interval=timedelta(
                milliseconds=reader.integer("TOKENWARD_POLL_MS", 20, 1, 10_000)
            ),
            cache_capacity=reader.integer("TOKENWARD_CACHE_SIZE", 100_000, 0, 10_000_000),
            leak_reports_per_minute=reader.integer(
                "TOKENWARD_LEAK_REPORTS_PER_MINUTE", 10, 0, 100_000
            ),
            last_used_flush=timedelta(
                seconds=reader.integer("TOKENWARD_LAST_USED_FLUSH_SECONDS", 60, 1, 3600)
            ),
            webhook_allowed_networks=reader.networks("TOKENWARD_WEBHOOK_ALLOWED_NETWORKS"),
            metrics_token=reader.secret("TOKENWARD_METRICS_TOKEN", _METRICS_TOKEN_MIN),
            events_per_key=reader.integer("TOKENWARD_EVENTS_PER_KEY", 100, 1, 100_000),
            public_url=reader.public_url("TOKENWARD_PUBLIC_URL"),
            **reader.notifications(),
            **reader.front(),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.env.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if raw == "":
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")

    def notifications(self) -> dict[str, Any]:
        """The notifier's settings: its interval (0 turns it off) and SMTP."""
        interval = self.integer("TOKENWARD_NOTIFY_INTERVAL_MS", 5000, 0, 3_600_000)
        return {
            "notify_interval": timedelta(milliseconds=interval) if interval else None,
            "smtp_host": self.env.get("TOKENWARD_SMTP_HOST", "").strip() or None,
            "smtp_port": self.integer("TOKENWARD_SMTP_PORT", 587, 1, 65535),
            "smtp_starttls": self.boolean("TOKENWARD_SMTP_STARTTLS", True),
            "smtp_username": self.env.get("TOKENWARD_SMTP_USERNAME") or None,
            "smtp_password": self.env.get("TOKENWARD_SMTP_PASSWORD") or None,
            "email_from": self.env.get("TOKENWARD_EMAIL_FROM", "").strip() or "tokenward@localhost",
            "smtp_ca_file": self.ca_file("TOKENWARD_SMTP_CA_FILE"),
        }

    def front(self) -> dict[str, Any]:
        """The front door: trusted proxies, the body cap, timeouts, concurrency, drain."""
        return {
            "trusted_proxies": self.networks("TOKENWARD_TRUSTED_PROXIES"),
            "max_body_bytes": self.integer("TOKENWARD_MAX_BODY_BYTES", 64 * 1024, 1024, 1 << 30),
            "keep_alive_seconds": self.integer("TOKENWARD_KEEP_ALIVE_SECONDS", 5, 1, 3600),
            "header_timeout_seconds": self.integer("TOKENWARD_HEADER_TIMEOUT_SECONDS", 10, 1, 600),
            "max_concurrency": self.integer("TOKENWARD_MAX_CONCURRENCY", 2048, 1, 1_000_000),
            "drain_seconds": self.integer("TOKENWARD_DRAIN_SECONDS", 10, 0, 3600),
        }

    def ca_file(self, name: str) -> str | None:
        """A PEM file of CA certificates, loaded once here so a bad one stops the start."""
        path = self.env.get(name, "").strip()
        if not path:
            return None
        try:
            ssl.create_default_context(cafile=path)
        except OSError as error:  # missing, unreadable, a directory, or no PEM certificate in it
            reason = error.strerror or str(error)
            message = f"{name}: cannot load CA certificates from {path!r}: {reason}"
            raise SettingsError(message) from None
        return path

    def bus_url(self, name: str) -> str | None:
        raw = self.env.get(name, "").strip()
        if raw and not raw.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError(f"{name} must be a redis:// URL (or unset), got another scheme")
        return raw or None

    def networks(self, name: str) -> tuple[Network, ...]:
        """Comma-separated CIDR ranges (``10.1.0.0/16, fd00::/8``; an address is a /32 or
        /128)."""
        try:
            return parse_networks(self.env.get(name, "").split(","))
        except ValueError as error:
            raise SettingsError(
                f"{name}: {error} (expected CIDR ranges, comma-separated)"
            ) from None

    def secret(self, name: str, minimum: int) -> str | None:
        """A secret sent in a header: printable ASCII without spaces, at least ``minimum``
        characters (the message never quotes it)."""
        raw = self.env.get(name, "")
        if raw == "":
            return None
        if len(raw) < minimum or not all("!" <= c <= "~" for c in raw):
            raise SettingsError(
                f"{name} must be at least {minimum} printable ASCII characters without spaces"
            )
        return raw

    def public_url(self, name: str) -> str | None:
        raw = self.env.get(name, "").strip()
        try:
            return base_url(raw) if raw else None
        except ValueError as error:
            raise SettingsError(f"{name} {error}, e.g. https://tokenward.example.com") from None

    def tristate(self, name: str) -> bool | None:
        """``auto`` (or unset) is None; otherwise a boolean."""
        if self.env.get(name, "").strip().lower() in ("", "auto"):
            return None
        return self.boolean(name, False)

    def scopes(self, name: str, default: str) -> dict[str, str]:
        """Resource scope names and their descriptions (see ``parse_scope_list``)."""
        try:
            return parse_scope_list(self.env.get(name, default))
        except InvalidInput as error:
            raise SettingsError(f"{name}: {error.message}") from None

    def policy(self) -> Policy:
        try:
            return Policy(
                user_token=LifetimeRule(
                    default_days=self.integer("TOKENWARD_USER_TOKEN_DEFAULT_DAYS", 90, 1, 365),
                    max_days=self.integer("TOKENWARD_USER_TOKEN_MAX_DAYS", 365, 1, 365),
                    allow_no_expiry=self.boolean("TOKENWARD_ALLOW_NO_EXPIRY", False),
                ),
                admin_key=LifetimeRule(
                    default_days=self.integer("TOKENWARD_ADMIN_KEY_DEFAULT_DAYS", 7, 1, 365),
                    max_days=self.integer("TOKENWARD_ADMIN_KEY_MAX_DAYS", 365, 1, 365),
                ),
            )
        except InvalidInput as error:
            raise SettingsError(f"lifetime policy: {error}") from None


def _refuse_cleartext_login(settings: Settings) -> None:
    """SMTP credentials need STARTTLS, except to a relay on this host's loopback address.

    AUTH PLAIN sends the password only base64-encoded; RFC 4616 section 6: not without TLS."""
    host = settings.smtp_host
    has_login = settings.smtp_username is not None or settings.smtp_password is not None
    if host is None or settings.smtp_starttls or not has_login or _is_loopback(host):
        return
    raise SettingsError(
        "TOKENWARD_SMTP_USERNAME/_PASSWORD need TOKENWARD_SMTP_STARTTLS=true: the password "
        f"would cross the network in clear text to {host!r} (only loopback hosts may skip it)"
    )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
