"""The requests a node is answering right now, so that work which can wait a little (the event
streams' fan-out and heartbeats) lets them finish first.

The front door counts every request but an event stream (a stream is not waiting for an
answer; it holds its connection for hours). Everything here runs on the event loop's thread,
so the count needs no lock; entering and leaving cost an integer add each, on every request.
"""

from __future__ import annotations

import asyncio

__all__ = ["InFlight", "settle"]


class InFlight:
    """How many requests are being answered, and a way to wait until none is."""

    def __init__(self) -> None:
        self.count = 0
        self._waiters: list[asyncio.Future[None]] = []

    def enter(self) -> None:
        self.count += 1

    def leave(self) -> None:
        self.count -= 1
        if not self.count and self._waiters:
            for waiter in self._waiters:
                settle(waiter)
            self._waiters.clear()

    async def idle(self, within: float) -> None:
        """Returns once no request is in flight, or after ``within`` seconds if one still is:
        what waits here is delayed, never starved, by a node that is always busy."""
        if not self.count or within <= 0:
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(within, settle, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if waiter in self._waiters:
                self._waiters.remove(waiter)


def settle(future: asyncio.Future[None]) -> None:
    """Ends a wait on ``future`` (one that has ended already stays as it is)."""
    if not future.done():
        future.set_result(None)
