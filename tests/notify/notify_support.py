"""Real receivers for the notification tests: an HTTP webhook endpoint and an SMTP server,
both on loopback, plus small helpers to build nodes and move time."""

from __future__ import annotations

import dataclasses
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tokenward.domain.addresses import parse_networks
from tokenward.domain.model import UserRecord
from tokenward.domain.scopes import ADMIN
from tokenward.domain.tokens import TokenKind
from tokenward.passwords import PasswordHasher
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken, NewToken
from tokenward.settings import Settings
from tokenward.store.base import DeliveryRecord
from tokenward.store.sql import SqlStore
from tokenward.testing import DEFAULT_PASSWORD, TEST_ACTOR, FakeClock

LOOPBACK_NETWORKS = parse_networks(["127.0.0.0/8", "::1/128"])


@dataclasses.dataclass(frozen=True)
class Received:
    """One request the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A threaded HTTP server on ``host:port`` (0: a free port) that records every POST; the
    first ``fail_first`` get 503."""

    def __init__(self, fail_first: int = 0, host: str = "127.0.0.1", port: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    failing = len(receiver.received) <= receiver.fail_first
                self.send_response(503 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port: int = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hooks/tokenward"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.headers["Tokenward-Event"] == event_type]


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@contextmanager
def smtp_server(port: int = 0) -> Iterator[tuple[int, list[EmailMessage]]]:
    """A real SMTP server (aiosmtpd) on ``port`` (0: a free one) of loopback: (port,
    messages received)."""
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox.messages
    finally:
        controller.stop()


@dataclasses.dataclass
class TlsInbox:
    """What the STARTTLS server got: its port, the messages, and who had logged in for each."""

    port: int
    messages: list[EmailMessage]
    logins: list[str | None]


class _AuthInbox(_Inbox):
    def __init__(self) -> None:
        super().__init__()
        self.logins: list[str | None] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.authenticated else None
        self.logins.append(login)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def tls_smtp_server(cert_file: str, key_file: str, login: tuple[str, str]) -> Iterator[TlsInbox]:
    """A real SMTP server on loopback like a submission relay: STARTTLS with ``cert_file``
    before anything else, then AUTH (over TLS only) with the one ``login`` it accepts."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    accepted = LoginPassword(login[0].encode(), login[1].encode())

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if data == accepted:
            return AuthResult(success=True, auth_data=data)
        return AuthResult(success=False, handled=False)  # 535, sent by aiosmtpd

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _AuthInbox()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield TlsInbox(port, handler.messages, handler.logins)
    finally:
        controller.stop()


def node(
    database_url: str, clock: FakeClock, smtp_port: int | None = None, **smtp_settings: Any
) -> Runtime:
    """A node (runtime) on a shared database, with email to ``smtp_port`` if given (plain SMTP
    unless ``smtp_settings`` say otherwise, e.g. ``smtp_starttls=True``)."""
    smtp: dict[str, Any] = {}
    if smtp_port is not None:
        smtp = {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "smtp_starttls": False}
    smtp.update(smtp_settings)
    settings = Settings(
        database_url=database_url,
        failed_auth_per_minute=0,
        failed_logins_per_minute=0,
        email_from="tokens@example.org",
        webhook_allowed_networks=LOOPBACK_NETWORKS,  # the receivers here listen on loopback
        **smtp,
    )
    rt = Runtime.build(
        settings,
        store=SqlStore(database_url),
        clock=clock,
        passwords=PasswordHasher.fast_for_tests(),
    )
    rt.migrate()
    return rt


def notifier_of(rt: Runtime) -> Any:
    assert rt.notify is not None
    return rt.notify.notifier


def deliveries_of(rt: Runtime, target: str, limit: int = 10) -> list[DeliveryRecord]:
    """A target's deliveries as stored, newest event first."""
    with rt.store.transaction() as tx:
        return tx.deliveries.of_target(target, limit)


def due_deliveries(rt: Runtime, now: datetime) -> list[DeliveryRecord]:
    with rt.store.transaction() as tx:
        return tx.deliveries.due(now, 10)


def user_with_email(rt: Runtime, name: str, *, is_admin: bool = False) -> UserRecord:
    return rt.accounts.create_user(
        name, DEFAULT_PASSWORD, is_admin=is_admin, by=TEST_ACTOR, email=f"{name}@example.org"
    )


def token(rt: Runtime, owner: UserRecord, label: str, days: int) -> CreatedToken:
    return rt.tokens.create(owner, NewToken(label=label, expires_in_days=days), by=TEST_ACTOR)


def admin_key(rt: Runtime, owner: UserRecord) -> CreatedToken:
    request = NewToken(label="ops key", scopes=(ADMIN,))
    return rt.tokens.create(owner, request, by=TEST_ACTOR, kind=TokenKind.ADMIN)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
