"""The answers every operation of the OpenAPI document can give besides its own: what the
authentication middleware refuses before any route runs, what the routes' shared rules refuse,
all as RFC 9457 problems (the OAuth endpoints: RFC 6749 §5.2 JSON), with their schemas.

FastAPI documents a route's success and its validation errors; this module adds the rest, so
that a schema-driven client (or schemathesis) meets no undocumented status or content type.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OAUTH_ERROR", "PROBLEM", "complete", "oauth_error", "problem"]

_STRING = {"type": "string"}
PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; RFC 6750 errors add error (and scope)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": _STRING,
        "title": _STRING,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": _STRING,
        "error": _STRING,
        "scope": _STRING,
        "errors": {
            "type": "array",
            "description": "Every field that breaks a rule (422)",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": _STRING, "message": _STRING},
            },
        },
    },
}
OAUTH_ERROR = {
    "type": "object",
    "description": "RFC 6749 §5.2 error, with the problem's members beside",
    "required": ["error", "error_description"],
    "properties": {"error": _STRING, "error_description": _STRING, **PROBLEM["properties"]},
}
_REF = {"Problem": "#/components/schemas/Problem", "OAuthError": "#/components/schemas/OAuthError"}
_HEADERS = {
    401: {"WWW-Authenticate": "The RFC 6750 (or, for OAuth clients, Basic) challenge"},
    405: {"Allow": "The methods the path takes"},
    429: {"Retry-After": "Seconds to wait"},
    503: {"Retry-After": "Seconds to wait"},
}
_WHY = {
    400: "A malformed credential (RFC 6750 invalid_request) or an unreadable body",
    401: "No credential where one is needed, or one that is not valid (never anonymous)",
    403: "Valid, but lacking a scope or a right (or a session request without its CSRF token)",
    404: "No such resource, or not the caller's to see",
    405: "Another method than the path takes",
    409: "Clashes with the current state",
    422: "A value breaks a rule; every such field is named",
    429: "Too many failures from this address; retry after the given seconds",
    431: "A header, or all of them, too large",
    503: "Validity cannot be proven right now (fail closed); retry shortly",
}
# What the authentication middleware may answer to any request that presents a credential.
_EVERYWHERE = (400, 401, 429, 431, 503)
_UNSAFE = {"post", "put", "patch", "delete"}


def problem(status: int, description: str | None = None) -> dict[str, Any]:
    """A problem+json response for ``status``, with its headers."""
    return _response(status, "application/problem+json", _REF["Problem"], description)


def oauth_error(status: int, description: str | None = None) -> dict[str, Any]:
    """An RFC 6749 error response for ``status`` (the OAuth endpoints)."""
    return _response(status, "application/json", _REF["OAuthError"], description)


def _response(status: int, media: str, ref: str, description: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "description": description or _WHY[status],
        "content": {media: {"schema": {"$ref": ref}}},
    }
    if status in _HEADERS:
        found["headers"] = {
            name: {"description": text, "schema": _STRING}
            for name, text in _HEADERS[status].items()
        }
    return found


def complete(schema: dict[str, Any], oauth_paths: frozenset[str]) -> dict[str, Any]:
    """``schema`` with every operation's other answers and the shared components; the
    operations at ``oauth_paths`` answer errors in the RFC 6749 format."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update({"Problem": PROBLEM, "OAuthError": OAUTH_ERROR})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)  # FastAPI's 422 shape: ours is a problem
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            render = oauth_error if path in oauth_paths else problem
            _complete_operation(path, method, operation, render)
    return schema


def _complete_operation(path: str, method: str, operation: dict[str, Any], render: Any) -> None:
    responses = operation.setdefault("responses", {})
    if "422" in responses:
        responses["422"] = render(422)
    for status in _statuses(path, method, operation):
        responses.setdefault(str(status), render(status))


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    statuses = list(_EVERYWHERE)
    if path.startswith("/v1/"):
        statuses.append(403)
        if method in _UNSAFE:
            statuses.append(409)
    if "{" in path or path.startswith("/v1/admin/webhooks") or path == "/v1/admin/tokens":
        # Webhooks need an SQL store (without one, none exist); tokens filter by a user.
        statuses.append(404)
    if "requestBody" in operation or operation.get("parameters"):
        statuses.append(422)
    return statuses
