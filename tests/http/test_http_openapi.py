"""The OpenAPI document tells every answer and every rule (issue 13), and the edges schemathesis
found answer as documented: 405 names every method of the path, out-of-range numbers are 422
(never 500), whole numbers may carry a ``.0``, the event stream checks both of its cursors."""

from __future__ import annotations

from typing import Any

import pytest
from admin_support import admin_key
from starlette.testclient import TestClient

from tokenward.runtime import Runtime
from tokenward.service import CreatedToken
from tokenward.testing import make_user

ERROR_STATUSES = {"400", "401", "429", "431", "503"}  # the middleware's, on every operation


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_operation_documents_its_refusals_with_their_schema(document: dict[str, Any]) -> None:
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert responses.keys() >= ERROR_STATUSES, (path, method)
        oauth = path in ("/v1/introspect", "/v1/revoke")
        for status, response in responses.items():
            if status.startswith("2") or (path, status) in {("/readyz", "503")}:
                continue
            media = "application/json" if oauth else "application/problem+json"
            schema = response["content"][media]["schema"]["$ref"]
            assert schema.endswith("OAuthError" if oauth else "Problem"), (path, method, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_hot_routes_and_the_rules_the_domain_enforces_are_documented(
    document: dict[str, Any],
) -> None:
    events = document["paths"]["/v1/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    form = document["paths"]["/v1/introspect"]["post"]["requestBody"]["content"]
    token = form["application/x-www-form-urlencoded"]["schema"]["properties"]["token"]
    assert token["minLength"] == 1
    schemas = document["components"]["schemas"]
    label = schemas["CreateTokenBody"]["properties"]["label"]
    assert (label["minLength"], label["maxLength"]) == (1, 100)
    password = schemas["NewUserBody"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (12, 1024)
    assert schemas["NewWebhookBody"]["properties"]["url"]["pattern"].startswith("^https?://")
    for path in (
        "/.well-known/oauth-authorization-server",
        "/.well-known/oauth-protected-resource",
    ):
        assert path in document["paths"]
    assert document["paths"]["/v1/tokens"]["get"]["security"] == [{"bearer": []}]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/v1/tokens", "GET, POST"),
        ("TRACE", "/v1/session", "DELETE, GET, POST"),
        ("PATCH", "/v1/tokens/tok_x", "DELETE, GET"),
        ("OPTIONS", "/v1/admin/policy", "GET, PUT"),
    ],
)
def test_a_wrong_method_is_405_naming_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    answer = client.request(method, path)
    assert (answer.status_code, answer.headers["allow"]) == (405, allow)
    assert answer.headers["content-type"] == "application/problem+json"


def test_an_audit_position_past_the_largest_event_number_is_422_not_500(
    client: TestClient, runtime: Runtime
) -> None:
    key = admin_key(runtime, make_user(runtime, "root", is_admin=True))
    headers = {"Authorization": f"Bearer {key.secret}"}
    assert client.get("/v1/admin/audit?after=2147483647", headers=headers).status_code == 200
    for huge in (2**63, 10**30):  # SQLite's integers end at 2**63 - 1: the store never sees it
        answer = client.get(f"/v1/admin/audit?after={huge}", headers=headers)
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "after"


@pytest.mark.parametrize(("days", "status"), [(30.0, 201), (30.5, 422), (True, 422), ("30", 422)])
def test_a_whole_number_may_be_written_with_a_decimal_point(
    client: TestClient, alice_token: CreatedToken, days: object, status: int
) -> None:
    """JSON has one number type; JSON Schema's integer takes 30.0 (nothing else changes)."""
    body = {"label": "ci", "expires_in_days": days}
    headers = {"Authorization": f"Bearer {alice_token.secret}"}
    answer = client.post("/v1/tokens", json=body, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 201:
        assert answer.json()["expires_at"] is not None


@pytest.mark.parametrize(
    ("query", "header"), [("after=1000000000000000000", "0"), ("after=1", ""), ("after=x", None)]
)
def test_the_event_stream_refuses_either_cursor_when_it_is_not_a_position(
    client: TestClient, runtime: Runtime, query: str, header: str | None
) -> None:
    key = admin_key(runtime, make_user(runtime, "root", is_admin=True), "introspect")
    headers = {"Authorization": f"Bearer {key.secret}"}
    if header is not None:
        headers["Last-Event-ID"] = header
    answer = client.get(f"/v1/events?{query}", headers=headers)
    assert answer.status_code == 400
    assert "whole numbers" in answer.json()["detail"]
