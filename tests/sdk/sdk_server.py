"""A real tokenward server in a thread of the test process, that a test can stop and start
again on the same port (to see a resource server fail closed and recover)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from tokenward.http.app import create_app
from tokenward.runtime import Runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadServer:
    def __init__(self, runtime: Runtime, port: int | None = None) -> None:
        self.runtime = runtime
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ThreadServer:
        config = uvicorn.Config(
            create_app(self.runtime), host="127.0.0.1", port=self.port, log_level="error"
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
