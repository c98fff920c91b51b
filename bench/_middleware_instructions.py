"""Instructions per request of the middleware bench's app, bare and protected, counted by
valgrind: repeatable on a busy machine, where requests/s are not.

One process serves N keep-alive requests through uvicorn's own h11 protocol over a transport
that drops the output (no sockets, no wrk), the same app and request as the HTTP bench. It runs
under ``valgrind --tool=callgrind`` for N = ``BASE`` and N = ``BASE + requests``; the
difference over ``requests`` is the cost of one request, start-up cancelled out. No tokenward
server: the verifier's cache is fed as its event stream would feed it (fresh, one token), so
every protected request is a cache hit.

    .venv/bin/python bench/middleware.py --instructions
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
BASE = 100
VARIANTS = ("bare", "protected", "bare-anonymous", "protected-anonymous")
_COLLECTED = re.compile(r"Collected : (\d+)")


class _Dropping(asyncio.Transport):
    """Keeps the last response head written, drops the rest."""

    head = b""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def write(self, data: Any) -> None:
        if data.startswith(b"HTTP/"):
            self.head = bytes(data)

    def is_closing(self) -> bool:
        return False


def _app(variant: str) -> tuple[Any, bytes]:
    """The bench app and the header value wrk would send."""
    from tokenward.domain import tokens as token_format
    from tokenward.sdk import Caller

    token = token_format.generate(token_format.TokenKind.USER)
    os.environ |= {"TOKENWARD_URL": "http://127.0.0.1:9", "TOKENWARD_KEY": "twa_unused"}
    os.environ["BENCH_PROTECT"] = "1" if variant.startswith("protected") else "0"
    sys.path.insert(0, str(HERE))
    import middleware_app

    if variant.startswith("protected"):
        cache = middleware_app.verifier.cache
        cache.apply([], time.monotonic() + 3600)  # fresh for the whole run, no stream needed
        # Nor started: its thread would retry a connection to nowhere during the count.
        middleware_app.verifier.start = lambda: None
        expires = datetime.now(UTC) + timedelta(days=30)
        admin = Caller("tok_bench", "usr_admin", "admin", frozenset(), expires)
        cache.fill(token_format.digest(token), admin, cache.generation)
    return middleware_app.app, f"Bearer {token}".encode()


async def _serve(app: Any, request: bytes, count: int) -> bytes:
    from uvicorn.config import Config
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    config = Config(app=app, lifespan="off", access_log=False, http="h11")
    config.load()
    protocol = H11Protocol(config, ServerState(), {})
    transport = _Dropping()
    protocol.connection_made(transport)
    for _ in range(count):
        protocol.data_received(request)
        while not protocol.cycle.response_complete:
            await asyncio.sleep(0)
        await asyncio.sleep(0)
    return transport.head


def drive(variant: str, count: int) -> None:
    """Serve ``count`` requests of ``variant`` (run under valgrind by :func:`measure`)."""
    app, authorization = _app(variant)
    request = b"GET /projects HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    if not variant.endswith("anonymous"):
        request += b"Authorization: " + authorization + b"\r\n"
    head = asyncio.run(_serve(app, request + b"\r\n", count))
    protected = variant == "protected"
    if not head.startswith(b"HTTP/1.1 200") or protected != (b"tokenward-token-expires" in head):
        raise SystemExit(f"bench: unexpected answer for {variant}: {head!r}")


def _instructions(variant: str, count: int) -> int:
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(HERE / "middleware.py"),
            "--drive",
            variant,
            str(count),
        ],
        env=os.environ | {"PYTHONHASHSEED": "0"},  # the same dict layouts in every run
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise SystemExit(f"bench: no instruction count from valgrind:\n{done.stderr}")
    return int(found.group(1))


def measure(requests: int) -> dict[str, int]:
    """Instructions per request of each variant (two valgrind runs at a time)."""
    runs = [(variant, count) for variant in VARIANTS for count in (BASE, BASE + requests)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        counts = dict(zip(runs, pool.map(lambda run: _instructions(*run), runs), strict=True))
    return {
        variant: (counts[variant, BASE + requests] - counts[variant, BASE]) // requests
        for variant in VARIANTS
    }
