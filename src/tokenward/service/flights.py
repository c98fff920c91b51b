"""Single flight: concurrent calls for one key share one run and its answer.

Many requests presenting the same uncached token at once (a client fanning out, a node that
just started) would each read the store; sharing the first one's read keeps a cold node's load
on the store at one read per token, not one per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from functools import partial
from typing import Any, Generic, TypeVar

__all__ = ["Flights"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class Flights(Generic[K, T]):
    """Runs ``call`` once for all callers of one key that overlap in time; each of them gets its
    result or its exception. A caller that goes away (cancelled) does not cancel the run for
    the others."""

    def __init__(self) -> None:
        self._running: dict[tuple[asyncio.AbstractEventLoop, K], asyncio.Task[T]] = {}

    def __len__(self) -> int:
        return len(self._running)

    async def run(self, key: K, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        loop = asyncio.get_running_loop()
        flight_key = (loop, key)
        flight = self._running.get(flight_key)
        if flight is None:
            flight = loop.create_task(call())
            self._running[flight_key] = flight
            flight.add_done_callback(partial(self._landed, flight_key))
        return await asyncio.shield(flight)

    def _landed(self, key: tuple[asyncio.AbstractEventLoop, K], flight: asyncio.Task[T]) -> None:
        self._running.pop(key, None)
        if not flight.cancelled():
            flight.exception()  # retrieved even if every caller left, so asyncio stays quiet
