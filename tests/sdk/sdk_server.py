"""A real tokenward server in a thread of the test process, that a test can stop and start
again on the same port (to see a resource server fail closed and recover), and that counts
the introspections it is asked for and can hold their answers back."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import uvicorn
from sdk_client_support import free_port

from tokenward.http.app import create_app
from tokenward.runtime import Runtime


class ThreadServer:
    def __init__(self, runtime: Runtime, port: int | None = None) -> None:
        self.runtime = runtime
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.introspections = 0  # POST /v1/introspect requests received
        self.answering = threading.Event()  # cleared: introspections wait for it
        self.answering.set()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    async def _app(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/v1/introspect":
            self.introspections += 1
            while not self.answering.is_set():
                await asyncio.sleep(0.005)
        await self._inner(scope, receive, send)

    def start(self) -> ThreadServer:
        self._inner = create_app(self.runtime)
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="error", interface="asgi3"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._server.force_exit = True  # open event streams must not hold it up
            self._thread.join(timeout=10)
            self._server = self._thread = None
