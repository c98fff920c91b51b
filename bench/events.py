"""Event-stream benchmark: one node, N subscribers on ``GET /v1/events``, revocations fanned out.

One ``tokenward serve`` (uvloop + httptools, as shipped) pinned to the server core, on a fresh
SQLite file (or PostgreSQL schema). This process, pinned to the other core, opens N event
streams with one admin key (``TOKENWARD_EVENTS_PER_KEY`` raised to N), waits for a heartbeat on
each, then revokes tokens one at a time with ``DELETE /v1/tokens/{id}``. For each revocation:
the time from sending the DELETE to its ``token.revoked`` event on every stream (p50, p99,
max over all streams and rounds), and how long the DELETE itself took, beside the same DELETEs
with no subscriber at all, measured first in the same run. The server's RSS before and after
the streams opened gives the memory per subscriber.

The client must not be what is measured: each stream is an asyncio protocol on uvloop that
stamps the moment its bytes arrive (no task per stream and read), and the DELETEs go out from a
process of their own, so they never wait for this process's lock on the interpreter.

With ``--load N``, wrk (pinned to the client core) keeps N connections of ``GET /v1/self``
going through both phases, alone and with the streams: a node that is rarely idle, where each
fan-out waits its full patience for the requests in flight.

Targets (issue 16): 2,000 subscribers get a revocation at p99 <= 100 ms, and the DELETE takes
at most 2x its time with no subscribers.
Run: ``.venv/bin/python bench/events.py [--subscribers 2000] [--rounds 50] [--backend sqlite]
[--load 0]``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import uvloop

import _servers
import _wrk
from _fixture import create_minter, mint_tokens_with_ids
from _postgres import DEFAULT_URL
from _setup import fresh_database, tokenward_environment

TARGET_P99_MS = 100.0
TARGET_DELETE_RATIO = 2.0


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    os.sched_setaffinity(0, {options.client_core})
    with tempfile.TemporaryDirectory(prefix="tw-bench-events-") as scratch:
        work = Path(scratch)
        with fresh_database(
            options.backend == "sqlite", work, options.postgres_url, "tw_bench_events"
        ) as url:
            figures = _benchmark(options, work, url)
    _report(figures, options)
    ok = figures["p99_ms"] <= TARGET_P99_MS and figures["delete_ratio"] <= TARGET_DELETE_RATIO
    return 0 if ok else 1


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_URL)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--load", type=int, default=0, help="wrk connections on GET /v1/self")
    return parser.parse_args(argv)


def _benchmark(options: argparse.Namespace, work: Path, url: str) -> dict[str, float]:
    env = tokenward_environment(
        url,
        events_per_key=str(max(options.subscribers, 1)),
        # uvicorn's cap on connections (2,048 by default) must leave room for the load's
        max_concurrency=str(max(2048, options.subscribers + options.load + 64)),
    )
    port = _servers.free_port()
    base = f"http://{_servers.HOST}:{port}"
    with _servers.running(
        _servers.tokenward_command(options.server_core, port),
        ready_url=f"{base}/healthz",
        log=work / "tokenward.log",
        env=env,
    ) as server:
        key = _key(env)  # the server made the first admin on the empty database
        minter = create_minter(env)
        tokens = mint_tokens_with_ids(base, minter, 2 * options.rounds)
        # One process of its own sends every DELETE, with and without the streams alike.
        with (
            concurrent.futures.ProcessPoolExecutor(1) as revoker,
            _load(options, base, minter, work) as load,
        ):
            revoker.submit(_revoke_nothing).result()  # started before anything is timed
            streams = _with_streams(options, port, key, minter, server.pid, tokens, revoker)
            figures = uvloop.run(streams)
        figures.update(load)
        return figures


@contextlib.contextmanager
def _load(
    options: argparse.Namespace, base: str, token: str, work: Path
) -> Iterator[dict[str, float]]:
    """wrk on ``GET /v1/self`` for as long as the block runs (nothing with ``--load 0``); the
    figures it reports, once the block is done."""
    figures: dict[str, float] = {}
    if not options.load:
        yield figures
        return
    secrets = work / "load-token.txt"
    secrets.write_text(token + "\n")
    command = ["taskset", "-c", str(options.client_core), "wrk", "-t1", f"-c{options.load}"]
    command += ["-d3600s", "--latency", "-s", str(Path(__file__).parent / "rotate_tokens.lua")]
    command += [base, "--", str(secrets)]
    wrk = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)  # under way before anything is timed
        yield figures
    finally:
        wrk.send_signal(signal.SIGINT)  # wrk stops and prints its report
        report, _ = wrk.communicate(timeout=30)
    result = _wrk.parse(report)
    figures.update(
        load_connections=options.load,
        load_rps=result.rps,
        load_p99_ms=result.p99_ms,
        load_non_2xx=result.non_2xx,
    )


def _key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [
            str(_servers.BIN / "tokenward"),
            "key",
            "create",
            "--label",
            "events bench",
            "--scope",
            "introspect",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"tokenward key create: {done.stderr.strip()}")
    return done.stdout.strip()


async def _with_streams(
    options: argparse.Namespace,
    port: int,
    key: str,
    minter: str,
    pid: int,
    tokens: list[tuple[str, str]],
    revoker: concurrent.futures.Executor,
) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    alone = [
        await loop.run_in_executor(revoker, _revoke, port, minter, token_id)
        for token_id, _ in tokens[: options.rounds]
    ]
    rss_before = _rss(pid)
    streams: list[_Stream] = []
    for _ in range(0, options.subscribers, 200):  # open in batches: the listen backlog
        batch = min(200, options.subscribers - len(streams))
        streams += await asyncio.gather(*(_open(port, key) for _ in range(batch)))
    await asyncio.sleep(1)  # let the heartbeat settle in every buffer
    rss_after = _rss(pid)
    delays: list[float] = []
    deletes: list[float] = []
    for token_id, _ in tokens[options.rounds :]:
        marker = f'"token_ids":["{token_id}"]'.encode()
        arrivals = [stream.expect(marker) for stream in streams]
        started = time.perf_counter()
        deletes.append(await loop.run_in_executor(revoker, _revoke, port, minter, token_id))
        moments = await asyncio.wait_for(asyncio.gather(*arrivals), timeout=30)
        delays += [moment - started for moment in moments]
    for stream in streams:
        stream.close()
    return _figures(options, delays, deletes, alone, rss_before, rss_after)


class _Stream(asyncio.Protocol):
    """One event stream: keeps what arrived since the last blank line, and stamps the moment
    the awaited marker arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.head = b""  # the start of the answer: its status line
        self.tail = b""
        self.marker = b""
        self.arrived: asyncio.Future[float] | None = None

    def expect(self, marker: bytes) -> asyncio.Future[float]:
        self.marker = marker
        self.arrived = asyncio.get_running_loop().create_future()
        if marker in self.tail:
            self.arrived.set_result(time.perf_counter())
        return self.arrived

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.head = self.head or data[:64]
        seen = self.tail + data
        if self.arrived is not None and not self.arrived.done() and self.marker in seen:
            self.arrived.set_result(now)
        self.tail = seen[seen.rfind(b"\n\n") + 2 :] if b"\n\n" in seen else seen
        self.tail = self.tail[-4096:] if len(self.tail) > 4096 else self.tail

    def connection_lost(self, exc: Exception | None) -> None:
        if self.arrived is not None and not self.arrived.done():
            self.arrived.set_exception(RuntimeError("the stream ended before its event"))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _open(port: int, key: str) -> _Stream:
    loop = asyncio.get_running_loop()
    transport, stream = await loop.create_connection(_Stream, _servers.HOST, port)
    stream.transport = transport
    request = f"GET /v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\r\n"
    transport.write(request.encode())
    await asyncio.wait_for(stream.expect(b"event: heartbeat\n"), timeout=30)
    if b" 200 " not in stream.head:
        raise RuntimeError(f"GET /v1/events answered {stream.head!r}")
    return stream


def _revoke(port: int, minter: str, token_id: str) -> float:
    """Seconds ``DELETE /v1/tokens/{id}`` took, answer read."""
    connection = http.client.HTTPConnection(_servers.HOST, port, timeout=30)
    started = time.perf_counter()
    connection.request(
        "DELETE", f"/v1/tokens/{token_id}", headers={"Authorization": f"Bearer {minter}"}
    )
    answer = connection.getresponse()
    answer.read()
    took = time.perf_counter() - started
    connection.close()
    if answer.status != 200:
        raise RuntimeError(f"DELETE /v1/tokens/{token_id} answered {answer.status}")
    return took


def _revoke_nothing() -> None:
    """The revoking process's first task: it is up, imports done."""


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _figures(
    options: argparse.Namespace,
    delays: list[float],
    deletes: list[float],
    alone: list[float],
    rss_before: int,
    rss_after: int,
) -> dict[str, float]:
    cuts = statistics.quantiles(delays, n=100)
    return {
        "subscribers": options.subscribers,
        "rounds": options.rounds,
        "p50_ms": statistics.median(delays) * 1000,
        "p99_ms": cuts[98] * 1000,
        "max_ms": max(delays) * 1000,
        "delete_alone_ms": statistics.median(alone) * 1000,
        "delete_ms": statistics.median(deletes) * 1000,
        "delete_ratio": statistics.median(deletes) / statistics.median(alone),
        # The tail too: a median alone hides a DELETE that now and then waits behind a burst.
        "delete_alone_max_ms": max(alone) * 1000,
        "delete_max_ms": max(deletes) * 1000,
        "rss_per_subscriber_kib": (rss_after - rss_before) / max(options.subscribers, 1) / 1024,
    }


def _report(figures: dict[str, float], options: argparse.Namespace) -> None:
    print(
        f"{options.subscribers} subscribers on one node ({options.backend}), "
        f"{options.rounds} revocations\n"
        f"  token.revoked on every stream after the DELETE was sent: "
        f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
        f"max {figures['max_ms']:.1f} ms "
        f"(target p99 <= {TARGET_P99_MS:.0f} ms)\n"
        f"  DELETE /v1/tokens/{{id}}: {figures['delete_ms']:.1f} ms with the streams, "
        f"{figures['delete_alone_ms']:.1f} ms with none = {figures['delete_ratio']:.2f}x "
        f"(target <= {TARGET_DELETE_RATIO:.0f}x); slowest {figures['delete_max_ms']:.1f} ms "
        f"with the streams, {figures['delete_alone_max_ms']:.1f} ms with none\n"
        f"  server RSS per subscriber: {figures['rss_per_subscriber_kib']:.1f} KiB"
    )
    if "load_rps" in figures:
        print(
            f"  under load: wrk -c{figures['load_connections']:.0f} GET /v1/self throughout, "
            f"{figures['load_rps']:.0f} req/s, p99 {figures['load_p99_ms']:.1f} ms, "
            f"{figures['load_non_2xx']:.0f} non-2xx"
        )
    print(json.dumps({"events": figures}))


if __name__ == "__main__":
    sys.exit(main())
