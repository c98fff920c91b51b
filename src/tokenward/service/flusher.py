"""The background writer of what the request path only counts: last use, dead-token alarms.

Reuse alarms go out within a ``tick`` (or at once when one is counted); last-use times and
dead-use counts are written every ``interval`` (a minute: at most one write a minute a token);
everything pending is written once more at :meth:`Flusher.stop`, so a clean shutdown loses
nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tokenward.service.alarms import TokenAlarms
from tokenward.service.usage import LastUseRecorder

__all__ = ["Flusher"]

log = logging.getLogger("tokenward.service")


class Flusher:
    def __init__(
        self, usage: LastUseRecorder, alarms: TokenAlarms, interval: float, tick: float = 1.0
    ) -> None:
        self.usage = usage
        self.alarms = alarms
        self.interval = interval
        self.tick = min(tick, interval)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        alarms.wake = self._wake

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tokenward-flusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then write everything still pending."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._guarded(self.flush_all)

    def flush_all(self) -> None:
        """Write every pending reuse alarm, last use and dead-use count now."""
        self.alarms.flush_reuse()
        self.usage.flush()
        self.alarms.flush_dead_uses()

    def _run(self) -> None:
        last_batch = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(self.tick)
            self._wake.clear()
            if self._stop.is_set():
                return
            self._guarded(self.alarms.flush_reuse)
            if time.monotonic() - last_batch >= self.interval:
                last_batch = time.monotonic()
                self._guarded(self.usage.flush)
                self._guarded(self.alarms.flush_dead_uses)

    def _guarded(self, write: Callable[[], object]) -> None:
        try:
            write()
        except Exception:  # a failed write is retried at the next round; the thread goes on
            log.exception("a background write failed; it is retried later")
