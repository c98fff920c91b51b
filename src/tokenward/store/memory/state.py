"""Everything the in-memory store holds, copied whole by each transaction."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from tokenward.domain.model import Event, SessionRecord, TokenRecord, UserRecord
from tokenward.store.records import Alarm, DeliveryRecord, WebhookRecord

__all__ = ["State"]


@dataclasses.dataclass
class State:
    users: dict[str, UserRecord] = dataclasses.field(default_factory=dict)
    tokens: dict[str, TokenRecord] = dataclasses.field(default_factory=dict)
    events: list[Event] = dataclasses.field(default_factory=list)
    sessions: dict[str, SessionRecord] = dataclasses.field(default_factory=dict)
    policy: dict[str, object] | None = None
    # Dead-token bookkeeping by token id: (count, last time, last address).
    dead_uses: dict[str, tuple[int, datetime, str | None]] = dataclasses.field(default_factory=dict)
    alarms: dict[tuple[str, Alarm], datetime] = dataclasses.field(default_factory=dict)
    webhooks: dict[str, WebhookRecord] = dataclasses.field(default_factory=dict)
    deliveries: dict[str, DeliveryRecord] = dataclasses.field(default_factory=dict)
    cursor: int = 0
    reminders: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    leases: dict[str, tuple[str, datetime]] = dataclasses.field(default_factory=dict)

    def copy(self) -> State:
        """A copy whose containers can change without touching this one (records are frozen)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return State(**{k: v.copy() if hasattr(v, "copy") else v for k, v in fields.items()})
