"""Webhook delivery: a signed JSON POST to an endpoint; 2xx is delivered, anything else is
retried (see :mod:`tokenward.notify.deliveries`).

Signature header (receivers check it with :func:`tokenward.sdk.webhooks.verify_signature`):
``Tokenward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. The
timestamp is signed with the body so that a captured request cannot be replayed later.

Deliveries connect only where :mod:`tokenward.domain.addresses` allows, checked on the resolved
address (:mod:`tokenward.notify.transport`), and the delivery log records coarse outcomes only
(``HTTP <status>``, ``unreachable``, ``address not allowed (…)``): a refused connection, a
timeout and a failed handshake read alike, so the log cannot map which ports are open.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
import socket
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from tokenward.domain.addresses import AddressRules
from tokenward.domain.model import Event
from tokenward.notify.events import payload
from tokenward.store.base import WebhookRecord

if TYPE_CHECKING:
    from tokenward.notify.transport import Connector

__all__ = ["UNREACHABLE", "Attempt", "WebhookSender", "new_secret", "signature_header"]

UNREACHABLE = "unreachable"  # no name, no connection, no TLS, no answer: one class for all

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that scanners recognise, not a secret
_USER_AGENT = "tokenward-webhooks/1"
_SENDING: ContextVar[bool] = ContextVar("tokenward_webhook_sending", default=False)


class _QuietWhileSending(logging.Filter):
    """Drops httpx's own records of our posts: at INFO they quote the full URL, which may
    hold the receiver's token (``tokenward serve`` logs INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _SENDING.get()


logging.getLogger("httpx").addFilter(_QuietWhileSending())
logging.getLogger("httpcore").addFilter(_QuietWhileSending())


@dataclasses.dataclass(frozen=True)
class Attempt:
    """The outcome of one delivery attempt: never the secret, never the response body."""

    ok: bool
    code: int | None = None
    error: str | None = None


def new_secret() -> str:
    """A fresh signing secret (256 random bits), shown to the admin once."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class WebhookSender:
    """Posts events to endpoints with a bounded timeout, only to addresses ``rules`` allow;
    redirects are not followed (the signed request goes where the admin said, or nowhere).
    ``resolve`` is how names become addresses (:func:`socket.getaddrinfo`)."""

    def __init__(
        self,
        timeout: float = 10.0,
        rules: AddressRules | None = None,
        resolve: Callable[..., list[tuple[Any, ...]]] = socket.getaddrinfo,
    ) -> None:
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self.rules = rules or AddressRules()
        self.resolve = resolve
        self._connector: Connector | None = None  # made at the first send (see _post)

    def send(
        self, webhook: WebhookRecord, delivery_id: str, event: Event, now: datetime
    ) -> Attempt:
        body = orjson.dumps(payload(event))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            "Tokenward-Event": event.type,
            "Tokenward-Delivery": delivery_id,
            "Tokenward-Signature": signature_header(webhook.secret, int(now.timestamp()), body),
        }
        # httpcore and the CA bundle are loaded at the first delivery, not by every process
        # that builds a runtime (each CLI command, each worker's start).
        from tokenward.notify import transport

        sending = _SENDING.set(True)
        try:
            status = self._post(webhook.url, body, headers)
        except transport.AddressRefused as refused:
            return Attempt(False, None, f"address not allowed ({refused.reason})")
        except transport.FAILURES:  # never the text: it may quote the URL, which may hold a token
            return Attempt(False, None, UNREACHABLE)
        finally:
            _SENDING.reset(sending)
        if 200 <= status < 300:
            return Attempt(True, status)
        return Attempt(False, status, f"HTTP {status}")

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        from tokenward.notify.transport import Connector

        if self._connector is None:
            self._connector = Connector(self.rules, self.resolve, self.timeout)
        return self._connector.post(url, body, headers)
