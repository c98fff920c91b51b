"""The checker of bench/revocation.py: a process of its own that keeps verifying tokens on every
node and records every answer about a token under revocation, with its time.

It talks to the revoker (its parent) by lines: the first line on stdin is a JSON config
``{"ports": [...], "tokens": [...], "settle_s": s}``; then

- it verifies every token once on every node (warming the caches) and writes ``warm {json}``;
- ``R <i>`` on stdin: token ``i`` is about to be revoked. From then on every answer about it is
  recorded; each node is asked about it on every turn of that node's loop until the node answers
  401. It writes ``A <i>`` once the token is being watched, so the revoker sends the DELETE only
  then;
- ``STOP``: it waits (at most ``settle_s``) until every node has refused every announced token,
  asks every node once more about every announced token (the final sweep), writes
  ``result {json}`` and exits.

One keep-alive HTTP/1.1 connection per node, one request in flight on each, sent as soon as the
previous answer is read: on loopback that is as fast as polling can go, and the time between two
questions about the same token to the same node (the sampling interval) is reported. While no
token is pending on a node, the node is asked about every token in turn (the background sweep):
tokens not yet announced must be answered 200; announced ones are recorded unless answered 401.

Times are ``time.monotonic()`` (CLOCK_MONOTONIC, the same clock in every process on Linux), so
the parent compares them with its own revoke times.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from typing import Any

Probe = list[Any]  # [node, token index, sent, received, status]


class ProtocolError(RuntimeError):
    """A node answered something that is not a framed HTTP/1.1 response."""


class Connection:
    """One keep-alive HTTP/1.1 connection; just enough client for GET and a status."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reconnects = 0

    async def status(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None  # noqa: S101 - set together with the writer
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length, close = _parse_head(head)
        await self.reader.readexactly(length)
        if close:
            await self.close()
            self.reconnects += 1
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.1 "):
        raise ProtocolError(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
    status = int(lines[0][9:12])
    length: int | None = None
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
        elif name == b"transfer-encoding":
            raise ProtocolError("chunked answer: this client reads Content-Length only")
    if length is None:
        raise ProtocolError(f"answer {status} without Content-Length")
    return status, length, close


class Checker:
    def __init__(self, ports: list[int], tokens: list[str], settle_s: float) -> None:
        self.nodes = range(len(ports))
        self.connections = [Connection(port) for port in ports]
        self.requests = [
            [
                f"GET /v1/self HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
                for token in tokens
            ]
            for port in ports
        ]
        self.count = len(tokens)
        self.settle_s = settle_s
        self.announced: dict[int, float] = {}
        self.pending: list[dict[int, None]] = [{} for _ in ports]  # insertion-ordered sets
        self.cursor = [0 for _ in ports]
        self.probes: list[Probe] = []
        self.anomalies: list[Probe] = []
        self.round_trips: list[list[float]] = [[] for _ in ports]
        self.statuses: list[dict[int, int]] = [{} for _ in ports]
        self.stopping = False
        self.followed = [0 for _ in ports]  # questions asked by follow(), per node
        self.follow_seconds = 0.0

    async def warm(self) -> dict[str, object]:
        """Every token once on every node, all nodes at once; each must be answered 200."""
        started = time.monotonic()

        async def one_node(node: int) -> None:
            for index in range(self.count):
                status = await self.connections[node].status(self.requests[node][index])
                if status != 200:
                    raise ProtocolError(f"warm-up: node {node} answered {status} for token {index}")

        await asyncio.gather(*(one_node(node) for node in self.nodes))
        return {"seconds": round(time.monotonic() - started, 3)}

    def announce(self, index: int) -> None:
        self.announced[index] = time.monotonic()
        for pending in self.pending:
            pending[index] = None

    async def follow(self, node: int) -> None:
        """Ask ``node`` without pause: the pending tokens in turn, else the background sweep."""
        pending = self.pending[node]
        started = time.monotonic()
        while not self.stopping:
            if pending:
                index = next(iter(pending))
                del pending[index]
                pending[index] = None  # to the back: the pending tokens take turns
                background = False
            else:
                index = self.cursor[node]
                self.cursor[node] = (index + 1) % self.count
                background = True
            await self._probe(node, index, background)
            self.followed[node] += 1
        self.follow_seconds = max(self.follow_seconds, time.monotonic() - started)

    async def _probe(self, node: int, index: int, background: bool) -> None:
        sent = time.monotonic()
        status = await self.connections[node].status(self.requests[node][index])
        received = time.monotonic()
        self.round_trips[node].append(received - sent)
        self.statuses[node][status] = self.statuses[node].get(status, 0) + 1
        probe = [node, index, sent, received, status]
        if index not in self.announced:
            if status != 200:  # refused before anyone asked for its revocation
                self.anomalies.append(probe)
            return
        if status == 401:
            self.pending[node].pop(index, None)
            if background:
                return  # refused as it should be: counted above, not kept
        elif status == 200:
            self.pending[node][index] = None  # accepted again: watch it closely again
        self.probes.append(probe)

    async def settle(self) -> bool:
        """Wait until no node has a pending token, or ``settle_s`` passes; True if none has."""
        deadline = time.monotonic() + self.settle_s
        while any(self.pending) and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        return not any(self.pending)

    async def sweep(self) -> None:
        """Ask every node once about every announced token, all nodes at once."""

        async def one_node(node: int) -> None:
            for index in sorted(self.announced):
                await self._probe(node, index, background=False)

        await asyncio.gather(*(one_node(node) for node in self.nodes))

    def result(self, settled: bool) -> dict[str, object]:
        return {
            "announced": self.announced,
            "probes": self.probes,
            "anomalies": self.anomalies,
            "settled": settled,
            "requests": [len(r) for r in self.round_trips],
            "follow_requests_per_s": [round(n / self.follow_seconds) for n in self.followed],
            "round_trip_ms": [_percentiles(r) for r in self.round_trips],
            "statuses": self.statuses,
            "reconnects": [c.reconnects for c in self.connections],
        }


def _percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    ordered = sorted(seconds)
    cut = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []
    return {
        "p50": round(statistics.median(ordered) * 1000, 3),
        "p99": round((cut[98] if cut else ordered[-1]) * 1000, 3),
        "max": round(ordered[-1] * 1000, 3),
    }


def _say(kind: str, payload: object = None) -> None:
    line = kind if payload is None else f"{kind} {json.dumps(payload, separators=(',', ':'))}"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _commands() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _main() -> None:
    commands = await _commands()
    config = json.loads(await commands.readline())
    checker = Checker(config["ports"], config["tokens"], config["settle_s"])
    _say("warm", await checker.warm())
    followers = [asyncio.create_task(checker.follow(node)) for node in checker.nodes]
    while True:
        line = (await commands.readline()).decode().strip()
        for task in followers:
            if task.done():
                task.result()  # a node failed: raise its error here
        if line.startswith("R "):
            index = int(line[2:])
            checker.announce(index)
            _say(f"A {index}")
        elif line == "STOP":
            break
        else:
            raise ProtocolError(f"unknown command {line!r}")
    settled = await checker.settle()
    checker.stopping = True
    await asyncio.gather(*followers)
    await checker.sweep()
    for connection in checker.connections:
        await connection.close()
    _say("result", checker.result(settled))


if __name__ == "__main__":
    try:
        asyncio.run(_main())
    except Exception as error:
        _say("error", f"{type(error).__name__}: {error}")
        sys.exit(1)
