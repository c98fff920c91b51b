"""The log follower: reads the event log after the node's watermark and applies it to the cache.

It reads when the bus wakes it and at least every ``heartbeat`` seconds. A read that finds
nothing new still confirms freshness; a read that fails confirms nothing, so the cache stops
serving once ``max_staleness`` has passed (fail closed) and serves again, with no restart, once
reads succeed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tokenward.domain.errors import StoreUnavailable
from tokenward.domain.model import Event
from tokenward.propagation.buses import Bus
from tokenward.propagation.cache import FreshCache
from tokenward.store.base import Store

__all__ = ["LogFollower"]

log = logging.getLogger("tokenward.propagation")
_BATCH = 1000


class LogFollower:
    def __init__(
        self,
        store: Store,
        cache: FreshCache,
        bus: Bus,
        heartbeat: float,
        on_confirmed: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.bus = bus
        self.heartbeat = heartbeat
        self.on_confirmed = on_confirmed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Start following from the current end of the log (an empty cache needs no past)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tokenward-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.bus.close()  # wakes the thread out of its wait
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.bus.close()  # and lets go of anything it opened meanwhile

    def catch_up(self) -> int:
        """Read and apply every event after the watermark; return how many. Raises
        :class:`StoreUnavailable` when the log cannot be read (nothing is confirmed then)."""
        started = self.cache.monotonic()
        events: list[Event] = []
        while True:
            after = events[-1].seq if events else self.cache.applied_seq
            batch = self.store.events_after(after or 0, limit=_BATCH)
            events += batch
            if len(batch) < _BATCH:
                break
        self.cache.apply(events, started)
        return len(events)

    def committed(self, seq: int) -> None:
        """This process just committed events up to ``seq``: apply them before its caller
        answers, so the node that revoked refuses the token on the very next request."""
        if self._thread is None or self.cache.applied_seq >= seq:
            return
        try:
            self.catch_up()
        except StoreUnavailable as error:
            self._failed(error)  # the follower's own reads, or the bound, take over

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    self.cache.skip_to(self.store.max_seq())
                    first = False
                self.catch_up()
                if self.on_confirmed is not None:
                    self.on_confirmed(self.cache.applied_seq)
                self._recovered()
            except StoreUnavailable as error:
                self._failed(error)
            except Exception:  # a bug must not stop revocations from being followed
                log.exception("the log follower failed; retrying")
            if not self._stop.is_set():
                self.bus.wait(self.heartbeat)

    def _failed(self, error: StoreUnavailable) -> None:
        if not self._failing:
            log.warning(
                "cannot read the event log (%s): serving from cache stops within max_staleness",
                error,
            )
            self._failing = True

    def _recovered(self) -> None:
        if self._failing:
            log.warning("the event log is readable again; the cache serves again")
            self._failing = False
