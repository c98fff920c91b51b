"""What ``GET /v1/events`` streams, over this node's cache and the event log: the watermark
and freshness the node has confirmed, and the log after a point."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from tokenward.domain.model import Event
from tokenward.propagation.cache import FreshCache
from tokenward.store.base import Store

__all__ = ["EventFeed"]

PAGE = 500  # events read from the log at a time


class EventFeed:
    """The event stream's narrow view of a node: no more than it reads."""

    def __init__(self, cache: FreshCache, store: Store, max_staleness: timedelta) -> None:
        self._cache = cache
        self._store = store
        # Every quarter of the bound (the promise is at least every half): a client's
        # freshness is this node's, minus its lag, so the margin keeps clients fresh between
        # beats.
        self.heartbeat = max_staleness.total_seconds() / 4

    @property
    def applied_seq(self) -> int:
        """The newest event this node has applied."""
        return self._cache.applied_seq

    def is_fresh(self) -> bool:
        """Whether this node has confirmed within the bound that it applied every event."""
        return self._cache.is_fresh()

    def lag(self) -> float:
        """Seconds since this node last confirmed its freshness (0 if never)."""
        return self._cache.lag() or 0.0

    def listen(self, listener: Callable[[], None]) -> None:
        """Call ``listener``, from any thread, when this node applies new events."""
        self._cache.listen(listener)

    def unlisten(self, listener: Callable[[], None]) -> None:
        self._cache.unlisten(listener)

    def after(self, seq: int) -> list[Event]:
        """The log's events after ``seq``, oldest first, a page at a time (a store read)."""
        return self._store.events_after(seq, PAGE)
