"""Webhook endpoints, as admins manage them: add (the signing secret is shown once), list,
delete, read the delivery log. Each change is audited in the event log."""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from tokenward.domain.addresses import AddressRules, check_destination
from tokenward.domain.clock import Clock
from tokenward.domain.errors import Conflict, InvalidInput, NotFound, StoreUnavailable
from tokenward.domain.model import Actor
from tokenward.domain.tokens import is_id, new_id
from tokenward.notify.events import NOTIFY_TYPES
from tokenward.notify.webhooks import new_secret
from tokenward.store.base import DeliveryRecord, Store, WebhookRecord

__all__ = ["CreatedWebhook", "WebhookService"]

URL_MAX = 2048
MAX_LOG = 500


@dataclasses.dataclass(frozen=True)
class CreatedWebhook:
    record: WebhookRecord
    secret: str  # shown to the admin once; stored, as it must sign every delivery


class WebhookService:
    def __init__(self, store: Store, clock: Clock, rules: AddressRules | None = None) -> None:
        self.store = store
        self.clock = clock
        self.rules = rules or AddressRules()  # where deliveries may go (checked again on send)

    def create(self, url: str, events: list[str], by: Actor) -> CreatedWebhook:
        """Add an endpoint for ``events`` (types of :data:`NOTIFY_TYPES`); it receives exactly
        the events after its own ``webhook.created``, whose seq it keeps as ``after_seq``."""
        host = check_url(url)
        check_destination(url, self.rules)
        types = check_event_types(events)
        now, secret, webhook_id = self.clock.now(), new_secret(), new_id("whk")
        details = {"host": host, "events": list(types)}  # not the URL: it may hold a token
        try:
            with self.store.transaction() as tx:
                seq = tx.events.append(by.event("webhook.created", now, webhook_id, details))
                record = WebhookRecord(webhook_id, url, types, secret, now, by.id, after_seq=seq)
                tx.webhooks.add(record)
        except (Conflict, InvalidInput, StoreUnavailable) as error:
            # The database's message rides along as the cause and may quote the signing
            # secret: cut it, or a traceback prints it.
            raise error from None
        return CreatedWebhook(record, secret)

    def endpoints(self) -> list[WebhookRecord]:
        """Every endpoint, oldest first."""
        with self.store.transaction() as tx:
            return tx.webhooks.all()

    def get(self, webhook_id: str) -> WebhookRecord:
        found = None
        if is_id(webhook_id, "whk"):
            with self.store.transaction() as tx:
                found = tx.webhooks.by_id(webhook_id)
        if found is None:
            raise NotFound("no such webhook")
        return found

    def delete(self, webhook_id: str, by: Actor) -> None:
        """Remove the endpoint; deliveries not yet made are dropped with its log."""
        hook = self.get(webhook_id)
        event = by.event("webhook.deleted", self.clock.now(), hook.id, {"host": _host(hook.url)})
        with self.store.transaction() as tx:
            if not tx.webhooks.delete(hook.id):
                raise NotFound("no such webhook")
            tx.events.append(event)

    def deliveries(self, webhook_id: str, limit: int = 100) -> list[DeliveryRecord]:
        """The endpoint's delivery log, newest event first."""
        if not 1 <= limit <= MAX_LOG:
            raise InvalidInput("limit", f"must be between 1 and {MAX_LOG}")
        hook = self.get(webhook_id)
        with self.store.transaction() as tx:
            return tx.deliveries.of_target(hook.id, limit)


def check_url(url: str) -> str:
    """The host of ``url`` if it is an absolute http(s) URL; else raise naming ``url``."""
    if len(url) > URL_MAX or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise InvalidInput("url", f"must be an http(s) URL of at most {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InvalidInput("url", "is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput("url", "must be an absolute http:// or https:// URL with a host")
    return host


def check_event_types(events: list[str]) -> tuple[str, ...]:
    """The distinct, known event types, sorted; else raise naming ``events``."""
    if not events:
        raise InvalidInput("events", "must name at least one event type")
    if any(event not in NOTIFY_TYPES for event in events):
        raise InvalidInput("events", f"unknown event type; known: {sorted(NOTIFY_TYPES)}")
    return tuple(sorted(set(events)))


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""
