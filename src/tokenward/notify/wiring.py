"""The notifier and the webhook service over a runtime's store, as the runtime wires them."""

from __future__ import annotations

import dataclasses

from tokenward.domain.addresses import AddressRules
from tokenward.domain.clock import Clock
from tokenward.notify.email import SmtpConfig
from tokenward.notify.notifier import Notifier, NotifierConfig
from tokenward.service.policies import PolicyService
from tokenward.service.webhooks import WebhookService
from tokenward.settings import Settings
from tokenward.store.base import Store

__all__ = ["Notifications", "notifications"]


@dataclasses.dataclass(frozen=True)
class Notifications:
    notifier: Notifier
    webhooks: WebhookService


def notifications(
    settings: Settings, store: Store, clock: Clock, policies: PolicyService
) -> Notifications:
    """The notifier and the webhook service over ``store``'s transactions."""
    rules = AddressRules(settings.webhook_allowed_networks)
    config = NotifierConfig(smtp=smtp_config(settings), webhook_rules=rules)
    if settings.notify_interval is not None:
        config = dataclasses.replace(config, interval=settings.notify_interval)
    return Notifications(
        Notifier(store, clock, policies, config),
        WebhookService(store, clock, rules),
    )


def smtp_config(settings: Settings) -> SmtpConfig | None:
    """SMTP from the settings; None (no email) when no host is set."""
    if settings.smtp_host is None:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        sender=settings.email_from,
        ca_file=settings.smtp_ca_file,
    )
