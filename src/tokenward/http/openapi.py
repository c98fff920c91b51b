"""The OpenAPI document: FastAPI's, plus the plain Starlette routes of the hot path, by hand,
so that schema-driven tests cover them too; then every operation's other answers
(:mod:`tokenward.http.openapi_answers`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tokenward.domain.discovery import AUTHORIZATION_SERVER_PATH, PROTECTED_RESOURCE_PATH
from tokenward.domain.model import EMAIL_MAX, EMAIL_PATTERN, LABEL_MAX, WHITE_SPACE
from tokenward.domain.policy import ABSOLUTE_MAX_DAYS
from tokenward.domain.scopes import SCOPE_NAME
from tokenward.domain.tokens import TokenKind
from tokenward.http.oauth import MAX_BODY, MAX_FIELDS
from tokenward.http.oauth import PATHS as OAUTH_PATHS
from tokenward.http.openapi_answers import complete, oauth_error, problem
from tokenward.notify.events import NOTIFY_TYPES
from tokenward.passwords import MAX_LENGTH as PASSWORD_MAX
from tokenward.passwords import MIN_LENGTH as PASSWORD_MIN
from tokenward.runtime import Runtime
from tokenward.service.webhooks import URL_MAX

__all__ = ["install"]

_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
# The OAuth endpoints' callers: a Bearer header, or client credentials (RFC 6749 §2.3.1) in a
# Basic header or in the form (client_id, client_secret: the admin key's id and the key).
_OAUTH_CLIENT: list[dict[str, list[str]]] = [{"bearer": []}, {"client_secret_basic": []}]
_STRING = {"type": "string"}
_URL = {"type": "string", "format": "uri"}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema or {}}}}


def _form(required: bool) -> dict[str, Any]:
    """RFC 7662 §2.1 / RFC 7009 §2.1 forms; unknown parameters are ignored (up to the cap)."""
    properties = {"token": {"type": "string", "minLength": 1}, "token_type_hint": _STRING}
    schema = {
        "type": "object",
        "description": f"At most {MAX_BODY} bytes, {MAX_FIELDS} fields. client_secret_post: "
        "client_id and client_secret here (the admin key's id and the key), and then no "
        "Authorization header (one client authentication method a request).",
        "required": ["token"],
        "properties": properties,
    }
    content = {"application/x-www-form-urlencoded": {"schema": schema}}
    return {"required": required, "content": content}


_INTROSPECTION = {
    "type": "object",
    "required": ["active"],
    "properties": {
        "active": {"type": "boolean"},
        "scope": _STRING,
        "client_id": _STRING,
        "username": _STRING,
        "sub": _STRING,
        "token_type": _STRING,
        "exp": {"type": "integer"},
        "iat": {"type": "integer"},
        "tokenward_id": _STRING,
    },
}
_SSE_EVENT = {
    "type": "object",
    "description": "One event; data is JSON: {seq, type, token_ids, digests, user_id, at}",
    "required": ["event", "data"],
    "properties": {"id": _STRING, "event": _STRING, "data": _STRING},
}
_SERVER_METADATA = {
    "type": "object",
    "required": ["issuer", "response_types_supported"],
    "properties": {
        "issuer": _URL,
        "introspection_endpoint": _URL,
        "introspection_endpoint_auth_methods_supported": {"type": "array", "items": _STRING},
        "revocation_endpoint": _URL,
        "revocation_endpoint_auth_methods_supported": {"type": "array", "items": _STRING},
        "scopes_supported": {"type": "array", "items": _STRING},
        "response_types_supported": {"type": "array", "items": _STRING, "maxItems": 0},
        "grant_types_supported": {"type": "array", "items": _STRING, "maxItems": 0},
        "service_documentation": _URL,
    },
}
_RESOURCE_METADATA = {
    "type": "object",
    "required": ["resource"],
    "properties": {
        "resource": _URL,
        "authorization_servers": {"type": "array", "items": _URL},
        "bearer_methods_supported": {"type": "array", "items": _STRING},
        "scopes_supported": {"type": "array", "items": _STRING},
    },
}


_FORWARD_AUTH: dict[str, Any] = {
    "summary": "For gateways (nginx auth_request, Caddy forward_auth, Traefik forwardAuth): "
    "is the client's Authorization header good enough for this location? Any method; the body "
    "is never read. Policy from the gateway: Tokenward-Require-Scope (space-separated, all "
    "needed), Tokenward-Require-Token: true",
    "security": [{}, *_BEARER],
    "parameters": [
        {
            "name": "Tokenward-Require-Scope",
            "in": "header",
            "schema": {"type": "string", "pattern": f"^ *({SCOPE_NAME}( +{SCOPE_NAME})*)? *$"},
        },
        {
            "name": "Tokenward-Require-Token",
            "in": "header",
            # Any case, blank around it; empty means false (tokenward.http.forward_auth).
            "schema": {
                "type": "string",
                "pattern": "^[ \\t]*(|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])[ \\t]*$",
            },
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
        "400": problem(400, "A malformed credential or policy header"),
        "401": problem(401, "No valid credential where one is needed (the challenge of /v1/self)"),
        "403": problem(403, "A required scope is missing"),
        "429": problem(429, "Too many failed credentials from this client"),
        "431": problem(431, "Headers too large"),
        "503": problem(503, "Validity cannot be proven"),
    },
}

_PLAIN_ROUTES: dict[str, dict[str, Any]] = {
    "/v1/self": {
        "get": {
            "summary": "The presented token's own metadata: is it valid, and what is it?",
            "security": _BEARER,
            "responses": {"200": _json("The token is valid"), "405": problem(405)},
        }
    },
    "/v1/policy": {
        "get": {
            "summary": "The lifetime policy. Anonymous callers allowed.",
            "security": [{}, *_BEARER],
            "responses": {"200": _json("The policy")},
        }
    },
    "/v1/introspect": {
        "post": {
            "summary": "RFC 7662 token introspection (scope introspect)",
            "description": "The caller: an admin key with scope introspect, as a Bearer header "
            "or as OAuth client credentials (client_secret_basic, or client_id and "
            "client_secret in the form: the key's id and the key). Errors are RFC 6749 JSON.",
            "security": _OAUTH_CLIENT,
            "requestBody": _form(required=True),
            "responses": {
                "200": _json(
                    "{active: true, …} or {active: false} and nothing more", _INTROSPECTION
                ),
                "401": oauth_error(401, "No client authentication, or a failed one"),
                "403": oauth_error(403, "The caller lacks scope introspect"),
                "405": oauth_error(405),
            },
        }
    },
    "/v1/revoke": {
        "post": {
            "summary": "RFC 7009 revocation: possession of the token suffices",
            "description": "Client credentials are optional (auth method none); credentials "
            "that are sent must be right, or nothing changes (401 invalid_client).",
            "security": [{}, *_OAUTH_CLIENT],
            "requestBody": _form(required=True),
            "responses": {
                "200": {"description": "Revoked, or nothing to revoke (RFC 7009 §2.2)"},
                "401": oauth_error(401, "Client credentials that are not right"),
                "405": oauth_error(405),
            },
        }
    },
    "/v1/forward-auth": {
        method: _FORWARD_AUTH
        for method in ("get", "head", "post", "put", "patch", "delete", "options", "trace")
    },
    "/v1/events": {
        "get": {
            "summary": "Revocation events for resource-server caches (scope introspect)",
            "security": _BEARER,
            "parameters": [
                {
                    "name": "after",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "maximum": 10**18 - 1},
                },
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "description": "Reconnecting: the id of the last event received (wins "
                    "over after)",
                    "schema": {"type": "string", "pattern": "^ *[0-9]{1,18} *$"},
                },
            ],
            "responses": {
                "200": {
                    "description": "Server-Sent Events: id (seq), event (type), data (JSON); "
                    "a heartbeat every max_staleness / 4 while the node is fresh; a last "
                    "'resume' event when the client reads too slowly (reconnect with "
                    "Last-Event-ID)",
                    "content": {"text/event-stream": {"schema": _SSE_EVENT}},
                },
                "405": problem(405),
                "429": problem(429, "This credential holds TOKENWARD_EVENTS_PER_KEY streams"),
            },
        }
    },
    AUTHORIZATION_SERVER_PATH: {
        "get": {
            "summary": "RFC 8414 authorization server metadata (no token endpoint: tokenward "
            "mints no OAuth tokens)",
            "security": [{}],
            "responses": {"200": _json("The metadata", _SERVER_METADATA)},
        }
    },
    PROTECTED_RESOURCE_PATH: {
        "get": {
            "summary": "RFC 9728 protected resource metadata of tokenward's own API",
            "security": [{}],
            "responses": {"200": _json("The metadata", _RESOURCE_METADATA)},
        }
    },
    "/healthz": {"get": {"summary": "The process is up", "responses": {"200": _json("Up")}}},
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics: propagation lag, watermark, cache use. With "
            "TOKENWARD_METRICS_TOKEN: that secret as a bearer token; without: loopback only",
            "responses": {
                "200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": _STRING}},
                },
                "401": problem(401, "TOKENWARD_METRICS_TOKEN is set: send it"),
                "403": problem(403, "Not a loopback client, and no metrics token is set"),
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


_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A tokenward token or admin key. (The web UI's session cookie works too.)",
    },
    "client_secret_basic": {
        "type": "http",
        "scheme": "basic",
        "description": "OAuth client credentials: the admin key's id (tok_…) and the key",
    },
}


# Labels: 1-100 characters, not all blank, no control or bidirectional-override characters.
_NOT_IN_LABELS = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_LABEL = {
    "minLength": 1,
    "maxLength": LABEL_MAX,
    "pattern": rf"^[^{_NOT_IN_LABELS}]*[^{WHITE_SPACE}{_NOT_IN_LABELS}][^{_NOT_IN_LABELS}]*$",
}
_DAYS_RANGE = {"type": "integer", "minimum": 1, "maximum": ABSOLUTE_MAX_DAYS}
_POLICY = {
    "type": "object",
    "description": "Each default_days at most its max_days; reminder days distinct.",
    "required": ["user_token", "admin_key", "reminder_days"],
    "additionalProperties": False,
    "properties": {
        "user_token": {
            "type": "object",
            "required": ["default_days", "max_days"],
            "additionalProperties": False,
            "properties": {
                "default_days": _DAYS_RANGE,
                "max_days": _DAYS_RANGE,
                "allow_no_expiry": {"type": "boolean"},
            },
        },
        "admin_key": {
            "type": "object",
            "required": ["default_days", "max_days"],
            "additionalProperties": False,
            "properties": {"default_days": _DAYS_RANGE, "max_days": _DAYS_RANGE},
        },
        "reminder_days": {"type": "array", "items": _DAYS_RANGE, "uniqueItems": True},
        "revoke_family_on_reuse": {"type": "boolean"},
    },
}
_NEW_PASSWORD = {"minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX}
_DAYS = {"minimum": 1, "maximum": ABSOLUTE_MAX_DAYS}


def _constrain(schemas: dict[str, Any], runtime: Runtime) -> None:
    """The rules the domain enforces on request bodies, declared where the models only type
    them (the checks, and their messages, stay in the domain); scopes as this server's."""
    user_scopes = sorted(runtime.tokens.scopes_for(TokenKind.USER))
    key_scopes = sorted(runtime.tokens.scopes_for(TokenKind.ADMIN))
    rules: dict[tuple[str, str], dict[str, Any]] = {
        ("CreateTokenBody", "label"): _LABEL,
        ("CreateTokenBody", "expires_in_days"): _DAYS,
        ("CreateTokenBody", "scopes"): {"items": {"type": "string", "enum": user_scopes}},
        ("NewKeyBody", "label"): _LABEL,
        ("NewKeyBody", "expires_in_days"): _DAYS,
        ("NewKeyBody", "scopes"): {
            "minItems": 1,
            "items": {"type": "string", "enum": key_scopes},
        },
        ("NewUserBody", "password"): _NEW_PASSWORD,
        ("NewUserBody", "username"): {"pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"},
        ("NewUserBody", "email"): {
            "maxLength": EMAIL_MAX,
            "pattern": f"^[{WHITE_SPACE}]*{EMAIL_PATTERN}[{WHITE_SPACE}]*$",  # stripped first
        },
        ("ChangeBody", "new_password"): _NEW_PASSWORD,
        ("ResetBody", "new_password"): _NEW_PASSWORD,
        # Where it may point (public addresses, or the allowed networks) is the server's call.
        ("NewWebhookBody", "url"): {"maxLength": URL_MAX, "pattern": "^https?://[^/?#@]+"},
        ("NewWebhookBody", "events"): {
            "minItems": 1,
            "items": {"type": "string", "enum": sorted(NOTIFY_TYPES)},
        },
    }
    for (name, field), rule in rules.items():
        found = schemas.get(name, {}).get("properties", {}).get(field)
        if found is not None:
            branch = next((b for b in found.get("anyOf", []) if b.get("type") != "null"), found)
            branch.update(rule)


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the full document."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            schema["paths"] = {**_PLAIN_ROUTES, **schema.get("paths", {})}
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {}).update(_SCHEMES)
            _constrain(schema["components"].get("schemas", {}), app.state.runtime)
            policy = schema["paths"]["/v1/admin/policy"]["put"]["requestBody"]["content"]
            policy["application/json"]["schema"] = _POLICY
            app.openapi_schema = complete(schema, OAUTH_PATHS)
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
