"""Helpers for the management client's tests: a real tokenward server in a thread, admin keys,
and a way to drive ``AsyncClient`` from the same synchronous test bodies as ``Client``."""

from __future__ import annotations

import functools
import inspect
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Literal

import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp, Receive, Scope, Send

from tokenward.domain.model import UserRecord
from tokenward.domain.tokens import TokenKind
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.sdk.client import AsyncClient, Client
from tokenward.service import CreatedToken, NewToken
from tokenward.testing import TEST_ACTOR

KINDS = ["Client", "AsyncClient"]
SECRET_SHAPE = re.compile(r"tw[a-z]_[0-9A-Za-z]{20,}")
Connect = Callable[[str | None], Client]  # an AsyncClient behind BlockingAsyncClient quacks alike


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: ASGIApp, *, lifespan: Literal["auto", "off"] = "auto") -> Iterator[str]:
    """A real uvicorn server over ``app`` in a thread; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class AppSwitch:
    """Serves whichever app is current. One server per module then serves a fresh tokenward app
    (over the test's own runtime) in each test: uvicorn takes 0.2 s to stop, the suite's largest
    cost when every test started its own server."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "no app is being served"
        await self.app(scope, receive, send)

    @contextmanager
    def serving(self, runtime: Runtime) -> Iterator[None]:
        """Serve ``runtime`` and follow its event log, as the app's lifespan would."""
        self.app = create_app(runtime)
        runtime.start()
        try:
            yield
        finally:
            self.app = None
            runtime.stop()


@contextmanager
def socket_closed() -> Iterator[str]:
    """The URL of a loopback port that is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def admin_key(runtime: Runtime, owner: UserRecord, *scopes: str) -> CreatedToken:
    """An admin API key of ``owner`` with ``scopes`` (``admin`` unless others are given)."""
    request = NewToken(label="ops key", scopes=scopes or ("admin",))
    return runtime.tokens.create(owner, request, by=TEST_ACTOR, kind=TokenKind.ADMIN)


async def _drain(items: AsyncIterator[Any]) -> list[Any]:
    return [item async for item in items]


class BlockingAsyncClient:
    """An ``AsyncClient`` whose methods are run to completion on an anyio portal's event loop,
    so that one synchronous test body proves a behaviour of both clients. Its async iterators
    are drained into lists first (errors then surface at the call, not at iteration: tests wrap
    both in ``list(...)``)."""

    def __init__(self, portal: BlockingPortal, client: AsyncClient) -> None:
        self.portal = portal
        self.client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if inspect.iscoroutinefunction(method):
                return self.portal.call(functools.partial(method, *args, **kwargs))
            return iter(self.portal.call(_drain, method(*args, **kwargs)))

        return call


def connector(kind: str, base_url: str, stack: ExitStack) -> Connect:
    """``connect(token)``: a client of ``kind`` for ``base_url`` (``None``: without a token),
    closed with ``stack``."""
    if kind == "Client":
        return lambda token: stack.enter_context(Client(base_url, token))
    portal = stack.enter_context(start_blocking_portal())

    def connect(token: str | None) -> Any:
        client = portal.call(functools.partial(AsyncClient, base_url, token))
        stack.enter_context(portal.wrap_async_context_manager(client))
        return BlockingAsyncClient(portal, client)

    return connect
