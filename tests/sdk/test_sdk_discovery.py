"""The SDK middlewares serve the protected API's RFC 9728 metadata document, and their
challenges point to it (``resource_metadata``, RFC 9728 §5.1); without metadata nothing changes.
Run with ``tokenward.testing.FakeVerifier``: the middlewares are real, the network is not used."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tokenward.sdk import (
    ProtectedResource,
    TokenwardMiddleware,
    TokenwardWSGIMiddleware,
    caller_of,
)
from tokenward.testing import FakeVerifier

METADATA = ProtectedResource(
    "https://api.example.com/v2/", ("https://tokenward.example.com",), ("read", "write")
)
DOCUMENT_PATH = "/.well-known/oauth-protected-resource/v2"
DOCUMENT_URL = "https://api.example.com" + DOCUMENT_PATH


async def _projects(request: Request) -> JSONResponse:
    caller = caller_of(request.scope)
    return JSONResponse({"who": None if caller is None else caller.username})


def _asgi(verifier: FakeVerifier, metadata: ProtectedResource | None) -> TestClient:
    app = Starlette(routes=[Route("/v2/projects", _projects)])
    app.add_middleware(TokenwardMiddleware, verifier=verifier, metadata=metadata)
    return TestClient(app)


def _wsgi(verifier: FakeVerifier, metadata: ProtectedResource | None) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served"]

    middleware = TokenwardWSGIMiddleware(app, verifier, metadata=metadata)

    def call(
        method: str, path: str, authorization: str | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": ""}
        if authorization is not None:
            environ["HTTP_AUTHORIZATION"] = authorization
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            started.update(status=int(status.split()[0]), headers=dict(headers))

        body = b"".join(middleware(environ, start_response))
        return started["status"], started["headers"], body

    return call


def test_the_document_names_the_resource_its_servers_and_scopes() -> None:
    assert (METADATA.path, METADATA.url) == (DOCUMENT_PATH, DOCUMENT_URL)
    assert METADATA.document() == {
        "resource": "https://api.example.com/v2",
        "authorization_servers": ["https://tokenward.example.com"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["read", "write"],
    }
    with pytest.raises(ValueError, match="query"):
        ProtectedResource("https://api.example.com/?a=1", ("https://tw.example.com",))


def test_the_asgi_middleware_serves_it_and_its_challenges_point_to_it() -> None:
    verifier = FakeVerifier()
    api = _asgi(verifier, METADATA)
    served = api.get(DOCUMENT_PATH, headers={"Authorization": "Bearer not-even-a-token"})
    assert (served.status_code, served.json()) == (200, METADATA.document())
    assert api.post(DOCUMENT_PATH).status_code == 405
    token = verifier.issue("alice", scopes=["read"])
    assert api.get("/v2/projects", headers={"Authorization": f"Bearer {token}"}).json() == {
        "who": "alice"
    }
    verifier.revoke(token)
    refused = api.get("/v2/projects", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="api", error="invalid_token"')
    assert challenge.endswith(f'resource_metadata="{DOCUMENT_URL}"')


def test_without_metadata_the_asgi_middleware_is_as_before() -> None:
    api = _asgi(FakeVerifier(), None)
    assert api.get(DOCUMENT_PATH).status_code == 404  # the app's own answer
    refused = api.get("/v2/projects", headers={"Authorization": "Basic eDp5"})
    assert refused.headers["www-authenticate"] == 'Bearer realm="api"'


def test_the_wsgi_middleware_serves_it_and_its_challenges_point_to_it() -> None:
    verifier = FakeVerifier()
    call = _wsgi(verifier, METADATA)
    status, headers, body = call("GET", DOCUMENT_PATH)
    assert (status, headers["content-type"]) == (200, "application/json")
    assert b'"resource":"https://api.example.com/v2"' in body
    assert call("DELETE", DOCUMENT_PATH)[0] == 405
    status, headers, _ = call("GET", "/v2/projects", "Basic eDp5")
    assert status == 401
    assert headers["www-authenticate"] == f'Bearer realm="api", resource_metadata="{DOCUMENT_URL}"'
    assert _wsgi(verifier, None)("GET", DOCUMENT_PATH)[2] == b"served"
