"""/readyz, /metrics and the cache on the hot path, with the follower really running."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.settings import Settings
from tokenward.testing import make_token, make_user


def _until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < limit, "condition not met in time"
        time.sleep(0.005)


def test_not_ready_until_propagation_runs_then_ready(runtime: Runtime) -> None:
    app = create_app(runtime)
    answer = TestClient(app).get("/readyz")  # no lifespan: the follower has not started
    assert answer.status_code == 503
    assert answer.json()["reason"] == "propagation not started"
    with TestClient(app) as client:
        _until(runtime.cache.is_fresh)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["status"] == "ready" and ready.json()["lag_ms"] < 1000


def test_a_node_that_stops_confirming_is_not_ready_with_the_reason(runtime: Runtime) -> None:
    with TestClient(create_app(runtime)) as client:
        _until(runtime.cache.is_fresh)
        runtime.follower.stop()
        _until(lambda: not runtime.cache.is_fresh(), limit=3)
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["reason"].startswith("propagation stale: last confirmed")
        assert answer.json()["lag_ms"] >= 1000


def test_an_unreachable_store_is_not_ready(tmp_path: Path) -> None:
    broken = Runtime.build(Settings(database_url=f"sqlite:///{tmp_path / 'no' / 'x.db'}"))
    answer = TestClient(create_app(broken)).get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["reason"].startswith("store unreachable")


def test_a_second_use_is_answered_from_the_cache_without_a_store_lookup(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_user(runtime)
    created = make_token(runtime, owner)
    auth = {"Authorization": f"Bearer {created.secret}"}
    # From loopback: /metrics answers local clients when no metrics token is set.
    with TestClient(create_app(runtime), client=("127.0.0.1", 50000)) as client:
        _until(lambda: runtime.cache.applied_seq >= runtime.store.max_seq())
        _until(runtime.cache.is_fresh)
        assert client.get("/v1/self", headers=auth).status_code == 200
        lookups: list[str] = []
        real = runtime.store.principal_by_digest

        def counted(digest: str) -> Any:
            lookups.append(digest)
            return real(digest)

        monkeypatch.setattr(runtime.store, "principal_by_digest", counted)
        second = client.get("/v1/self", headers=auth)
        assert second.status_code == 200
        assert second.headers["tokenward-token-expires"] == second.json()["expires_at"]
        assert lookups == []
        metrics = client.get("/metrics").text
    assert "tokenward_cache_hits_total 1" in metrics
    assert "tokenward_cache_entries 1" in metrics
    assert "tokenward_propagation_fresh 1" in metrics
    assert "\ntokenward_propagation_lag_seconds 0." in metrics


def test_a_revoke_with_wait_answers_once_the_live_nodes_applied_it(runtime: Runtime) -> None:
    owner = make_user(runtime)
    created = make_token(runtime, owner)
    auth = {"Authorization": f"Bearer {created.secret}"}
    with TestClient(create_app(runtime)) as client:
        _until(lambda: len(runtime.receipts.live_nodes()) == 1)
        answer = client.delete(f"/v1/tokens/{created.record.id}?wait=true", headers=auth)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["confirmed_by"] == [runtime.receipts.node_id]
        assert body["pending"] == []
        assert client.get("/v1/self", headers=auth).status_code == 401
        plain = client.delete(f"/v1/tokens/{created.record.id}", headers=auth)
    assert plain.status_code == 401  # the token revoked itself: it cannot act any more
