"""A node that starts following at the end of the log: a verify that read a token before a
revocation the follower skipped cannot put the token back into the cache."""

from __future__ import annotations

import time

from tokenward.domain import tokens as token_format
from tokenward.domain.model import Actor, Principal
from tokenward.testing import make_token, make_user, memory_runtime


def test_a_fill_read_before_the_followers_start_is_dropped_when_a_revocation_was_skipped() -> None:
    runtime = memory_runtime()
    created = make_token(runtime, make_user(runtime))
    digest = token_format.digest(created.secret)
    generation = runtime.cache.generation  # a request on the new node, not fresh yet...
    found = runtime.store.principal_by_digest(digest)  # ...reads the token while it is valid
    assert found is not None and found[0].revoked_at is None
    runtime.tokens.revoke(created.record.id, by=Actor("another-node"), owner_id=None)
    runtime.start()  # the follower's first step starts at the end of the log, past the revocation
    try:
        deadline = time.monotonic() + 5
        while not runtime.cache.is_fresh() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert runtime.cache.is_fresh()
        token, owner = found
        assert not runtime.cache.fill(digest, Principal(owner, token=token), generation)
        assert runtime.cache.get(digest) is None
    finally:
        runtime.close()
