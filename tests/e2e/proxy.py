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
_TICK = 0.05  # seconds: how often a waiting thread looks at the stop flag


class TcpProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream`` until :meth:`cut`, again after
    :meth:`restore`.

    ``"refuse"`` (the database's host is down): every forwarded connection is reset, and so is
    each new one as soon as it is accepted. ``"blackhole"`` (a network partition): nothing is
    reset and nothing gets through, either way; new connections are accepted and left
    unanswered. A restore after a black hole lets the held bytes and connections through, as
    TCP does when a partition heals.
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
        self._flowing = threading.Event()  # clear while a black hole holds every byte
        self._flowing.set()
        self._acceptor = threading.Thread(target=self._accept, name="proxy-accept", daemon=True)
        self._acceptor.start()

    def cut(self, mode: str = "refuse") -> None:
        """Cut the link (see the class) until :meth:`restore`."""
        assert mode in ("refuse", "blackhole")
        with self._lock:
            self._mode = mode
            if mode == "blackhole":
                self._flowing.clear()
            else:
                self._flowing.set()  # held bytes meet the reset
            doomed = list(self._open) if mode == "refuse" else []
        for sock in doomed:
            _reset(sock)

    def restore(self) -> None:
        """Forward again: new connections, and those a black hole was holding."""
        with self._lock:
            self._mode = "open"
            self._flowing.set()
            held, self._held = self._held, []
        for client in held:
            self._forward(client)

    def close(self) -> None:
        """Stop forwarding and close every socket."""
        self._stop.set()
        self._acceptor.join(timeout=5)
        with self._lock:
            held, self._held = self._held, []
        for sock in held:
            _reset(sock)
            sock.close()
        self.cut()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)
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
        thread = threading.Thread(
            target=self._pump, args=(client, server), name="proxy-pump", daemon=True
        )
        with self._lock:
            cut_meanwhile = self._mode != "open"
            if not cut_meanwhile:
                self._open.update((client, server))
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
        if cut_meanwhile:
            for sock in (client, server):
                _reset(sock)
                sock.close()
            return
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
                        # Partitioned: leave the bytes unread until the link heals.
                        while not self._flowing.wait(_TICK):
                            if self._stop.is_set():
                                return
                        data = source.recv(_CHUNK)
                        if not data:
                            return
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
