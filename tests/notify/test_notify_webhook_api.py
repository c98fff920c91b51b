"""``/v1/admin/webhooks``: add (secret shown once), list (no secrets), delete, the delivery log;
bad input is a 422 naming the field and stores nothing; a receiver that fails three times gets
the event on a retry, signed correctly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from notify_support import (
    WebhookReceiver,
    admin_key,
    bearer,
    node,
    notifier_of,
    token,
    user_with_email,
)
from starlette.testclient import TestClient

from tokenward.http.app import create_app
from tokenward.runtime import Runtime
from tokenward.sdk import verify_signature
from tokenward.store.base import EventQuery
from tokenward.testing import FakeClock


@pytest.fixture
def rt(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    built = node(database_url, clock)
    yield built
    built.close()


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def headers(rt: Runtime) -> dict[str, str]:
    return bearer(admin_key(rt, user_with_email(rt, "root", is_admin=True)).secret)


def _events(rt: Runtime, type: str) -> list[Any]:
    with rt.store.transaction() as tx:
        return tx.events.query(EventQuery(0, 1000, type))


def test_an_admin_adds_lists_and_deletes_a_webhook_and_the_secret_is_shown_once(
    rt: Runtime, web: TestClient, headers: dict[str, str]
) -> None:
    body = {"url": "https://hooks.example.org/tw?key=abc", "events": ["token.expiring"]}
    created = web.post("/v1/admin/webhooks", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    view = created.json()
    assert view["secret"].startswith("whsec_") and len(view["secret"]) > 40
    listed = web.get("/v1/admin/webhooks", headers=headers).json()["items"]
    assert [item["id"] for item in listed] == [view["id"]]
    assert "secret" not in listed[0] and listed[0]["events"] == ["token.expiring"]
    [audited] = _events(rt, "webhook.created")
    assert audited.details == {"host": "hooks.example.org", "events": ["token.expiring"]}
    assert view["secret"] not in str(audited) and "key=abc" not in str(audited)
    assert web.delete(f"/v1/admin/webhooks/{view['id']}", headers=headers).status_code == 204
    assert web.get("/v1/admin/webhooks", headers=headers).json()["items"] == []
    assert web.delete(f"/v1/admin/webhooks/{view['id']}", headers=headers).status_code == 404
    assert len(_events(rt, "webhook.deleted")) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/x", "events": ["token.expired"]}, "url"),
        ({"url": "https:///no-host", "events": ["token.expired"]}, "url"),
        ({"url": "example.org/hook", "events": ["token.expired"]}, "url"),
        ({"url": "https://exa mple.org/", "events": ["token.expired"]}, "url"),
        ({"url": "https://example.org:99999/", "events": ["token.expired"]}, "url"),
        ({"url": "https://example.org/" + "a" * 2100, "events": ["token.expired"]}, "url"),
        ({"url": "https://example.org/", "events": ["token.exploded"]}, "events"),
        ({"url": "https://example.org/", "events": []}, "events"),
        ({"url": "https://example.org/", "events": "token.expired"}, "events"),
        ({"url": 7, "events": ["token.expired"]}, "url"),
        ({"events": ["token.expired"]}, "url"),
    ],
)
def test_bad_webhook_input_is_422_naming_the_field_and_stores_nothing(
    rt: Runtime, web: TestClient, headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = web.post("/v1/admin/webhooks", json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]]
    assert web.get("/v1/admin/webhooks", headers=headers).json()["items"] == []
    assert _events(rt, "webhook.created") == []


def test_webhook_endpoints_refuse_non_admins(rt: Runtime, web: TestClient) -> None:
    alice = user_with_email(rt, "alice")
    user_token = bearer(token(rt, alice, "laptop", 30).secret)
    body = {"url": "https://example.org/", "events": ["token.expired"]}
    assert web.post("/v1/admin/webhooks", json=body, headers=user_token).status_code == 403
    assert web.get("/v1/admin/webhooks", headers=user_token).status_code == 403
    assert web.get("/v1/admin/webhooks").status_code == 401
    assert _events(rt, "admin.denied")


def test_a_receiver_failing_three_times_gets_the_event_on_a_retry_signed_correctly(
    rt: Runtime, web: TestClient, headers: dict[str, str], clock: FakeClock
) -> None:
    with WebhookReceiver(fail_first=3) as receiver:
        body = {"url": receiver.url, "events": ["token.created", "token.expiring"]}
        hook = web.post("/v1/admin/webhooks", json=body, headers=headers).json()
        made = token(rt, user_with_email(rt, "alice"), "laptop", 30)
        for _ in range(6):
            notifier_of(rt).tick()
            clock.advance(seconds=30)  # past any backoff of the first attempts
        assert len(receiver.received) == 4  # three 503s, then delivered: no more
        log = web.get(f"/v1/admin/webhooks/{hook['id']}/deliveries", headers=headers).json()
    [entry] = log["items"]
    assert entry["event_type"] == "token.created" and entry["status"] == "delivered"
    assert entry["attempts"] == 4 and entry["last_status_code"] == 204
    assert entry["delivered_at"] is not None and entry["next_attempt_at"] is None
    last = receiver.received[-1]
    assert {r.body for r in receiver.received} == {last.body}  # every retry: the same bytes
    assert {r.headers["Tokenward-Delivery"] for r in receiver.received} == {entry["id"]}
    signature = last.headers["Tokenward-Signature"]
    at = clock.now().timestamp()
    assert verify_signature(hook["secret"], signature, last.body, now=at)
    sent = orjson.loads(last.body)
    assert sent["type"] == "token.created" and sent["data"]["token_id"] == made.record.id
    assert sent["id"] == f"evt_{entry['event_seq']}" and "digests" not in sent["data"]
    assert made.secret not in last.body.decode()


def test_a_dead_receiver_is_given_up_after_the_last_attempt(
    rt: Runtime, web: TestClient, headers: dict[str, str], clock: FakeClock
) -> None:
    with WebhookReceiver(fail_first=100) as receiver:
        body = {"url": receiver.url, "events": ["token.created"]}
        hook = web.post("/v1/admin/webhooks", json=body, headers=headers).json()
        token(rt, user_with_email(rt, "alice"), "laptop", 30)
        for _ in range(12):
            notifier_of(rt).tick()
            clock.advance(hours=2)  # past the backoff cap of every attempt
        [entry] = web.get(f"/v1/admin/webhooks/{hook['id']}/deliveries", headers=headers).json()[
            "items"
        ]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("failed", 8, 503)
    assert len(receiver.received) == 8


def test_a_webhook_receives_only_events_after_it_was_added_and_a_restart_resends_nothing(
    rt: Runtime, web: TestClient, headers: dict[str, str], clock: FakeClock, database_url: str
) -> None:
    alice = user_with_email(rt, "alice")
    token(rt, alice, "before", 30)
    with WebhookReceiver() as receiver:
        body = {"url": receiver.url, "events": ["token.created"]}
        web.post("/v1/admin/webhooks", json=body, headers=headers)
        token(rt, alice, "after", 30)
        notifier_of(rt).tick()
        restarted = node(database_url, clock)
        clock.advance(minutes=5)
        assert notifier_of(restarted).tick().leader
        restarted.close()
    assert [orjson.loads(r.body)["data"]["label"] for r in receiver.received] == ["after"]
