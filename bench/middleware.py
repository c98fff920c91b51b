"""The resource-server middleware's cost on a cache hit.

1. In process: microseconds per ``RemoteVerifier.recall`` (the hot path: a header value
   verified before, vouched for by the fresh cache) and per ``check_cached`` (a cache hit
   for a header value not remembered yet: parse and hash), and the middleware's own cost
   per request, measured beside a bare call of the same app.
2. Over HTTP: requests/s and server CPU per request of the example's ``GET /projects`` with
   and without ``TokenwardMiddleware``, under wrk, alternating rounds, both pinned to one core
   (load on the other). Both answers have the same length; the bench checks it.

    .venv/bin/python bench/middleware.py [--duration 10] [--rounds 3]
    .venv/bin/python bench/middleware.py --instructions [REQUESTS]   # valgrind, no wrk

See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _middleware_instructions
import _wrk
from _cpu import cpu_seconds, machine_busy_seconds
from _servers import FAST

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent


def _wait(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: {url} did not come up")


def _start(
    args: list[str], env: dict[str, str], cwd: Path, core: int = 0
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        ["taskset", "-c", str(core), *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "tokenward"), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def _per_call_us(function: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - start) / calls * 1e6


def in_process(url: str, key: str, token: str, calls: int) -> dict[str, float]:
    """µs per hot-path recall and per cached verify, and the middleware's own µs per request
    through the ASGI middleware beside a bare call of the same app."""
    from tokenward.sdk import RemoteVerifier, TokenwardMiddleware

    verifier = RemoteVerifier(url, key)
    verifier.start()
    deadline = time.monotonic() + 10
    while not verifier.cache.is_fresh():
        if time.monotonic() > deadline:
            raise SystemExit("bench: the verifier never became fresh")
        time.sleep(0.01)
    authorization = f"Bearer {token}".encode()
    verifier.remember(authorization, token, verifier.verify(token))  # fills the cache
    if verifier.recall(authorization) is None:
        raise SystemExit("bench: the verified token is not recalled")
    figures = {
        "recall_hit_us": _per_call_us(lambda: verifier.recall(authorization), calls),
        "verify_hit_us": _per_call_us(lambda: verifier.check_cached(token), calls),
    }

    async def bare(scope: object, receive: object, send: object) -> None:
        return None

    protected = TokenwardMiddleware(bare, verifier)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/projects",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", authorization)],
    }

    async def run(app: object) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await app(dict(scope), None, None)  # type: ignore[operator]
        return (time.perf_counter() - start) / calls * 1e6

    bare_us = asyncio.run(run(bare))
    figures["middleware_us"] = asyncio.run(run(protected)) - bare_us
    verifier.stop()
    return figures


def _body(url: str, token: str) -> bytes:
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
        body: bytes = answer.read()
        return body


def _same_work(apps: dict[str, int], token: str) -> dict[str, bytes]:
    """The answers both apps give wrk's request: the bare app the public projects, the
    protected one the token holder's. Equal lengths, or the ratio would measure the payload."""
    bodies = {
        name: _body(f"http://127.0.0.1:{port}/projects", token) for name, port in apps.items()
    }
    if b'"user":null' not in bodies["bare"] or b'"user":"admin"' not in bodies["protected"]:
        raise SystemExit(f"bench: unexpected answers {bodies}")
    if len(bodies["bare"]) != len(bodies["protected"]):
        raise SystemExit(f"bench: the answers differ in length: {bodies}")
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--instructions",
        type=int,
        nargs="?",
        const=1000,
        metavar="REQUESTS",
        help="instead: instructions per request under valgrind (default 1000 requests)",
    )
    parser.add_argument("--drive", nargs=2, help=argparse.SUPPRESS)  # valgrind's child
    options = parser.parse_args()
    if options.drive:
        _middleware_instructions.drive(options.drive[0], int(options.drive[1]))
        return
    if options.instructions:
        _report_instructions(options.instructions)
        return
    work = Path(tempfile.mkdtemp(prefix="tw-bench-mw-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENWARD_")}
    env |= {
        "TOKENWARD_DATABASE_URL": f"sqlite:///{work / 'tw.db'}",
        "TOKENWARD_ADMIN_PASSWORD": "bench-admin-password",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        _cli(env, work, "migrate")
        # tokenward itself runs elsewhere in a real deployment: here it shares the load
        # generator's core, so that the apps measured have core 0 to themselves.
        tokenward = [str(BIN / "tokenward"), "serve", "--port", "18470"]
        processes.append(_start(tokenward, env, work, core=1))
        _wait("http://127.0.0.1:18470/healthz")
        key = _cli(env, work, "key", "create", "--label", "bench", "--scope", "introspect")
        token = _cli(env, work, "token", "create", "--user", "admin", "--label", "bench")
        url = "http://127.0.0.1:18470"
        figures = in_process(url, key, token, 20_000)
        apps: dict[str, int] = {}
        pids: dict[str, int] = {}
        for name, port, protect in (("bare", 18471, "0"), ("protected", 18472, "1")):
            app_env = env | {
                "TOKENWARD_URL": url,
                "TOKENWARD_KEY": key,
                "BENCH_PROTECT": protect,
                "PYTHONPATH": str(HERE),
            }
            processes.append(
                _start(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "middleware_app:app",
                        "--port",
                        str(port),
                        "--no-access-log",
                        "--log-level",
                        "warning",
                        *FAST,  # both apps as their users would run them for speed
                    ],
                    app_env,
                    HERE,
                )
            )
            _wait(f"http://127.0.0.1:{port}/projects")
            apps[name] = port
            pids[name] = processes[-1].pid  # taskset execs the server: same pid
        bodies = _same_work(apps, token)
        lua = work / "auth.lua"
        lua.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        rps: dict[str, list[float]] = {"bare": [], "protected": []}
        cpu_us: dict[str, list[float]] = {"bare": [], "protected": []}
        for port in apps.values():  # warm-up: fills the protected app's cache
            _wrk.run(
                f"http://127.0.0.1:{port}/projects",
                core=1,
                duration=2,
                connections=options.connections,
                script=lua,
            )
        load_before, busy_before, started = (
            os.getloadavg()[0],
            machine_busy_seconds(),
            time.monotonic(),
        )
        for _ in range(options.rounds):
            for name, port in apps.items():
                cpu_before = cpu_seconds(pids[name])
                result, _ = _wrk.run(
                    f"http://127.0.0.1:{port}/projects",
                    core=1,
                    duration=options.duration,
                    connections=options.connections,
                    script=lua,
                )
                if result.non_2xx or result.socket_errors:
                    raise SystemExit(f"bench: errors in the {name} run")
                rps[name].append(result.rps)
                cpu = cpu_seconds(pids[name]) - cpu_before
                cpu_us[name].append(cpu / result.requests * 1e6)
        cores_busy = (machine_busy_seconds() - busy_before) / (time.monotonic() - started)
        ratios = [p / b for p, b in zip(rps["protected"], rps["bare"], strict=True)]
        # Every introspection the middleware made is a verify on the server: few means the
        # middleware served from its own cache, as intended.
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as answer:  # noqa: S310
            metrics = dict(
                line.split(" ", 1)
                for line in answer.read().decode().splitlines()
                if line.startswith("tokenward_cache_") and " " in line
            )
        introspections = int(float(metrics["tokenward_cache_hits_total"])) + int(
            float(metrics["tokenward_cache_misses_total"])
        )
        cpu_median = {name: statistics.median(values) for name, values in cpu_us.items()}
        summary = {
            "bench": "middleware",
            "bare_rps": statistics.median(rps["bare"]),
            "protected_rps": statistics.median(rps["protected"]),
            "ratio": round(statistics.median(ratios), 3),
            "ratios": [round(r, 3) for r in ratios],
            "cpu_us_per_request": {k: round(v, 1) for k, v in cpu_median.items()},
            "cpu_ratio": round(cpu_median["protected"] / cpu_median["bare"], 3),
            "body_bytes": len(bodies["bare"]),
            "recall_hit_us": round(figures["recall_hit_us"], 2),
            "verify_hit_us": round(figures["verify_hit_us"], 2),
            "middleware_us": round(figures["middleware_us"], 2),
            "introspections": introspections,
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "cores_busy": round(cores_busy, 2),
        }
        _print(summary, options)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


def _report_instructions(requests: int) -> None:
    counts = _middleware_instructions.measure(requests)
    print(f"instructions per request (valgrind, {requests} requests, PYTHONHASHSEED=0):")
    for token in ("", "-anonymous"):
        bare, protected = counts["bare" + token], counts["protected" + token]
        print(
            f"  {'anonymous' if token else 'with the token'}: bare {bare:,}, "
            f"protected {protected:,} (+{protected - bare:,}, {protected / bare - 1:+.1%})"
        )
    print(json.dumps({"bench": "middleware-instructions", "requests": requests, **counts}))


def _print(summary: dict[str, Any], options: argparse.Namespace) -> None:
    cpu = summary["cpu_us_per_request"]
    print(
        f"GET /projects with/without TokenwardMiddleware (cache hits), answers of "
        f"{summary['body_bytes']} bytes each, {options.rounds} rounds of {options.duration}s:"
    )
    print(f"  bare       {summary['bare_rps']:9.0f} req/s   {cpu['bare']:6.1f} us CPU/request")
    print(
        f"  protected  {summary['protected_rps']:9.0f} req/s   {cpu['protected']:6.1f} us "
        f"CPU/request   ratio {summary['ratio']}x (per round {summary['ratios']}), "
        f"CPU {summary['cpu_ratio']}x"
    )
    print(
        f"  in process: {summary['recall_hit_us']} us per hot-path recall, "
        f"{summary['verify_hit_us']} us per cached verify (parse + hash), "
        f"{summary['middleware_us']} us of middleware per request"
    )
    print(f"  server verifies asked of tokenward during all runs: {summary['introspections']}")
    print(
        f"  machine: load average {summary['load_average']} (before, after), "
        f"{summary['cores_busy']} of 2 cores busy during the rounds"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
