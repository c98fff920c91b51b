"""The records the store reads and writes beside the domain's: queries, rotation and use
records, webhook endpoints and deliveries."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Literal

from tokenward.domain.model import TokenRecord, TokenStatus
from tokenward.domain.tokens import TokenKind

__all__ = [
    "Alarm",
    "DeliveryRecord",
    "DeliveryUpdate",
    "EventQuery",
    "LastUse",
    "Rotated",
    "TokenQuery",
    "WebhookRecord",
    "check_new_token",
]

Alarm = Literal["dead_use", "reuse"]  # the alarms whose reports are rate-limited per token


def check_new_token(token: TokenRecord) -> None:
    """What every store requires of a token it adds: an expiry, if any, not before its
    creation (minting sets it in the future). The expired list relies on it to read only the
    tokens that expired lately (``store/sql/token_lists.py``)."""
    if token.expires_at is not None and token.expires_at < token.created_at:
        raise ValueError(f"token {token.id} would expire before it was made")


@dataclasses.dataclass(frozen=True)
class LastUse:
    """A token's latest use seen by this node: written in batches, never as an event."""

    token_id: str
    at: datetime
    ip: str | None


@dataclasses.dataclass(frozen=True)
class Rotated:
    """What a rotation records on the old token."""

    rotated_to: str
    at: datetime
    grace_seconds: int
    grace_until: datetime  # the hard cap until the new token's first use starts the grace


@dataclasses.dataclass(frozen=True)
class TokenQuery:
    """Which tokens to list: a user's, newest first, optionally by status, after a cursor."""

    user_id: str | None  # None: every user's (admin listing)
    now: datetime
    status: TokenStatus | None = None
    before: tuple[datetime, str] | None = None  # (created_at, id) of the last item already seen
    limit: int = 50
    kind: TokenKind | None = None


@dataclasses.dataclass(frozen=True)
class EventQuery:
    """A slice of the event log: events with ``after < seq < before``, oldest first (or newest
    first with ``newest_first``, for a reader paging back from the end), optionally only those
    at ``since <= at < until``."""

    after: int = 0
    limit: int = 100
    type: str | None = None
    subject: str | None = None
    actor: str | None = None
    before: int | None = None
    newest_first: bool = False
    since: datetime | None = None
    until: datetime | None = None


@dataclasses.dataclass(frozen=True)
class WebhookRecord:
    """An endpoint that receives the events it subscribed to, signed with ``secret``."""

    id: str
    url: str
    events: tuple[str, ...]
    secret: str = dataclasses.field(repr=False)  # kept as is: it signs, so it is no digest
    created_at: datetime
    created_by: str
    after_seq: int  # only events after this one are sent: no history from before it existed


@dataclasses.dataclass(frozen=True)
class DeliveryRecord:
    """One event for one target (a webhook id or an email address) and its retry state."""

    id: str
    channel: str  # "webhook" or "email"
    target: str
    event_seq: int
    event_type: str
    status: str  # "pending", "delivered" or "failed"
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclasses.dataclass(frozen=True)
class DeliveryUpdate:
    """The outcome of one attempt, written only if nobody else wrote one since (``attempts``)."""

    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_code: int | None
    last_error: str | None
    delivered_at: datetime | None
