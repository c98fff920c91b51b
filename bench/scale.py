"""Scale benchmark: tokenward on PostgreSQL with 10k, 100k and 1M tokens.

Bulk-loads tokens and their events into a fresh schema with COPY (bench/_bulk.py), and at each
size starts a fresh ``tokenward serve`` and measures, one request at a time: verify on a cache
miss and a hit, ``GET /v1/tokens``, the admin token list with each filter, the audit log by
subject and by type (a common and a rare one). At the largest size, a cold node takes ``wrk``
load over ``--cold-tokens`` distinct tokens: throughput, latency, non-2xx, and the RSS each
cached token costs. See bench/README.md. Run: ``.venv/bin/python bench/scale.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import _servers
import _wrk
from _bulk import RARE_TYPE, Bulk, is_live, token_id, user_id
from _fixture import FixtureError, _cli
from _postgres import DEFAULT_URL, PostgresError, fresh_schema
from _report import percentiles_ms

HERE = Path(__file__).parent
SIZES = (10_000, 100_000, 1_000_000)
_MAX_FILL_SECONDS = 1800  # the second cold run: at most half an hour


class BenchError(RuntimeError):
    """The benchmark could not produce honest figures; the message says why."""


def main(argv: list[str] | None = None) -> int:
    options = _arguments(argv)
    try:
        rows, cold = _benchmark(options)
    except (BenchError, FixtureError, PostgresError, _servers.ServerError, _wrk.WrkError) as error:
        print(f"bench: FAILED: {error}", file=sys.stderr)
        return 1
    _print_table(rows, cold)
    return 0


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add = parser.add_argument
    add("--max", type=int, default=SIZES[-1], help="the largest size measured (1000000)")
    add("--samples", type=int, default=200, help="requests per latency figure (200)")
    add("--cold-tokens", type=int, default=100_000, help="distinct tokens for the cold node")
    add("--cold-seconds", type=int, default=30, help="length of the cold node's load (30)")
    add("--cache-size", type=int, help="the cold node's TOKENWARD_CACHE_SIZE (its default)")
    add("--connections", type=int, default=32, help="wrk connections for the cold node (32)")
    add("--postgres-url", default=DEFAULT_URL, help=f"database for the schema ({DEFAULT_URL})")
    return parser.parse_args(argv)


def _benchmark(options: argparse.Namespace) -> tuple[list[dict[str, object]], dict[str, object]]:
    sizes = [s for s in SIZES if s < options.max] + [options.max]
    bulk, rows = Bulk(), []
    with (
        tempfile.TemporaryDirectory(prefix="tokenward-scale-") as raw,
        fresh_schema(options.postgres_url, prefix="tw_bench_scale") as url,
    ):
        work, env = Path(raw), _environment(url)
        _cli(env, "migrate")
        bulk.start(_servers_dsn(url))
        for size in sizes:
            started = time.monotonic()
            bulk.load_to(_servers_dsn(url), size)
            print(f"bench: {size:,} tokens loaded in {time.monotonic() - started:.1f}s", flush=True)
            with _node(work, env, f"node-{size}") as base:
                rows.append({"tokens": size, **_measure(options, bulk, base, size)})
            print(f"bench: {json.dumps(rows[-1])}", flush=True)
        if options.cache_size is not None:
            env = {**env, "TOKENWARD_CACHE_SIZE": str(options.cache_size)}
        with _node(work, env, "cold") as base:
            cold = _cold(options, bulk, base, sizes[-1], work)
    return rows, cold


def _servers_dsn(url: str) -> str:
    return url  # libpq takes the same URL, options (search_path) included


def _environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env["TOKENWARD_DATABASE_URL"] = url
    env["TOKENWARD_ADMIN_PASSWORD"] = secrets.token_urlsafe(24)
    return env


@contextlib.contextmanager
def _node(work: Path, env: dict[str, str], name: str) -> Iterator[str]:
    """A fresh ``tokenward serve`` on core 0 (cold cache); its base URL."""
    port = _servers.free_port()
    base = f"http://{_servers.HOST}:{port}"
    command = _servers.tokenward_command(0, port)
    log = work / f"{name}.log"
    try:
        with _servers.running(command, ready_url=f"{base}/healthz", log=log, env=env):
            yield base
    except _servers.ServerError as error:
        # Raised only once the figures were taken: a node slow to stop (a loaded machine)
        # is killed after 10 s, which says nothing about them.
        if "exited -9" not in str(error):
            raise
        print(f"bench: warning: {name} was killed, not stopped within 10 s", flush=True)


def _measure(options: argparse.Namespace, bulk: Bulk, base: str, size: int) -> dict[str, object]:
    rng = random.Random(size)  # noqa: S311 - a sample to measure, not a secret
    live = [n for n in rng.sample(range(size), min(size, options.samples * 3)) if is_live(n)]
    misses, hits = _verify(base, [bulk.secret(n) for n in live[: options.samples]])
    owner = next(n for n in range(size) if is_live(n))
    figures: dict[str, object] = {"verify miss": misses, "verify hit": hits}
    user_token = bulk.secret(owner)
    figures["GET /v1/tokens"] = _timed(base, "/v1/tokens", user_token, options.samples)
    for name, path in _admin_paths(owner, size).items():
        figures[name] = _timed(base, path, bulk.admin_secret(), options.samples)
    return figures


def _admin_paths(owner: int, size: int) -> dict[str, str]:
    lists = "/v1/admin/tokens"
    return {
        "admin list": lists,
        "admin ?user=": f"{lists}?user={user_id(owner % 1000)}",
        "admin ?status=active": f"{lists}?status=active",
        "admin ?status=expired": f"{lists}?status=expired",
        "admin ?status=revoked": f"{lists}?status=revoked",
        "admin ?kind=user_token": f"{lists}?kind=user_token",
        "admin ?kind=admin_key": f"{lists}?kind=admin_key",
        "audit ?subject=": f"/v1/admin/audit?subject={token_id(size // 2)}",
        "audit ?type= (common)": "/v1/admin/audit?type=token.revoked",
        "audit ?type= (rare)": f"/v1/admin/audit?type={RARE_TYPE}",
    }


def _verify(base: str, tokens: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """Each token asked twice in a row, one request at a time: a miss (a store read), a hit."""
    miss, hit = [], []
    with _connection(base) as conn:
        for token in tokens:
            for sink in (miss, hit):
                sink.append(_get(conn, "/v1/self", token))
    return percentiles_ms(miss), percentiles_ms(hit)


def _timed(base: str, path: str, token: str, samples: int) -> dict[str, float]:
    with _connection(base) as conn:
        _get(conn, path, token)  # the first one warms the connection and the cache
        return percentiles_ms([_get(conn, path, token) for _ in range(samples)])


@contextlib.contextmanager
def _connection(base: str) -> Iterator[http.client.HTTPConnection]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        yield conn
    finally:
        conn.close()


def _get(conn: http.client.HTTPConnection, path: str, token: str) -> float:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    answer = conn.getresponse()
    body = answer.read()
    elapsed = time.perf_counter() - started
    if answer.status != 200:
        raise BenchError(f"GET {path} answered {answer.status}: {body[:200]!r}")
    return elapsed


def _cold(
    options: argparse.Namespace, bulk: Bulk, base: str, size: int, work: Path
) -> dict[str, object]:
    """A node just started takes wrk load over many distinct tokens, each new to it, for
    ``--cold-seconds``; then the tokens it has not seen yet, until its cache holds them all."""
    live = [n for n in range(size) if is_live(n)]
    chosen = random.Random(1).sample(  # noqa: S311 - not a secret
        live, min(len(live), options.cold_tokens)
    )
    pid = _pid_of(base)
    first, second = work / "cold-1.txt", work / "cold-2.txt"
    first.write_text("".join(f"{bulk.secret(n)}\n" for n in chosen))
    cold = _load(options, base, first, options.cold_seconds)
    # RSS per cached token from the second run: the first paid the one-off costs (threads,
    # connection pool, buffers) that would otherwise count as the tokens'. The first run
    # presented about as many tokens as it made requests (one wrk thread walks the file); the
    # second walks the rest, long enough to present each once at the first run's rate, so the
    # figure is averaged over a cache filled up to its size, not over a slice of it.
    rest = chosen[int(cold["requests"]) :]
    second.write_text("".join(f"{bulk.secret(n)}\n" for n in rest))
    seconds = min(_MAX_FILL_SECONDS, math.ceil(len(rest) / max(float(cold["rps"]), 1.0) * 1.15))
    rss, entries = _rss(pid), _servers.metric(base, "tokenward_cache_entries")
    warm = _load(options, base, second, max(seconds, 1))
    cached = _servers.metric(base, "tokenward_cache_entries")
    return {
        "distinct tokens": len(chosen),
        "cold": cold,
        "then": warm,
        "cached": int(cached),
        "rss_bytes_per_cached_token": round((_rss(pid) - rss) / max(cached - entries, 1)),
        "measured over": f"{int(entries):,} -> {int(cached):,} cached tokens",
    }


def _load(options: argparse.Namespace, base: str, tokens: Path, seconds: int) -> dict[str, object]:
    result, report = _wrk.run(
        f"{base}/v1/self",
        core=1,
        duration=seconds,
        connections=options.connections,
        script=HERE / "rotate_tokens.lua",
        script_args=(str(tokens),),
    )
    if result.requests == 0:
        raise BenchError(f"the node served nothing:\n{report}")
    return {
        "requests": result.requests,
        "rps": round(result.rps),
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "non_2xx": result.non_2xx,
        "socket_errors": result.socket_errors,
    }


def _pid_of(base: str) -> int:
    port = base.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _listens(entry, port):
            return int(entry.name)
    raise BenchError(f"no process found serving {base}")


def _listens(proc: Path, port: str) -> bool:
    try:
        command = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in command and port.encode() in command and b"taskset" not in command[0]


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for {pid}")


def _print_table(rows: list[dict[str, object]], cold: dict[str, object]) -> None:
    names = [k for k in rows[0] if k != "tokens"]
    header = "| p50 / p99 ms | " + " | ".join(f"{r['tokens']:,} tokens" for r in rows) + " |"
    print(header)
    print("|---|" + "---|" * len(rows))
    for name in names:
        cells = [_cell(r[name]) for r in rows]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"\ncold node: {json.dumps(cold)}")
    print(json.dumps({"rows": rows, "cold": cold}))


def _cell(figures: object) -> str:
    if not isinstance(figures, dict):
        raise TypeError(figures)
    return f"{figures['p50']:.2f} / {figures['p99']:.2f}"


if __name__ == "__main__":
    sys.exit(main())
