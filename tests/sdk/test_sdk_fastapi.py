"""``require_token`` / ``optional_token`` in a FastAPI app: an HTTP bearer security scheme in
the app's OpenAPI document, and refusals with the middleware's own problem+json answers (never
FastAPI's ``{"detail": …}``), wherever the middleware sits."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from tokenward.sdk import Caller, TokenwardMiddleware, optional_token, require_token
from tokenward.testing import FakeVerifier

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def _app(verifier: FakeVerifier, *, outside: bool = False) -> Any:
    app = FastAPI()

    @app.get("/mine")
    def mine(caller: Caller = Depends(require_token(scopes=["read"]))) -> dict[str, Any]:  # noqa: B008
        return {"who": caller.username}

    @app.get("/public")
    def public(caller: Caller | None = Depends(optional_token())) -> dict[str, Any]:  # noqa: B008
        return {"who": None if caller is None else caller.username}

    if outside:  # wrapped around the app, not added to it: its handlers are still used
        return app, TokenwardMiddleware(app, verifier)
    app.add_middleware(TokenwardMiddleware, verifier=verifier)
    return app, app


def test_the_openapi_document_declares_the_bearer_scheme_on_both() -> None:
    app, _ = _app(FakeVerifier())
    document = app.openapi()
    assert document["components"]["securitySchemes"]["tokenward"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "tokenward token",
        "description": "A tokenward token: `Authorization: Bearer <token>`",
    }
    assert document["paths"]["/mine"]["get"]["security"] == [{"tokenward": ["read"]}]
    assert document["paths"]["/public"]["get"]["security"] == [{"tokenward": []}]


@pytest.mark.parametrize("outside", [False, True], ids=["add_middleware", "wrapped"])
def test_refusals_are_the_middlewares_problem_answers(outside: bool) -> None:
    verifier = FakeVerifier()
    _, asgi = _app(verifier, outside=outside)
    client = TestClient(asgi)
    anonymous = client.get("/mine")
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'
    assert anonymous.headers["cache-control"] == "no-store"
    assert anonymous.json().keys() >= PROBLEM_KEYS
    assert anonymous.json()["type"] == "/problems/authentication-required"
    writer = verifier.issue("bob", scopes=["write"])
    lacking = client.get("/mine", headers={"Authorization": f"Bearer {writer}"})
    assert lacking.status_code == 403
    assert lacking.headers["content-type"] == "application/problem+json"
    assert (lacking.json()["error"], lacking.json()["scope"]) == ("insufficient_scope", "read")
    assert 'scope="read"' in lacking.headers["www-authenticate"]
    reader = verifier.issue("alice", scopes=["read"])
    assert client.get("/mine", headers={"Authorization": f"Bearer {reader}"}).json() == {
        "who": "alice"
    }
    assert client.get("/public").json() == {"who": None}
