"""The real services around the nodes, under the test's control: a PostgreSQL schema of the
test's own, a Redis server started and restarted by the test, and a look at which worker
process of a server holds a connection."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import redis

__all__ = ["PostgresSchema", "RedisServer", "pinned_to", "serving_process", "worker_processes"]

PG_HOST, PG_PORT, PG_DATABASE = "127.0.0.1", 5432, "test"
PG_ADMIN = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
REDIS_SERVER = "/usr/bin/redis-server"
_START_WITHIN = 10.0  # seconds


class PostgresSchema:
    """A schema of the test's own in the ``test`` database; the nodes migrate it themselves.

    Its URLs name the schema as the connections' ``application_name`` too, so the test can
    find its nodes' connections in ``pg_stat_activity`` and kill those only.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def url(self, port: int = PG_PORT) -> str:
        """The nodes' ``TOKENWARD_DATABASE_URL``: through a proxy at ``port``, if given."""
        options = quote(f"-csearch_path={self.name}")
        return (
            f"postgresql://postgres@{PG_HOST}:{port}/{PG_DATABASE}"
            f"?options={options}&application_name={self.name}"
        )

    def create(self) -> None:
        self._run(f"DROP SCHEMA IF EXISTS {self.name} CASCADE", f"CREATE SCHEMA {self.name}")

    def drop(self) -> None:
        self._run(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")

    def query(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` run directly (never through a proxy) in the schema."""
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall()

    def listeners(self) -> int:
        """How many of this schema's connections are LISTENing (the nodes' buses)."""
        ((count,),) = self.query(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s AND query ILIKE 'LISTEN%%'",
            PG_DATABASE,
            self.name,
        )
        return int(count)

    def kill_listeners(self) -> int:
        """``pg_terminate_backend`` on every LISTEN connection of this schema's nodes."""
        rows = self.query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s AND query ILIKE 'LISTEN%%'",
            PG_DATABASE,
            self.name,
        )
        return sum(1 for (killed,) in rows if killed)

    def _run(self, *statements: str) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            for statement in statements:
                conn.execute(statement)


class RedisServer:
    """``redis-server`` on a loopback port, without persistence, as a child of the test."""

    def __init__(self, port: int, folder: Path) -> None:
        self.port = port
        self.folder = folder
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.folder / f"redis-{self.port}.log"
        port, memory_only = ("--port", str(self.port)), ("--save", "", "--appendonly", "no")
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [REDIS_SERVER, *port, "--bind", "127.0.0.1", *memory_only, "--daemonize", "no"],
                cwd=self.folder,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + _START_WITHIN
        while not self._pings():
            assert self.process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"redis-server not up:\n{log.read_text()}"
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, with every connection to it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait(10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def subscribers(self, channel: str) -> int:
        with redis.Redis.from_url(self.url, socket_timeout=2) as client:
            ((_, count),) = client.pubsub_numsub(channel)
        return int(count)

    def _pings(self) -> bool:
        try:
            with redis.Redis.from_url(self.url, socket_timeout=1) as client:
                return bool(client.ping())
        except redis.RedisError:
            return False


def worker_processes(parent: int) -> list[int]:
    """The worker processes of the server ``parent``: its children started by
    multiprocessing (not its resource tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                # The field after the command name "(…)", which may hold spaces: state, ppid.
                child = int(stat.rsplit(")", 1)[1].split()[1]) == parent
                if child and b"spawn_main" in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
    return sorted(found)


def serving_process(conn: http.client.HTTPConnection, candidates: list[int]) -> int | None:
    """Which of ``candidates`` holds the server's end of ``conn`` (after a round trip, so
    that it has been accepted), found through ``/proc/net/tcp`` and the processes' fds."""
    assert conn.sock is not None
    client_port = conn.sock.getsockname()[1]
    server_port = conn.sock.getpeername()[1]
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            inode = fields[9]
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in candidates:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


def pinned_to(
    port: int, worker: int, workers: list[int], attempts: int = 200
) -> Callable[[], http.client.HTTPConnection]:
    """A connector whose connections are served by ``worker``: it opens connections to the
    server at ``port`` until the kernel hands one to that worker, closing the others."""

    def connect() -> http.client.HTTPConnection:
        for _ in range(attempts):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                if serving_process(conn, workers) == worker:
                    return conn
            except (OSError, http.client.HTTPException):
                pass
            conn.close()
        raise AssertionError(f"no connection reached worker {worker} in {attempts} attempts")

    return connect
