"""uvicorn's HTTP protocols with a deadline for a request's headers.

uvicorn times out a connection only while it idles between requests, and any byte received
cancels that: a client sending one header line every few seconds holds a connection (and a
slot of the concurrency limit) forever. Here every request's headers must be complete within
``TOKENWARD_HEADER_TIMEOUT_SECONDS`` of the connection opening or of the request's first byte;
otherwise the connection is closed. The protocols keep uvicorn's behaviour otherwise: the
deadline reads only ``cycle`` and ``transport``, which both of uvicorn's parsers have.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from tokenward.settings import Settings

__all__ = ["H11WithDeadline", "protocol_for"]


@functools.cache
def header_timeout() -> float:
    """This process's header deadline (read once; workers read it from their environment)."""
    return float(Settings.from_env().header_timeout_seconds)


class _HeaderDeadline:
    """Mixed in before a uvicorn protocol class."""

    cycle: Any
    transport: asyncio.Transport
    _deadline: asyncio.TimerHandle | None = None
    _waiting_for: Any = None  # the cycle current when the deadline was armed

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm(self.cycle)

    def data_received(self, data: bytes) -> None:
        if self._deadline is not None:  # a request's headers are still coming
            super().data_received(data)  # type: ignore[misc]
            if self.cycle is not self._waiting_for:
                self._disarm()  # the headers are complete: a request cycle began
            return
        idle, before = self.cycle is None or self.cycle.response_complete, self.cycle
        super().data_received(data)  # type: ignore[misc]
        if idle and self.cycle is before:
            # The first bytes of the next request on a kept-alive connection, and its
            # headers are not complete yet. (A request that arrives whole, as nearly all
            # do, never arms a timer: no timer per request on the hot path.)
            self._arm(before)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self, waiting_for: Any) -> None:
        self._waiting_for = waiting_for
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(header_timeout(), self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.cycle is self._waiting_for:
            self.transport.close()


class H11WithDeadline(_HeaderDeadline, H11Protocol):  # type: ignore[misc]
    # (uvicorn narrows connection_made to a Transport, as the mixin does)
    """h11 (pure Python) with the header deadline."""


def protocol_for(parser: str) -> type[asyncio.Protocol]:
    """The protocol class for ``httptools`` or ``h11``, each with the header deadline."""
    if parser == "httptools":
        from tokenward.cli._httptools import HttpToolsWithDeadline

        return HttpToolsWithDeadline
    return H11WithDeadline
