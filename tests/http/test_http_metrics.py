"""``GET /metrics`` is not open to anyone (issue 17, point 6): with ``TOKENWARD_METRICS_TOKEN``
the scraper must send that secret as a bearer token; without it only loopback clients are
answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tokenward.domain.tokens import TokenKind, generate
from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.settings import Settings, SettingsError
from tokenward.testing import make_token, make_user

ProblemCheck = Callable[..., dict[str, Any]]
AppOver = Callable[..., tuple[Runtime, TestClient]]
METRICS_TOKEN = "metrics-secret-0123456789-abcdefghijkl"  # a test value, 38 characters
REMOTE = ("203.0.113.9", 40000)


def _from(client: TestClient, address: tuple[str, int]) -> TestClient:
    """The same app, as a client at ``address``."""
    return TestClient(client.app, client=address, raise_server_exceptions=False)


@pytest.mark.parametrize("address", [("127.0.0.1", 1), ("::1", 1), ("127.8.9.10", 1)])
def test_without_a_token_loopback_clients_get_the_metrics(
    client: TestClient, address: tuple[str, int]
) -> None:
    answer = _from(client, address).get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    assert "tokenward_cache_hits_total" in answer.text


@pytest.mark.parametrize("address", [REMOTE, ("10.0.0.5", 1), ("testclient", 50000)])
def test_without_a_token_other_clients_are_refused(
    client: TestClient, problem: ProblemCheck, address: tuple[str, int]
) -> None:
    answer = _from(client, address).get("/metrics")
    body = problem(answer, 403)
    assert "TOKENWARD_METRICS_TOKEN" in body["detail"]
    assert "tokenward_" not in answer.text


def test_with_a_token_the_scraper_sends_it_from_anywhere(app_over: AppOver) -> None:
    _, client = app_over(metrics_token=METRICS_TOKEN)
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    answer = _from(client, REMOTE).get("/metrics", headers=auth)
    assert answer.status_code == 200
    assert "tokenward_store_writes_total" in answer.text


def test_with_a_token_anything_else_is_401_even_from_loopback(
    app_over: AppOver, problem: ProblemCheck
) -> None:
    runtime, client = app_over(metrics_token=METRICS_TOKEN, failed_auth_per_minute=2)
    user_token: CreatedToken = make_token(runtime, make_user(runtime))
    local = _from(client, ("127.0.0.1", 1))
    attempts = [
        {},
        {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
        {"Authorization": f"bearer {METRICS_TOKEN}"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {user_token.secret}"},  # a tokenward token is not it
    ]
    for headers in attempts:
        answer = local.get("/metrics", headers=headers)
        problem(answer, 401)
        assert answer.headers["www-authenticate"] == 'Bearer realm="tokenward-metrics"'
        assert "tokenward_cache" not in answer.text
    # Not counted as failed API credentials (the limit is 2): an unknown token is still 401.
    unknown = {"Authorization": f"Bearer {generate(TokenKind.USER)}"}
    problem(local.get("/v1/self", headers=unknown), 401, error="invalid_token")


def test_metrics_answer_get_only(client: TestClient, problem: ProblemCheck) -> None:
    problem(_from(client, ("127.0.0.1", 1)).post("/metrics"), 405)


@pytest.mark.parametrize("value", ["too-short", METRICS_TOKEN[:20] + " " + METRICS_TOKEN[20:]])
def test_a_weak_or_unsendable_metrics_token_stops_the_start_without_quoting_it(
    value: str,
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"TOKENWARD_METRICS_TOKEN": value})
    assert "TOKENWARD_METRICS_TOKEN" in str(refused.value)
    assert value not in str(refused.value)


def test_the_metrics_token_is_read_and_kept_out_of_repr() -> None:
    settings = Settings.from_env({"TOKENWARD_METRICS_TOKEN": METRICS_TOKEN})
    assert settings.metrics_token == METRICS_TOKEN
    assert METRICS_TOKEN not in repr(settings)
    assert Settings.from_env({}).metrics_token is None
