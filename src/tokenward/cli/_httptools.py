"""httptools with the header deadline: a module of its own, imported only where the server
extra installed httptools."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tokenward.cli.protocols import _HeaderDeadline

__all__ = ["HttpToolsWithDeadline"]


class HttpToolsWithDeadline(_HeaderDeadline, HttpToolsProtocol):  # type: ignore[misc]
    """httptools with the header deadline."""
