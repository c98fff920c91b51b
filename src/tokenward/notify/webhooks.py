"""Webhook delivery: a signed JSON POST to an endpoint; 2xx is delivered, anything else is
retried (see :mod:`tokenward.notify.deliveries`).

Signature header (receivers check it with :func:`tokenward.sdk.webhooks.verify_signature`):
``Tokenward-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``. The
timestamp is signed with the body so that a captured request cannot be replayed later.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
import secrets
from contextvars import ContextVar
from datetime import datetime

import httpx
import orjson

from tokenward.domain.model import Event
from tokenward.notify.events import payload
from tokenward.store.notify_base import WebhookRecord

__all__ = ["Attempt", "WebhookSender", "new_secret", "signature_header"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that scanners recognise, not a secret
_USER_AGENT = "tokenward-webhooks/1"
_SENDING: ContextVar[bool] = ContextVar("tokenward_webhook_sending", default=False)


class _QuietWhileSending(logging.Filter):
    """Drops httpx's own records of our posts: at INFO they quote the full URL, which may
    hold the receiver's token (``tokenward serve`` logs INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _SENDING.get()


logging.getLogger("httpx").addFilter(_QuietWhileSending())


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
    """Posts events to endpoints with a bounded timeout; redirects are not followed (the
    signed request goes where the admin said, or nowhere)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))

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
        sending = _SENDING.set(True)
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(webhook.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            # The exception's class only: its text may quote the URL, which may hold a token.
            return Attempt(False, None, type(error).__name__)
        finally:
            _SENDING.reset(sending)
        if 200 <= response.status_code < 300:
            return Attempt(True, response.status_code)
        return Attempt(False, response.status_code, f"HTTP {response.status_code}")
