"""A TCP forwarder on loopback that a test can cut and restore: the network between the nodes
and their database, under the test's control."""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
from types import TracebackType

__all__ = ["TcpProxy"]

_CHUNK = 64 * 1024
_TICK = 0.05  # seconds: how often the accepting thread looks at its stop flag


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` until :meth:`cut`, again after
    :meth:`restore`.

    ``"refuse"`` (the database's host is down): every forwarded connection is reset, and so is
    each new one as soon as it is accepted. ``"blackhole"`` (packets are lost): nothing is
    reset, but nothing gets through either way; new connections are accepted and never answered.
    A restore resets what was blackholed, since bytes were lost on it.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_TICK)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._mode = "open"
        self._open: set[socket.socket] = set()  # every socket of a live connection
        self._held: list[socket.socket] = []  # connections swallowed by a black hole
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    def cut(self, mode: str = "refuse") -> None:
        """Cut the link (see the class) until :meth:`restore`."""
        assert mode in ("refuse", "blackhole")
        with self._lock:
            self._mode = mode
            doomed = list(self._open) if mode == "refuse" else []
        for sock in doomed:
            _reset(sock)

    def restore(self) -> None:
        """Forward new connections again; the ones cut stay cut, as after a real outage."""
        with self._lock:
            blackholed = self._mode == "blackhole"
            self._mode = "open"
            doomed = [*self._held, *(self._open if blackholed else ())]
            held, self._held = self._held, []
        for sock in doomed:
            _reset(sock)
        for sock in held:
            sock.close()

    def close(self) -> None:
        self._stop.set()
        self._acceptor.join(timeout=5)
        self.cut()
        for thread in self._threads:
            thread.join(timeout=5)
        self.restore()
        self._listener.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                mode = self._mode
                if mode == "blackhole":
                    self._held.append(client)
                    continue
            if mode == "refuse":
                _reset(client)
                client.close()
                continue
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=2)
        except OSError:
            _reset(client)
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._open.update((client, server))
        thread = threading.Thread(
            target=self._pump, args=(client, server), name="proxy-pump", daemon=True
        )
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        """Copy bytes both ways until either side closes or the connection is cut."""
        peer = {client: server, server: client}
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(server, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select():
                        source: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = source.recv(_CHUNK)
                        if not data:
                            return
                        if self._mode == "open":  # a black hole swallows what it gets
                            peer[source].sendall(data)
            except OSError:
                return
            finally:
                with self._lock:
                    self._open.difference_update((client, server))
                for sock in (client, server):
                    _reset(sock)
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """End a connection abruptly (RST on close), and wake any thread reading it."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
