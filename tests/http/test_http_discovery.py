"""OAuth discovery documents of the server: RFC 8414 authorization server metadata and RFC 9728
protected resource metadata, with every field the RFCs require (but ``token_endpoint``:
tokenward mints no OAuth tokens) and endpoints that answer where the documents say."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from tokenward.domain.model import UserRecord
from tokenward.runtime import Runtime
from tokenward.testing import make_token

SERVER = "/.well-known/oauth-authorization-server"
RESOURCE = "/.well-known/oauth-protected-resource"
# RFC 8414 §2: REQUIRED members (token_endpoint left out on purpose, as the README explains;
# authorization_endpoint is required only where a grant uses it, and none does).
RFC_8414_REQUIRED = {"issuer", "response_types_supported"}
RFC_9728_REQUIRED = {"resource"}


def _document(client: TestClient, path: str, **headers: str) -> dict[str, Any]:
    answer = client.get(path, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body: dict[str, Any] = answer.json()
    return body


def test_the_authorization_server_document_lists_what_tokenward_offers(
    client: TestClient,
) -> None:
    document = _document(client, SERVER)
    assert document.keys() >= RFC_8414_REQUIRED
    issuer = document["issuer"]
    assert issuer == "http://testserver"  # from the request when no public URL is set
    assert document == {
        "issuer": issuer,
        "introspection_endpoint": f"{issuer}/v1/introspect",
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint": f"{issuer}/v1/revoke",
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "scopes_supported": ["admin", "introspect", "read", "tokens:read", "tokens:write", "write"],
        "response_types_supported": [],
        "grant_types_supported": [],
        "service_documentation": f"{issuer}/openapi.json",
    }
    assert "token_endpoint" not in document


def test_the_documents_endpoints_answer_where_they_say(
    client: TestClient, runtime: Runtime, alice: UserRecord
) -> None:
    document = _document(client, SERVER)
    token = make_token(runtime, alice).secret
    for member in ("introspection_endpoint", "revocation_endpoint", "service_documentation"):
        assert urlsplit(document[member]).netloc == "testserver"
    revoke = client.post(urlsplit(document["revocation_endpoint"]).path, data={"token": token})
    assert revoke.status_code == 200
    assert client.get(urlsplit(document["service_documentation"]).path).status_code == 200
    assert client.get("/v1/self", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_the_protected_resource_document_describes_tokenwards_own_api(client: TestClient) -> None:
    document = _document(client, RESOURCE)
    assert document.keys() >= RFC_9728_REQUIRED
    assert document == {
        "resource": "http://testserver",
        "authorization_servers": ["http://testserver"],
        "bearer_methods_supported": ["header"],
        "scopes_supported": ["admin", "introspect", "tokens:read", "tokens:write"],
    }


def test_the_issuer_follows_the_host_the_request_was_made_to(client: TestClient) -> None:
    """RFC 8414 §3.3: the issuer is the URL the document was fetched under."""
    assert _document(client, SERVER, host="auth.example.com:8443")["issuer"] == (
        "http://auth.example.com:8443"
    )


class TestWithAPublicUrl:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"public_url": "https://tokenward.example.com"}

    def test_it_is_the_issuer_whatever_the_host(self, client: TestClient) -> None:
        for path in (SERVER, RESOURCE):
            document = _document(client, path, host="evil.example")
            issuer = document.get("issuer", document.get("resource"))
            assert issuer == "https://tokenward.example.com"
            assert "evil" not in str(document)


def test_only_get_reads_a_document_and_a_bad_credential_is_still_401(client: TestClient) -> None:
    assert client.post(SERVER).status_code == 405
    answer = client.get(SERVER, headers={"Authorization": "Bearer twu_nope"})
    assert answer.status_code == 401  # P2: a presented credential that is not valid
