"""The OpenAPI document: FastAPI's, plus the plain Starlette routes of the hot path, by hand,
so that schema-driven tests cover them too."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install"]

_PROBLEM = {
    "description": "Problem details (RFC 9457)",
    "content": {"application/problem+json": {}},
}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _json(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {}}}


_FORWARD_AUTH: dict[str, Any] = {
    "summary": "For gateways (nginx auth_request, Caddy forward_auth, Traefik forwardAuth): "
    "is the client's Authorization header good enough for this location? Any method; the body "
    "is never read. Policy from the gateway: Tokenward-Require-Scope (space-separated, all "
    "needed), Tokenward-Require-Token: true",
    "security": [{}, *_BEARER],
    "parameters": [
        {"name": "Tokenward-Require-Scope", "in": "header", "schema": {"type": "string"}},
        {
            "name": "Tokenward-Require-Token",
            "in": "header",
            "schema": {"type": "string", "enum": ["true", "false"]},
        },
    ],
    "responses": {
        "200": {
            "description": "Allowed. With a token: Tokenward-User, Tokenward-User-Id, "
            "Tokenward-Token-Id, Tokenward-Scopes, Tokenward-Token-Expires; anonymous: none",
            "headers": {
                name: {"schema": {"type": "string"}}
                for name in (
                    "Tokenward-User",
                    "Tokenward-User-Id",
                    "Tokenward-Token-Id",
                    "Tokenward-Scopes",
                    "Tokenward-Token-Expires",
                )
            },
        },
        "400": _PROBLEM,
        "401": _PROBLEM,
        "403": _PROBLEM,
        "429": _PROBLEM,
        "431": _PROBLEM,
        "503": _PROBLEM,
    },
}

_PLAIN_ROUTES: dict[str, dict[str, Any]] = {
    "/v1/self": {
        "get": {
            "summary": "The presented token's own metadata: is it valid, and what is it?",
            "security": _BEARER,
            "responses": {"200": _json("The token is valid"), "400": _PROBLEM, "401": _PROBLEM},
        }
    },
    "/v1/policy": {
        "get": {
            "summary": "The lifetime policy. Anonymous callers allowed.",
            "security": [{}, *_BEARER],
            "responses": {"200": _json("The policy"), "401": _PROBLEM},
        }
    },
    "/v1/introspect": {
        "post": {
            "summary": "RFC 7662 token introspection (scope introspect)",
            "security": _BEARER,
            "requestBody": {"content": {"application/x-www-form-urlencoded": {}}},
            "responses": {
                "200": _json("{active: true, …} or {active: false}"),
                "400": _json("RFC 6749 error"),
                "401": _PROBLEM,
                "403": _PROBLEM,
            },
        }
    },
    "/v1/revoke": {
        "post": {
            "summary": "RFC 7009 revocation: possession of the token suffices",
            "requestBody": {"content": {"application/x-www-form-urlencoded": {}}},
            "responses": {
                "200": {"description": "Revoked, or nothing to revoke"},
                "400": _json("RFC 6749 error"),
            },
        }
    },
    "/v1/forward-auth": {
        method: _FORWARD_AUTH for method in ("get", "head", "post", "put", "patch", "delete")
    },
    "/healthz": {"get": {"summary": "The process is up", "responses": {"200": _json("Up")}}},
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics: propagation lag, watermark, cache use. With "
            "TOKENWARD_METRICS_TOKEN: that secret as a bearer token; without: loopback only",
            "responses": {
                "200": {"description": "Prometheus text format"},
                "401": _PROBLEM,
                "403": _PROBLEM,
            },
        }
    },
    "/readyz": {
        "get": {
            "summary": "The store is reachable",
            "responses": {"200": _json("Ready"), "503": _json("Not ready, with the reason")},
        }
    },
}


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the full document."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema["paths"] = {**_PLAIN_ROUTES, **schema.get("paths", {})}
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {})["bearer"] = {
                "type": "http",
                "scheme": "bearer",
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
