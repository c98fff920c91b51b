"""The resource-server middleware's cost on a cache hit.

1. In process: microseconds per ``RemoteVerifier.check_cached`` on a fresh cache hit (the
   whole per-request work of the middleware besides header parsing), with the overhead of the
   ASGI middleware call measured beside a bare call of the same app.
2. Over HTTP: requests/s of the same one-route app with and without ``TokenwardMiddleware``,
   under wrk, alternating rounds, both pinned to one core (load on the other).

    .venv/bin/python bench/middleware.py [--duration 10] [--rounds 3]
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
from pathlib import Path

import _wrk

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


def in_process(url: str, key: str, token: str, calls: int) -> dict[str, float]:
    """µs per verify on a cache hit, and per request through the ASGI middleware vs bare."""
    sys.path.insert(0, str(HERE))
    from tokenward.sdk import RemoteVerifier, TokenwardMiddleware

    verifier = RemoteVerifier(url, key)
    verifier.start()
    deadline = time.monotonic() + 10
    while not verifier.cache.is_fresh():
        if time.monotonic() > deadline:
            raise SystemExit("bench: the verifier never became fresh")
        time.sleep(0.01)
    verifier.verify(token)  # fills the cache
    start = time.perf_counter()
    for _ in range(calls):
        verifier.check_cached(token)
    verify_us = (time.perf_counter() - start) / calls * 1e6

    async def bare(scope: object, receive: object, send: object) -> None:
        return None

    protected = TokenwardMiddleware(bare, verifier)  # type: ignore[arg-type]
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/projects",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode())],
    }

    async def run(app: object) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await app(dict(scope), None, None)  # type: ignore[operator]
        return (time.perf_counter() - start) / calls * 1e6

    bare_us = asyncio.run(run(bare))
    middleware_us = asyncio.run(run(protected))
    verifier.stop()
    return {"verify_hit_us": verify_us, "middleware_us": middleware_us - bare_us}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    options = parser.parse_args()
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
        apps = {}
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
                    ],
                    app_env,
                    HERE,
                )
            )
            _wait(f"http://127.0.0.1:{port}/projects")
            apps[name] = port
        lua = work / "auth.lua"
        lua.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        rps: dict[str, list[float]] = {"bare": [], "protected": []}
        for port in apps.values():  # warm-up: fills the protected app's cache
            _wrk.run(
                f"http://127.0.0.1:{port}/projects",
                core=1,
                duration=2,
                connections=options.connections,
                script=lua,
            )
        for _ in range(options.rounds):
            for name, port in apps.items():
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
        summary = {
            "bench": "middleware",
            "bare_rps": statistics.median(rps["bare"]),
            "protected_rps": statistics.median(rps["protected"]),
            "ratio": round(statistics.median(ratios), 3),
            "ratios": [round(r, 3) for r in ratios],
            "verify_hit_us": round(figures["verify_hit_us"], 2),
            "middleware_us": round(figures["middleware_us"], 2),
            "introspections": introspections,
        }
        print(
            f"one-route app, with/without TokenwardMiddleware (cache hits), "
            f"{options.rounds} rounds of {options.duration}s:"
        )
        print(f"  bare       {summary['bare_rps']:9.0f} req/s")
        print(f"  protected  {summary['protected_rps']:9.0f} req/s   ratio {summary['ratio']}x")
        print(
            f"  in process: {summary['verify_hit_us']} us per cached verify, "
            f"{summary['middleware_us']} us of middleware per request"
        )
        print(f"  introspections asked of tokenward during all runs: {introspections}")
        print(json.dumps(summary))
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(10)


if __name__ == "__main__":
    main()
