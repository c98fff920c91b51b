"""Every API call as a value: method, path, query, body, and how to read the answer.

``Client`` and ``AsyncClient`` send these the same way, one blocking and one awaiting, so the
twins cannot drift apart: only the I/O differs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from tokenward import __version__
from tokenward.sdk import _models as models
from tokenward.sdk import _models_json as read
from tokenward.sdk._client_errors import TokenwardError, UnavailableError, error_for, redact

__all__ = [
    "ADMIN_SCOPES",
    "Call",
    "Page",
    "answer",
    "describe",
    "headers",
    "options",
    "request",
    "unreachable",
]

T = TypeVar("T")
Query = Mapping[str, str | int]
ADMIN_SCOPES = ("admin",)


def headers(token: str | None) -> dict[str, str]:
    """The headers of every request: the token goes here and nowhere else. ``None`` is no
    credential at all, for the endpoints anyone may call (``report_leaks``, ``policy``)."""
    if token == "":  # e.g. an environment variable set empty: fail here, not with a 401 later
        raise ValueError("the token is empty")
    anonymous = {"Accept": "application/json", "User-Agent": f"tokenward-sdk/{__version__}"}
    return anonymous if token is None else {"Authorization": f"Bearer {token}", **anonymous}


def options(
    base_url: str,
    token: str | None,
    timeout: float,
    transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None,
) -> dict[str, Any]:
    """The settings of the ``httpx`` client under ``Client`` and ``AsyncClient`` alike."""
    return {
        "base_url": base_url,
        "headers": headers(token),
        "timeout": timeout,
        "transport": transport,
    }


def describe(client: object, base_url: str) -> str:
    """The ``repr`` of a client: its class and server, never its token."""
    return f"{type(client).__name__}(base_url={redact(base_url)!r})"


def request(http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
    """The request ``call`` stands for, ready for ``http.send``."""
    return http.build_request(
        call.method, call.path, params=call.params, json=call.json, data=call.form
    )


def unreachable(error: httpx.TransportError) -> UnavailableError:
    """The error for a request that got no answer.

    Raise it outside the ``except`` block: the transport's exception carries the request and
    its headers, so it must be neither cause nor context.
    """
    return UnavailableError(f"cannot reach the tokenward server: {type(error).__name__}: {error}")


@dataclasses.dataclass(frozen=True)
class Call(Generic[T]):
    """One request, and ``read`` to turn its JSON answer into a value. The bodies stay out of
    ``repr``: they may hold a password or a token."""

    method: str
    path: str
    read: Callable[[Any], T]
    params: Query = dataclasses.field(default_factory=dict)
    json: Any = dataclasses.field(default=None, repr=False)
    form: Mapping[str, str] | None = dataclasses.field(default=None, repr=False)

    def following(self, params: Query) -> Call[T]:
        """The same call with ``params`` added: the request for the next page."""
        return dataclasses.replace(self, params={**self.params, **params})


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``next`` is the query of the following page, ``None`` at the end."""

    items: tuple[T, ...]
    next: Query | None


def answer(call: Call[T], response: httpx.Response) -> T:
    """The call's result, or the exception that its error answer stands for."""
    body = _json(response)
    if not response.is_success:
        retry_after = response.headers.get("retry-after")
        raise error_for(response.status_code, response.reason_phrase, body, retry_after)
    try:
        return call.read(body)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise TokenwardError(
            f"unexpected answer to {call.method} {call.path}: {type(error).__name__} {error}",
            status=response.status_code,
        ) from None


def _json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _path(template: str, *ids: str) -> str:
    return template.format(*(_segment(i) for i in ids))


def _segment(value: str) -> str:
    # An id is the caller's text: one path segment whatever it holds, so that "/", "?", "."
    # or ".." cannot make the request reach another route (RFC 3986 §5.2.4).
    if not value:
        raise ValueError("an id must not be empty")
    quoted = quote(value, safe="")
    return quoted.replace(".", "%2E") if quoted in (".", "..") else quoted


def _query(**values: str | int | bool | None) -> dict[str, str | int]:
    return {
        k: ("true" if v else "false") if isinstance(v, bool) else v
        for k, v in values.items()
        if v is not None
    }


def _wait(wait: bool) -> dict[str, str | int]:
    return _query(wait=True) if wait else {}


def _pages(
    read_item: Callable[[Any], T], following: str = "next_cursor", param: str = "cursor"
) -> Callable[[Any], Page[T]]:
    """A page reader: ``body[following]`` is sent back as ``param`` for the next page."""

    def page(body: Any) -> Page[T]:
        mark = body.get(following)
        items = tuple(read_item(item) for item in body["items"])
        return Page(items, None if mark is None else {param: mark})

    return page


def _nothing(_: Any) -> None:
    return None


# --- the caller's own credential and tokens ---------------------------------------------------


def whoami() -> Call[models.SelfInfo]:
    return Call("GET", "/v1/self", read.self_info)


def policy() -> Call[models.Policy]:
    return Call("GET", "/v1/policy", read.policy)


def create_token(
    label: str,
    expires_in_days: int | None,
    expires_at: datetime | None,
    never_expires: bool,
    scopes: Iterable[str],
) -> Call[models.CreatedToken]:
    body: dict[str, Any] = {"label": label, "scopes": list(scopes)}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    if expires_at is not None:
        body["expires_at"] = expires_at.isoformat()
    if never_expires:
        body["never_expires"] = True
    return Call("POST", "/v1/tokens", read.created_token, json=body)


def list_tokens(status: str | None, limit: int) -> Call[Page[models.TokenInfo]]:
    params = _query(status=status, limit=limit)
    return Call("GET", "/v1/tokens", _pages(read.token_info), params=params)


def get_token(token_id: str) -> Call[models.TokenInfo]:
    return Call("GET", _path("/v1/tokens/{}", token_id), read.token_info)


def revoke_token(token_id: str, wait: bool) -> Call[models.Revocation]:
    path = _path("/v1/tokens/{}", token_id)
    return Call("DELETE", path, read.revocation, params=_wait(wait))


def rotate_token(token_id: str, grace_seconds: int) -> Call[models.RotatedToken]:
    path = _path("/v1/tokens/{}/rotate", token_id)
    return Call("POST", path, read.rotated_token, json={"grace_seconds": grace_seconds})


# --- OAuth 2.0 (form-encoded, as RFC 7662 §2.1 and RFC 7009 §2.1 require) ---------------------


def introspect(token: str) -> Call[models.Introspection]:
    return Call("POST", "/v1/introspect", read.introspection, form={"token": token})


def revoke(token: str) -> Call[None]:
    return Call("POST", "/v1/revoke", _nothing, form={"token": token})


# --- anyone, even without a token --------------------------------------------------------------


def report_leaks(tokens: Sequence[str], source: str) -> Call[int]:
    # A lone string is a Sequence[str] too: sent as such it would report its characters.
    if isinstance(tokens, str):
        raise TypeError("tokens must be a sequence of strings, not one string")
    body = {"tokens": list(tokens), "source": source}
    return Call("POST", "/v1/leaks", _received, json=body)


def _received(body: Any) -> int:
    received = body["received"]
    if not isinstance(received, int):
        raise TypeError(f"received is {type(received).__name__}, not int")
    return received


# --- admin -------------------------------------------------------------------------------------


def create_user(
    username: str, password: str, is_admin: bool, email: str | None
) -> Call[models.User]:
    body = {"username": username, "password": password, "is_admin": is_admin, "email": email}
    return Call("POST", "/v1/admin/users", read.user, json=body)


def list_users() -> Call[Page[models.User]]:
    return Call("GET", "/v1/admin/users", _pages(read.user))


def deactivate_user(user_id: str, wait: bool) -> Call[models.Deactivation]:
    path = _path("/v1/admin/users/{}/deactivate", user_id)
    return Call("POST", path, read.deactivation, params=_wait(wait))


def reactivate_user(user_id: str) -> Call[models.User]:
    return Call("POST", _path("/v1/admin/users/{}/reactivate", user_id), read.user)


def list_all_tokens(
    user: str | None, status: str | None, kind: str | None, limit: int
) -> Call[Page[models.TokenInfo]]:
    params = _query(user=user, status=status, kind=kind, limit=limit)
    return Call("GET", "/v1/admin/tokens", _pages(read.token_info), params=params)


def revoke_any_token(token_id: str, wait: bool) -> Call[models.Revocation]:
    path = _path("/v1/admin/tokens/{}", token_id)
    return Call("DELETE", path, read.revocation, params=_wait(wait))


def create_admin_key(
    label: str, expires_in_days: int | None, scopes: Iterable[str]
) -> Call[models.CreatedToken]:
    body: dict[str, Any] = {"label": label, "scopes": list(scopes)}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    return Call("POST", "/v1/admin/keys", read.created_token, json=body)


def list_admin_keys(status: str | None, limit: int) -> Call[Page[models.TokenInfo]]:
    params = _query(status=status, limit=limit)
    return Call("GET", "/v1/admin/keys", _pages(read.token_info), params=params)


def revoke_admin_key(key_id: str, wait: bool) -> Call[models.Revocation]:
    path = _path("/v1/admin/keys/{}", key_id)
    return Call("DELETE", path, read.revocation, params=_wait(wait))


def get_policy() -> Call[models.LifetimePolicy]:
    return Call("GET", "/v1/admin/policy", read.lifetime_policy)


def put_policy(
    document: models.LifetimePolicy | Mapping[str, Any],
) -> Call[models.LifetimePolicy]:
    body = document.to_document() if isinstance(document, models.LifetimePolicy) else dict(document)
    return Call("PUT", "/v1/admin/policy", read.lifetime_policy, json=body)


def create_webhook(url: str, events: Iterable[str]) -> Call[models.CreatedWebhook]:
    body = {"url": url, "events": list(events)}
    return Call("POST", "/v1/admin/webhooks", read.created_webhook, json=body)


def list_webhooks() -> Call[Page[models.Webhook]]:
    return Call("GET", "/v1/admin/webhooks", _pages(read.webhook))


def delete_webhook(webhook_id: str) -> Call[None]:
    return Call("DELETE", _path("/v1/admin/webhooks/{}", webhook_id), _nothing)


def webhook_deliveries(webhook_id: str, limit: int) -> Call[Page[models.WebhookDelivery]]:
    path = _path("/v1/admin/webhooks/{}/deliveries", webhook_id)
    return Call("GET", path, _pages(read.webhook_delivery), params=_query(limit=limit))


def audit(
    after: int, type: str | None, subject: str | None, actor: str | None, limit: int
) -> Call[Page[models.AuditEvent]]:
    params = _query(after=after, type=type, subject=subject, actor=actor, limit=limit)
    page = _pages(read.audit_event, "next_after", "after")  # a seq, not an opaque cursor
    return Call("GET", "/v1/admin/audit", page, params=params)
