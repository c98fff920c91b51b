"""Last use of each token: recorded in memory on every authenticated request, written in batches.

The request path only stores the time and client address in a dict (no I/O, no lock: one dict
store is atomic under the GIL). A background flusher writes what changed, one batch at a time,
so each token is written at most once a flush interval (a minute by default) per node, and once
more at shutdown so that no use is lost. Never an event: it would flood the log and empty the
caches. The stored value can therefore lag the real last use by up to the flush interval.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
import threading
from datetime import datetime, timedelta

from tokenward.domain.clock import Clock
from tokenward.domain.model import TokenRecord
from tokenward.store.base import LastUse, Store

__all__ = ["LastUseRecorder"]

_IDLE = timedelta(minutes=10)  # written uses older than this leave memory
# Uses written per statement: a node with many active tokens writes them in slices, so the
# flush's transient objects (a parameter set per row) stay small. Made all at once they
# fragmented the heap: RSS grew by their peak, about 1 KB per token used in the interval.
BATCH = 500
# Uses from one address within this long of each other share one record, the first's time: a
# node serving thousands of tokens a second keeps one (time, address) for them, not one each.
SHARED_FOR = timedelta(seconds=1)


class LastUseRecorder:
    """The node's latest use of each token, and what it last wrote of them."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._latest: dict[str, tuple[datetime, str | None]] = {}
        self._written: dict[str, datetime] = {}
        self._flushing = threading.Lock()
        self._shared: tuple[tuple[datetime, str | None], datetime] | None = None  # use, until

    def seen(self, token_id: str, client: tuple[str, int] | None) -> None:
        """A request authenticated with ``token_id`` from ``client``: the hot path. The time
        kept is this use's, or that of a use from the same address less than
        :data:`SHARED_FOR` before it (so a last use is exact to within a second)."""
        now = self.clock.now()
        # Interned: a few addresses make most requests, and each entry would keep a copy.
        ip = None if client is None else sys.intern(client[0])
        shared = self._shared
        if shared is None or shared[0][1] is not ip or not shared[0][0] <= now < shared[1]:
            shared = self._shared = ((now, ip), now + SHARED_FOR)
        self._latest[token_id] = shared[0]

    def overlay(self, record: TokenRecord) -> TokenRecord:
        """``record`` with this node's use of it, if newer than the stored one: what a person
        just did shows at once, not after the next flush (other nodes' uses still do)."""
        seen = self._latest.get(record.id)
        if seen is None or (record.last_used_at is not None and record.last_used_at >= seen[0]):
            return record
        return dataclasses.replace(record, last_used_at=seen[0], last_used_from=seen[1])

    def written(self, token_id: str) -> datetime | None:
        """The last use this node wrote for ``token_id`` (what the store holds, as far as this
        node knows), or ``None``."""
        return self._written.get(token_id)

    def flush(self) -> int:
        """Write every use not written yet, :data:`BATCH` at a time; return how many. A store
        that cannot be reached raises, and the uses not written stay for the next flush (those
        already written are not written again)."""
        with self._flushing:
            latest = dict(self._latest)  # a copy made in C: no request can change it midway
            due = (
                LastUse(token_id, at, ip)
                for token_id, (at, ip) in latest.items()
                if self._written.get(token_id) != at
            )
            written = 0
            while batch := list(itertools.islice(due, BATCH)):
                self.store.record_last_used(batch)
                for use in batch:
                    self._written[use.token_id] = use.at
                written += len(batch)
            self._forget_idle(latest)
            return written

    def _forget_idle(self, latest: dict[str, tuple[datetime, str | None]]) -> None:
        """Bound memory: drop tokens not used for a while whose use is written."""
        idle_before = self.clock.now() - _IDLE
        for token_id, seen in latest.items():
            if seen[0] >= idle_before or self._written.get(token_id) != seen[0]:
                continue
            current = self._latest.pop(token_id, None)
            if current is not None and current is not seen:
                self._latest.setdefault(token_id, current)  # used meanwhile: keep it
            self._written.pop(token_id, None)
