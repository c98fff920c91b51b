"""Which events are notified, and the JSON a webhook receives for one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tokenward.domain.model import Actor, Event

__all__ = [
    "EXPIRED",
    "EXPIRING",
    "NOTIFIER",
    "NOTIFY_TYPES",
    "owner_of",
    "payload",
    "rfc3339",
]

EXPIRING = "token.expiring"
EXPIRED = "token.expired"
NOTIFIER = Actor("system:notifier")  # the audit log's actor of reminders

# The event types a webhook may subscribe to and an owner is emailed about.
NOTIFY_TYPES = frozenset(
    {
        "token.created",
        EXPIRING,
        EXPIRED,
        "token.revoked",
        "token.rotated",
        "token.leaked",
        "token.reuse_detected",
        "token.dead_use",
        "user.deactivated",
    }
)

# Fields of event details that a receiver has no use for (a digest is no secret, but a
# receiver needs only the id).
_PRIVATE = frozenset({"digests"})


def rfc3339(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds and a ``Z``, as the HTTP API writes times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def owner_of(event: Event) -> str | None:
    """The user an event is about: its subject for ``user.*``, else ``details.user_id``."""
    if event.type.startswith("user."):
        return event.subject
    owner = event.details.get("user_id")
    return owner if isinstance(owner, str) else None


def payload(event: Event) -> dict[str, Any]:
    """The body of a webhook delivery: ``{"id","type","at","data"}``; stable for an event, so
    every retry sends the same bytes."""
    data = {key: value for key, value in event.details.items() if key not in _PRIVATE}
    return {
        "id": f"evt_{event.seq}",
        "type": event.type,
        "at": rfc3339(event.at),
        "data": {"subject": event.subject, **data},
    }
