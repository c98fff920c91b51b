"""Configuration from the environment: defaults, overrides, clear errors."""

from datetime import timedelta

import pytest

from tokenward.settings import DEFAULT_DATABASE_URL, Settings, SettingsError


def test_defaults_are_the_embedded_setup() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == DEFAULT_DATABASE_URL == "sqlite:///./tokenward.db"
    assert settings.max_staleness == timedelta(seconds=1)
    assert settings.policy.user_token.default_days == 90
    assert settings.resource_scopes == {"read", "write"}
    assert settings.scope_descriptions["read"].startswith("Read data")
    assert settings.admin_password is None
    assert settings.access_log is False
    assert settings.trusted_proxies == ()  # X-Forwarded-* believed from nobody
    assert settings.max_body_bytes == 64 * 1024
    assert settings.drain_seconds == 10


def test_every_variable_overrides_its_default() -> None:
    settings = Settings.from_env(
        {
            "TOKENWARD_DATABASE_URL": "sqlite:////tmp/x.db",
            "TOKENWARD_MAX_STALENESS_MS": "250",
            "TOKENWARD_USER_TOKEN_DEFAULT_DAYS": "30",
            "TOKENWARD_USER_TOKEN_MAX_DAYS": "60",
            "TOKENWARD_ALLOW_NO_EXPIRY": "yes",
            "TOKENWARD_ADMIN_KEY_DEFAULT_DAYS": "1",
            "TOKENWARD_ADMIN_KEY_MAX_DAYS": "30",
            "TOKENWARD_SCOPES": "projects:read, projects:write",
            "TOKENWARD_ADMIN_PASSWORD": "from-the-environment",
            "TOKENWARD_ACCESS_LOG": "1",
            "TOKENWARD_TRUSTED_PROXIES": "10.0.0.5, 10.1.0.0/16, fd00::/8",
            "TOKENWARD_MAX_BODY_BYTES": "4096",
            "TOKENWARD_KEEP_ALIVE_SECONDS": "30",
            "TOKENWARD_HEADER_TIMEOUT_SECONDS": "5",
            "TOKENWARD_MAX_CONCURRENCY": "100",
            "TOKENWARD_DRAIN_SECONDS": "3",
            "TOKENWARD_PUBLIC_URL": "https://tw.example.com/auth/",
        }
    )
    assert settings.database_url == "sqlite:////tmp/x.db"
    assert settings.max_staleness == timedelta(milliseconds=250)
    rule = settings.policy.user_token
    assert (rule.default_days, rule.max_days, rule.allow_no_expiry) == (30, 60, True)
    assert (settings.policy.admin_key.default_days, settings.policy.admin_key.max_days) == (1, 30)
    assert settings.resource_scopes == {"projects:read", "projects:write"}
    assert settings.scope_descriptions == {"projects:read": "", "projects:write": ""}
    assert settings.admin_password == "from-the-environment"
    assert settings.access_log is True
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16", "fd00::/8"]
    assert (settings.max_body_bytes, settings.keep_alive_seconds) == (4096, 30)
    assert (settings.header_timeout_seconds, settings.max_concurrency) == (5, 100)
    assert settings.drain_seconds == 3
    assert settings.public_url == "https://tw.example.com/auth"  # an issuer: no trailing slash
    assert "from-the-environment" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"TOKENWARD_MAX_STALENESS_MS": "abc"}, "TOKENWARD_MAX_STALENESS_MS"),
        ({"TOKENWARD_MAX_STALENESS_MS": "0"}, "TOKENWARD_MAX_STALENESS_MS"),
        ({"TOKENWARD_USER_TOKEN_MAX_DAYS": "366"}, "TOKENWARD_USER_TOKEN_MAX_DAYS"),
        (
            {"TOKENWARD_ADMIN_KEY_DEFAULT_DAYS": "30", "TOKENWARD_ADMIN_KEY_MAX_DAYS": "7"},
            "default_days",
        ),
        ({"TOKENWARD_ALLOW_NO_EXPIRY": "maybe"}, "TOKENWARD_ALLOW_NO_EXPIRY"),
        ({"TOKENWARD_SCOPES": "Bad Scope"}, "TOKENWARD_SCOPES"),
        ({"TOKENWARD_SCOPES": "admin"}, "built-in"),
        ({"TOKENWARD_SCOPES": "read=a\x07bell"}, "TOKENWARD_SCOPES: the description of 'read'"),
        ({"TOKENWARD_SMTP_CA_FILE": "/nonexistent/ca.pem"}, "TOKENWARD_SMTP_CA_FILE"),
        ({"TOKENWARD_TRUSTED_PROXIES": "10.0.0.1, nginx.internal"}, "TOKENWARD_TRUSTED_PROXIES"),
        ({"TOKENWARD_MAX_BODY_BYTES": "10"}, "TOKENWARD_MAX_BODY_BYTES"),
        ({"TOKENWARD_DRAIN_SECONDS": "-1"}, "TOKENWARD_DRAIN_SECONDS"),
        ({"TOKENWARD_HEADER_TIMEOUT_SECONDS": "0"}, "TOKENWARD_HEADER_TIMEOUT_SECONDS"),
        ({"TOKENWARD_PUBLIC_URL": "tokenward.example.com"}, "TOKENWARD_PUBLIC_URL"),
        ({"TOKENWARD_PUBLIC_URL": "https://tw.example.com/?x=1"}, "TOKENWARD_PUBLIC_URL"),
        ({"TOKENWARD_PUBLIC_URL": "ftp://tw.example.com"}, "TOKENWARD_PUBLIC_URL"),
        (
            {
                "TOKENWARD_SMTP_HOST": "mail.example.org",
                "TOKENWARD_SMTP_STARTTLS": "no",
                "TOKENWARD_SMTP_USERNAME": "tw",
            },
            "TOKENWARD_SMTP_STARTTLS",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
