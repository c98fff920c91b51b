"""A cache miss on the server answers with the object the cache now holds: the hot path
renders one principal per token (its memo is keyed by the object), and the record just read
from the store is not kept alive beside the cached one."""

from __future__ import annotations

import asyncio

from tokenward.runtime import Runtime
from tokenward.testing import make_token, make_user


def test_a_miss_answers_with_the_object_every_hit_will_get(runtime: Runtime) -> None:
    secret = make_token(runtime, make_user(runtime)).secret
    runtime.cache.apply([], runtime.cache.monotonic())  # fresh: fills are taken
    hits = runtime.cache.hits
    missed = asyncio.run(runtime.authenticator.verify(secret))
    assert runtime.cache.hits == hits
    hit = asyncio.run(runtime.authenticator.verify(secret))
    assert runtime.cache.hits == hits + 1
    assert hit is missed


def test_a_refused_fill_still_answers_with_what_was_read(runtime: Runtime) -> None:
    secret = make_token(runtime, make_user(runtime)).secret  # the cache was never confirmed
    first = asyncio.run(runtime.authenticator.verify(secret))
    second = asyncio.run(runtime.authenticator.verify(secret))
    assert first == second and first is not second  # each a read of its own
    assert first.token is not None and len(runtime.cache) == 0
