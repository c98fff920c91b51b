"""Fixtures: real server processes that are always stopped, whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from server import Server, clean_env


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``tokenward serve`` in ``tmp_path`` (the database is ``./tokenward.db`` there
    unless ``env`` says otherwise) with ``args`` after ``serve``, and wait for ``/healthz``
    (unless ``wait`` is false: then call ``wait_ready`` yourself, e.g. after starting several).
    Every server is stopped at the end of the test."""
    started: list[Server] = []

    def start(
        env: Mapping[str, str] | None = None,
        name: str = "server",
        *,
        args: Sequence[str] = (),
        wait: bool = True,
    ) -> Server:
        server = Server.start(tmp_path, clean_env(env), name, args)
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
