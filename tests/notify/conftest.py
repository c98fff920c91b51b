"""Fixtures shared by the notification tests."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from notify_support import node, smtp_server

from tokenward.runtime import Runtime
from tokenward.testing import FakeClock


@pytest.fixture
def nodes(database_url: str, clock: FakeClock) -> Iterator[list[Runtime]]:
    """Two nodes on the same database and the same (fake) clock, without email."""
    built = [node(database_url, clock) for _ in range(2)]
    yield built
    for rt in built:
        rt.close()


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[EmailMessage]]]:
    """A real SMTP server on loopback: (port, messages received)."""
    with smtp_server() as server:
        yield server
