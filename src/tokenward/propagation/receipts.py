"""Revocation receipts: every node reports how far it has applied the log, so a revoking caller
can wait until every live node has applied its revocation and learn which nodes confirmed."""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import time
from datetime import datetime, timedelta

from tokenward.domain.clock import Clock
from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.model import NodeRecord
from tokenward.store.base import Store

__all__ = ["Receipts", "Settled"]

log = logging.getLogger("tokenward.propagation")
_POLL = 0.005  # seconds between looks at the nodes table while waiting


@dataclasses.dataclass(frozen=True)
class Settled:
    """Which live nodes had applied the event when the wait ended, and which had not."""

    confirmed: list[str]
    pending: list[str]


class Receipts:
    def __init__(self, store: Store, clock: Clock, max_staleness: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.max_staleness = max_staleness
        self.node_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._started = clock.now()
        self._reported_seq = -1
        self._reported_at = 0.0
        self._interval = max_staleness.total_seconds() / 4

    def confirmed(self, applied_seq: int) -> None:
        """The follower confirmed ``applied_seq``: report it when it moved, and as a heartbeat
        at least every ``max_staleness / 4``."""
        now = time.monotonic()
        if applied_seq == self._reported_seq and now - self._reported_at < self._interval:
            return
        try:
            self.store.report_node(
                NodeRecord(self.node_id, self._started, self.clock.now(), applied_seq)
            )
        except StoreUnavailable:
            return  # the node is failing closed anyway; it reports again once it can
        self._reported_seq, self._reported_at = applied_seq, now

    def live_nodes(self) -> list[NodeRecord]:
        """Nodes that reported within ``max_staleness``: the ones that may serve from cache."""
        return self.store.nodes_seen_since(self.clock.now() - self.max_staleness)

    def wait_for(self, seq: int, until: datetime) -> Settled:
        """Wait until every live node has applied ``seq``, or until ``until``."""
        # Measured on the monotonic clock: the wait is bounded whatever the wall clock does.
        deadline = time.monotonic() + max(0.0, (until - self.clock.now()).total_seconds())
        while True:
            nodes = self.live_nodes()
            pending = [n.id for n in nodes if n.applied_seq < seq]
            if not pending or time.monotonic() >= deadline:
                confirmed = [n.id for n in nodes if n.applied_seq >= seq]
                return Settled(confirmed, pending)
            time.sleep(_POLL)
