"""The two OAuth 2.0 endpoints, as plain ASGI on the hot path: RFC 7662 introspection and
RFC 7009 revocation. Both take ``application/x-www-form-urlencoded`` bodies and answer
``Cache-Control: no-store``; both verify through the one
:class:`~tokenward.service.authentication.Authenticator`, so a store that does not answer
is ``503`` with ``Retry-After`` here as everywhere.

Their callers authenticate as OAuth clients do (RFC 6749 §2.3): with a Bearer header, or with
client credentials (``client_secret_basic``, ``client_secret_post``: the admin key's id and the
key). The authentication middleware leaves these paths to them (the form may carry the
credentials), and every refusal here is RFC 6749 §5.2 JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import Receive, Scope, Send

from tokenward.domain.answers import REALM, Answer, oauth_error, problem
from tokenward.domain.credentials import ClientSecret
from tokenward.domain.errors import InvalidToken, TokenwardError
from tokenward.domain.introspection import INACTIVE, active_response
from tokenward.domain.model import Actor, Principal
from tokenward.domain.scopes import INTROSPECT
from tokenward.http.auth import COOKIE_NAME, SESSION_COOKIE, principal_of
from tokenward.service.authentication import Authenticator, Presented, require
from tokenward.service.tokens import TokenService

__all__ = ["PATHS", "FormRefused", "introspection", "revocation"]

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
Form = dict[str, list[str]]
PATHS = frozenset({"/v1/introspect", "/v1/revoke"})
# Room for the parameters clients add that these endpoints ignore (resource, audience, a
# client_assertion JWT…): bounded by bytes, and by a field count far above any real request.
MAX_BODY = 16 * 1024
MAX_FIELDS = 64
_FORM = b"application/x-www-form-urlencoded"
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]


class FormRefused(TokenwardError):
    """A request body these endpoints cannot read: ``400 invalid_request``."""

    def answer(self, realm: str = REALM) -> Answer:
        return problem(400, "Invalid request", str(self), slug="invalid-request")


def introspection(authenticator: Authenticator) -> Handler:
    """``POST /v1/introspect`` (RFC 7662) for callers holding scope ``introspect``."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            caller, form = await _request(authenticator, scope, receive)
            require(caller, INTROSPECT)  # RFC 7662 §2.1: the endpoint requires authorization
            answer = await _introspect(authenticator, _token(form))
        except TokenwardError as refusal:
            await oauth_error(refusal.answer()).send(send)
            return
        await _json(send, 200, answer)

    return endpoint


async def _introspect(authenticator: Authenticator, token: str) -> dict[str, Any]:
    try:
        return active_response(await authenticator.verify(token))
    except InvalidToken:
        return INACTIVE


def revocation(tokens: TokenService, authenticator: Authenticator) -> Handler:
    """``POST /v1/revoke`` (RFC 7009): whoever holds a token may revoke it, with or without
    client authentication; credentials that are presented must be right, or nothing changes.
    The answer is 200 whether or not the token existed (§2.2), so it reveals nothing."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        by = Actor("rfc7009", client[0] if client else None, _user_agent(scope))
        try:
            _, form = await _request(authenticator, scope, receive)
            token = _token(form)
            await authenticator.in_thread(lambda value: tokens.revoke_presented(value, by), token)
        except TokenwardError as refusal:
            await oauth_error(refusal.answer()).send(send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS[1:]})
        await send({"type": "http.response.body", "body": b""})

    return endpoint


async def _request(
    authenticator: Authenticator, scope: Scope, receive: Receive
) -> tuple[Principal | None, Form]:
    """The caller and the form. An unreadable form is refused only once the caller is known,
    so bad credentials are 401 whatever the body (a dead credential is 401 as everywhere)."""
    read = await _form(scope, receive)
    posted = None if isinstance(read, FormRefused) else _posted(read)
    principal = principal_of(scope)  # the middleware's cache hit on a Bearer header
    if principal is None or posted is not None:
        presented = Presented.of(scope, scope.get(COOKIE_NAME, SESSION_COOKIE))
        principal = await authenticator.authenticate_client(presented, posted)
    if isinstance(read, FormRefused):
        raise read
    return principal, read


def _posted(form: Form) -> ClientSecret | None:
    """``client_secret_post`` credentials (RFC 6749 §2.3.1). A ``client_id`` alone is a client
    that does not authenticate (``none``): no credential at all."""
    secret = _single(form, "client_secret")
    if secret is None:
        return None
    client_id = _single(form, "client_id")
    if client_id is None:
        raise FormRefused("'client_secret' needs a 'client_id'")
    return ClientSecret(client_id, secret, basic=False)


def _token(form: Form) -> str:
    token = _single(form, "token")
    if not token:
        raise FormRefused("exactly one 'token' parameter is required")
    return token


def _single(form: Form, name: str) -> str | None:
    """A parameter's value; RFC 6749 §3.1: none may be sent more than once."""
    values = form.get(name, [])
    if len(values) > 1:
        raise FormRefused(f"exactly one '{name}' parameter is required")
    return values[0] if values else None


async def _form(scope: Scope, receive: Receive) -> Form | FormRefused:
    """The form's parameters (unknown ones are ignored, RFC 6749 §3.1), or why not."""
    try:
        return await _read_form(scope, receive)
    except FormRefused as refused:
        return refused


async def _read_form(scope: Scope, receive: Receive) -> Form:
    if _header(scope, b"content-type").split(b";")[0].strip().lower() != _FORM:
        raise FormRefused("the body must be application/x-www-form-urlencoded")
    body = await _body(receive)
    if body is None:
        raise FormRefused(f"the body is too large (at most {MAX_BODY} bytes)")
    try:
        return parse_qs(body.decode("ascii"), max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise FormRefused("the body is not a valid form") from None


async def _body(receive: Receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _json(send: Send, status: int, body: dict[str, Any]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": orjson.dumps(body)})


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope["headers"] if key == name), b"")


def _user_agent(scope: Scope) -> str | None:
    agent = _header(scope, b"user-agent")
    return agent.decode("latin-1")[:256] if agent else None
