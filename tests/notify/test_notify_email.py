"""Email: to the owner's address over a real SMTP server, plain text and HTML (escaped), a
subject naming the token and what happened, retried when the server is down; users get an
optional, validated ``email``."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from notify_support import (
    admin_key,
    bearer,
    deliveries_of,
    node,
    notifier_of,
    smtp_server,
    token,
    user_with_email,
)
from starlette.testclient import TestClient

from tokenward.domain.errors import InvalidInput
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.testing import DEFAULT_PASSWORD, TEST_ACTOR, FakeClock


@pytest.fixture
def rt(
    database_url: str, clock: FakeClock, smtp: tuple[int, list[EmailMessage]]
) -> Iterator[Runtime]:
    built = node(database_url, clock, smtp[0])
    yield built
    built.close()


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_the_owner_is_emailed_in_text_and_escaped_html(
    rt: Runtime, smtp: tuple[int, list[EmailMessage]], clock: FakeClock
) -> None:
    alice = user_with_email(rt, "alice")
    made = token(rt, alice, "<b>deploy</b> & co", 10)
    clock.advance(days=9, seconds=1)
    notifier_of(rt).tick()
    created, expiring = smtp[1]
    assert created["Tokenward-Event"] == "token.created"
    assert expiring["To"] == "alice@example.org" and expiring["From"] == "tokens@example.org"
    assert (
        expiring["Subject"]
        == "[tokenward] Your token \u201c<b>deploy</b> & co\u201d expires in 1 day"
    )
    assert expiring.get_content_type() == "multipart/alternative"
    text, html = _parts(expiring)
    assert "<b>deploy</b> & co" in text and made.record.id in text
    assert "&lt;b&gt;deploy&lt;/b&gt; &amp; co" in html and "<b>deploy" not in html
    assert made.secret not in expiring.as_string()


def test_no_email_without_an_address_or_without_smtp(
    rt: Runtime, smtp: tuple[int, list[EmailMessage]], database_url: str, clock: FakeClock
) -> None:
    bob = rt.accounts.create_user("bob", DEFAULT_PASSWORD, is_admin=False, by=TEST_ACTOR)
    token(rt, bob, "no address", 30)
    notifier_of(rt).tick()
    assert smtp[1] == []
    rt.close()
    quiet = node(database_url, clock)  # no SMTP host: email is off
    token(quiet, user_with_email(quiet, "carol"), "laptop", 30)
    clock.advance(minutes=1)
    assert notifier_of(quiet).tick().leader
    assert smtp[1] == []
    quiet.close()


def test_an_smtp_server_that_is_down_gets_the_mail_on_a_retry(
    database_url: str, clock: FakeClock
) -> None:
    with smtp_server() as (port, _):
        pass  # nothing listens on that port any more
    rt = node(database_url, clock, port)
    token(rt, user_with_email(rt, "alice"), "laptop", 30)
    notifier_of(rt).tick()
    [pending] = deliveries_of(rt, "alice@example.org", 10)
    assert (pending.status, pending.attempts, pending.last_code) == ("pending", 1, None)
    assert pending.last_error == "ConnectionRefusedError"
    with smtp_server(port) as (_, inbox):
        clock.advance(seconds=5)  # past the first backoff (at most 1 s)
        notifier_of(rt).tick()
    rt.close()
    assert [m["Tokenward-Event"] for m in inbox] == ["token.created"]


def test_users_take_an_optional_validated_email(rt: Runtime) -> None:
    with TestClient(create_app(rt), raise_server_exceptions=False) as web:
        key = bearer(admin_key(rt, user_with_email(rt, "root", is_admin=True)).secret)
        body = {"username": "dana", "password": DEFAULT_PASSWORD, "email": "dana@example.org"}
        created = web.post("/v1/admin/users", json=body, headers=key)
        assert created.status_code == 201, created.text
        assert created.json()["email"] == "dana@example.org"
        for bad in ["dana", "dana@localhost", "a b@example.org", "x@y.org\r\nBcc: z@w.org"]:
            body = {"username": "erin", "password": DEFAULT_PASSWORD, "email": bad}
            refused = web.post("/v1/admin/users", json=body, headers=key)
            assert refused.status_code == 422, bad
            assert [e["field"] for e in refused.json()["errors"]] == ["email"]
        names = [u["username"] for u in web.get("/v1/admin/users", headers=key).json()["items"]]
    assert "erin" not in names
    assert rt.accounts.by_name("dana").email == "dana@example.org"
    with pytest.raises(InvalidInput):
        rt.accounts.create_user("fay", DEFAULT_PASSWORD, is_admin=False, by=TEST_ACTOR, email="@")


def test_smtp_settings_come_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "TOKENWARD_SMTP_HOST": "127.0.0.1",  # a login without STARTTLS: loopback only
            "TOKENWARD_SMTP_PORT": "2525",
            "TOKENWARD_SMTP_STARTTLS": "false",
            "TOKENWARD_SMTP_USERNAME": "tw",
            "TOKENWARD_SMTP_PASSWORD": "hunter2-but-longer",
            "TOKENWARD_EMAIL_FROM": "tokens@example.org",
            "TOKENWARD_NOTIFY_INTERVAL_MS": "0",
        }
    )
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == (
        "127.0.0.1",
        2525,
        False,
    )
    assert settings.smtp_username == "tw" and settings.email_from == "tokens@example.org"
    assert settings.notify_interval is None
    assert "hunter2" not in repr(settings)
    defaults = Settings.from_env({})
    assert defaults.smtp_host is None and defaults.notify_interval is not None
