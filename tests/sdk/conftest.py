"""Fixtures of the SDK client tests: a real server in a thread (one a module, serving each
test's runtime), ``connect`` for both clients, and alice with a token. test_sdk_middleware.py
defines a ``server`` of its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from sdk_client_support import KINDS, AppSwitch, Connect, connector, serve

from tokenward.domain.model import UserRecord
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import make_token, make_user


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[AppSwitch, str]]:
    switch = AppSwitch()
    with serve(switch, lifespan="off") as url:
        yield switch, url


@pytest.fixture
def base_url(server: tuple[AppSwitch, str], runtime: Runtime) -> Iterator[str]:
    """A real server in a thread, serving the app over this test's runtime."""
    switch, url = server
    with switch.serving(runtime):
        yield url


@pytest.fixture(params=KINDS)
def connect(request: pytest.FixtureRequest, base_url: str) -> Iterator[Connect]:
    """``connect(token)``: a ``Client``, or an ``AsyncClient`` driven to completion."""
    with ExitStack() as stack:
        yield connector(request.param, base_url, stack)


@pytest.fixture
def alice(runtime: Runtime) -> UserRecord:
    return make_user(runtime, "alice")


@pytest.fixture
def alice_token(runtime: Runtime, alice: UserRecord) -> CreatedToken:
    """Alice's token with ``tokens:read`` and ``tokens:write``, 90 days (the default)."""
    return make_token(runtime, alice, "alice's laptop")
