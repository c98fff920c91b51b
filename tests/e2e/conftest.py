"""Fixtures: real server processes that are always stopped, whatever the test did."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from server import Server, clean_env


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``tokenward serve`` in ``tmp_path`` (the database is ``./tokenward.db`` there
    unless ``env`` says otherwise) and wait for ``/healthz``. Every server is stopped at the
    end of the test."""
    started: list[Server] = []

    def start(env: Mapping[str, str] | None = None, name: str = "server") -> Server:
        server = Server.start(tmp_path, clean_env(env), name)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()
