"""Readiness during a stop: on SIGTERM ``/readyz`` turns 503 at once.

The server (uvicorn) owns SIGTERM while it serves: it stops accepting, lets in-flight requests
finish (``TOKENWARD_DRAIN_SECONDS``), then runs the app's shutdown, which writes the pending
last uses and alarms. This wraps its handler so the node also says it is draining, to a load
balancer polling ``/readyz`` on a connection it already holds.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["drain_on_sigterm"]


def drain_on_sigterm(draining: threading.Event) -> None:
    """Set ``draining`` on SIGTERM, then hand the signal to the handler in place. Only in the
    main thread (signals can be caught nowhere else); in-process test clients skip it."""
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _chained(draining, current))


def _chained(draining: threading.Event, current: Any) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        draining.set()
        if callable(current):
            current(signum, frame)
        elif current == signal.SIG_DFL:  # nobody drains: stop as the signal would have
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    return handler
