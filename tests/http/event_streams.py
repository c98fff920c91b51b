"""A real uvicorn server over a runtime, in a thread, and a reader of its event stream."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx2
import orjson
import uvicorn

from tokenward.domain.model import Actor
from tokenward.domain.tokens import TokenKind
from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.service import NewToken
from tokenward.testing import make_user


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def introspect_key(runtime: Runtime) -> str:
    """The secret of an admin key with scope ``introspect`` (a resource server's)."""
    root = make_user(runtime, "root", is_admin=True)
    request = NewToken(label="resource server", scopes=("introspect",))
    return runtime.tokens.create(root, request, by=Actor("test"), kind=TokenKind.ADMIN).secret


def served(runtime: Runtime) -> Iterator[str]:
    """The base URL of :func:`serving` over ``runtime``, for a fixture."""
    with serving(runtime) as url:
        yield url


@contextmanager
def serving(runtime: Runtime) -> Iterator[str]:
    """A real uvicorn server over ``runtime`` in a thread (its lifespan starts propagation)."""
    port = free_port()
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


class Stream:
    """Reads an SSE stream in a thread; ``next(kind)`` waits for the next event of a kind."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = httpx2.Client(timeout=10)
        self.response = self.client.send(
            self.client.build_request("GET", url, headers=headers), stream=True
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event: dict[str, Any] = {}
        try:
            for line in self.response.iter_lines():
                if not line:
                    if event:
                        self.events.put(event)
                    event = {}
                    continue
                name, _, value = line.partition(": ")
                event[name] = orjson.loads(value) if name == "data" else value
        except httpx2.HTTPError:
            return

    def next(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if event.get("event") == kind:
                return event

    def close(self) -> None:
        self.response.close()
        self.client.close()
        self.thread.join(timeout=5)
