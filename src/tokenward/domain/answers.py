"""HTTP answers as plain data: a status, headers and a body, with no framework attached.

Every refusal tokenward gives (the server's routes, its FastAPI handlers, the SDK's ASGI and WSGI
middlewares) is built here once and rendered by each caller in its own framework: RFC 9457
``application/problem+json`` bodies, RFC 6750 ``WWW-Authenticate`` challenges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

from tokenward.domain.bearer import challenge, invalid_token_description

__all__ = [
    "REALM",
    "Answer",
    "authentication_required",
    "insufficient_scope",
    "invalid_request",
    "invalid_token",
    "metadata_answer",
    "oauth_error",
    "problem",
    "too_many",
    "too_many_streams",
    "unavailable",
    "unprocessable",
    "with_header",
    "with_resource_metadata",
]

REALM = "tokenward"  # the server's realm; a resource server names its own
# A secret pasted where a value belongs (a scope, an id) must not come back in an error: error
# bodies reach logs and proxies more often than successes do (P5).
# ``(?:_…)*``: the next token glued on (``<token><token>``) goes with it, not its body alone.
_TOKEN_SHAPE = re.compile(rb"tw[a-z]_[0-9A-Za-z]{20,}(?:_[0-9A-Za-z]+)*")
_NO_STORE = ("cache-control", "no-store")
_PROBLEM_JSON = ("content-type", "application/problem+json")

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]


class Answer(NamedTuple):
    """A complete HTTP answer: what every framework needs to send it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (lower case), if the answer has it."""
        return next((value for key, value in self.headers if key == name), None)

    async def send(self, send: Send) -> None:
        """Send this answer through an ASGI ``send``."""
        raw = [(key.encode("latin-1"), value.encode("latin-1")) for key, value in self.headers]
        # Framed by its length, as every other answer is: without it the server falls back to
        # chunked encoding, which simple clients (and keep-alive checkers) cannot read.
        raw.append((b"content-length", str(len(self.body)).encode()))
        await send({"type": "http.response.start", "status": self.status, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
    **extra: Any,
) -> Answer:
    """An ``application/problem+json`` answer (RFC 9457 §3); header names in lower case."""
    body = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Answer(status, (_PROBLEM_JSON, *headers), _TOKEN_SHAPE.sub(b"[redacted]", encoded))


def authentication_required(realm: str, title: str, detail: str, slug: str) -> Answer:
    """401 with a bare challenge (RFC 6750 §3.1: no error code when no credential was sent,
    or when the credential was not a Bearer one)."""
    headers = (("www-authenticate", challenge(realm)), _NO_STORE)
    return problem(401, title, detail, slug=slug, headers=headers)


def invalid_request(reason: str, realm: str = REALM) -> Answer:
    """400 ``invalid_request`` (RFC 6750 §3.1). ``reason`` never contains presented bytes."""
    return _bearer_error(400, "Invalid request", "invalid_request", reason, realm)


def invalid_token(reason: str | None, realm: str = REALM) -> Answer:
    """401 ``invalid_token``. Unknown, malformed, expired and revoked tokens get the same status,
    headers and body shape; only a caller holding a real secret learns why (``reason``), so the
    answer is no oracle for which token values exist."""
    description = invalid_token_description(reason)
    return _bearer_error(401, "Invalid token", "invalid_token", description, realm)


def insufficient_scope(scope: str, realm: str = REALM) -> Answer:
    """403 ``insufficient_scope`` naming the scope needed (RFC 6750 §3.1)."""
    detail = f"This request needs the scope '{scope}'."
    return _bearer_error(403, "Insufficient scope", "insufficient_scope", detail, realm, scope)


def _bearer_error(
    status: int, title: str, error: str, detail: str, realm: str, scope: str | None = None
) -> Answer:
    """A problem carrying an RFC 6750 error code in its body and its challenge alike."""
    extra = {"error": error} if scope is None else {"error": error, "scope": scope}
    return problem(
        status,
        title,
        detail,
        slug=error.replace("_", "-"),
        headers=(("www-authenticate", challenge(realm, error, detail, scope)), _NO_STORE),
        **extra,
    )


def unprocessable(errors: list[dict[str, str]]) -> Answer:
    """422 naming every field that breaks a rule (``field`` and ``message`` each); the
    values themselves are never echoed."""
    fields = ", ".join(e["field"] for e in errors)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, f"Invalid {fields}", detail, slug="invalid-input", errors=errors)


def too_many(retry_after: int, detail: str = "Wait before trying again.") -> Answer:
    """429 with ``Retry-After``."""
    headers = (("retry-after", str(retry_after)), _NO_STORE)
    return problem(429, "Too many failed attempts", detail, slug="rate-limited", headers=headers)


def too_many_streams(limit: int) -> Answer:
    """429 for a credential that already holds ``limit`` event streams on this node."""
    headers = (("retry-after", "5"), _NO_STORE)
    detail = f"This credential already holds {limit} event streams on this node; close one."
    return problem(429, "Too many event streams", detail, slug="rate-limited", headers=headers)


def unavailable() -> Answer:
    """503 with ``Retry-After``: validity cannot be proven, so nothing is vouched for (fail
    closed)."""
    return problem(
        503,
        "Service unavailable",
        "Tokens cannot be verified right now; try again shortly.",
        slug="store-unavailable",
        headers=(("retry-after", "1"), _NO_STORE),
    )


# RFC 6749 §5.2 error codes for answers whose problem names none (§4.1.2.1 adds the last two).
_OAUTH_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    405: "invalid_request",
    429: "temporarily_unavailable",
    431: "invalid_request",
    503: "temporarily_unavailable",
}


def oauth_error(answer: Answer) -> Answer:
    """``answer`` (a problem) as the OAuth endpoints must send it: an ``application/json``
    body with RFC 6749 §5.2's ``error`` and ``error_description`` beside the problem's own
    members, and never cached (§5.1). Status and other headers are kept."""
    body = json.loads(answer.body)
    body.setdefault("error", _OAUTH_ERRORS.get(answer.status, "server_error"))
    body["error_description"] = body["detail"]
    kept = tuple(h for h in answer.headers if h[0] not in {"content-type", "cache-control"})
    headers = (("content-type", "application/json"), _NO_STORE, ("pragma", "no-cache"), *kept)
    encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Answer(answer.status, headers, encoded)


def with_resource_metadata(answer: Answer, url: str) -> Answer:
    """``answer`` with ``resource_metadata="<url>"`` in its Bearer challenge (RFC 9728 §5.1),
    so a client learns where the API's metadata document is."""
    headers = tuple(
        (name, f'{value}, resource_metadata="{url}"')
        if name == "www-authenticate" and value.startswith("Bearer ")
        else (name, value)
        for name, value in answer.headers
    )
    return answer._replace(headers=headers)


def metadata_answer(document: dict[str, Any]) -> Answer:
    """A discovery document (RFC 8414, RFC 9728): JSON, anonymous, cacheable for an hour."""
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = (("content-type", "application/json"), ("cache-control", "max-age=3600"))
    return Answer(200, headers, body)


def with_header(send: Send, header: tuple[bytes, bytes]) -> Send:
    """An ASGI ``send`` adding ``header`` to the response start. A plain function returning
    ``send``'s awaitable: no extra coroutine per message (it runs on every hot-path answer)."""

    def sending(message: Message) -> Awaitable[None]:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), header]
        return send(message)

    return sending
