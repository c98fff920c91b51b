"""Notifications: expiry reminders, signed webhooks and email, sent by the one node holding
the notifier lease. See :mod:`tokenward.notify.notifier`; admins manage the endpoints through
:class:`tokenward.service.webhooks.WebhookService`."""

from tokenward.notify.notifier import Notifier, NotifierConfig

__all__ = ["Notifier", "NotifierConfig"]
